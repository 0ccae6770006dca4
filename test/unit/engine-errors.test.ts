// Engine errors a user can cause become UserErrors with a hint; everything else stays a defect.
// The inputs are the shapes docker-modem, Node and the Engine's streams really produce (messages
// copied from Engine 20.10 answers).
import { classifyEngineError, engineUserError, errorFacts, type EngineErrorKind } from '../../src/docker/engine-errors.js';
import { UserError } from '../../src/errors.js';

/** A docker-modem HTTP error: message `(HTTP code N) reason - json.message `, with statusCode and json. */
function modemError(statusCode: number, reason: string, message: string): Error {
  const e = new Error(`(HTTP code ${statusCode}) ${reason} - ${message} `) as Error & Record<string, unknown>;
  e.statusCode = statusCode;
  e.reason = reason;
  e.json = { message };
  return e;
}

/** A failed connect to a socket, as Node's net module reports it. */
function connectError(code: string, address: string): Error {
  const e = new Error(`connect ${code} ${address}`) as NodeJS.ErrnoException & { address: string };
  e.code = code;
  e.syscall = 'connect';
  e.address = address;
  return e;
}

function fsError(code: string, syscall: string, p: string): Error {
  const e = new Error(`${code}: error, ${syscall} '${p}'`) as NodeJS.ErrnoException;
  e.code = code;
  e.syscall = syscall;
  e.path = p;
  return e;
}

const CASES: [string, unknown, EngineErrorKind, RegExp, RegExp][] = [
  ['socket permission denied', connectError('EACCES', '/var/run/docker.sock'), 'socket-permission',
    /^permission denied on the Docker socket \/var\/run\/docker\.sock/, /docker group/],
  ['socket permission (CLI wording in a stream)', 'Got permission denied while trying to connect to the Docker daemon socket at unix:///var/run/docker.sock', 'socket-permission',
    /^permission denied on the Docker socket/, /docker group/],
  ['no engine on the socket', connectError('ENOENT', '/var/run/docker.sock'), 'no-engine',
    /^no Docker Engine answers \(connect ENOENT \/var\/run\/docker\.sock\)$/, /start Docker/],
  ['engine refused on tcp', connectError('ECONNREFUSED', '127.0.0.1:2375'), 'no-engine', /no Docker Engine answers/, /DOCKER_HOST/],
  ['no space in a build step', 'failed to copy files: copy file range failed: no space left on device', 'no-space',
    /^the Docker Engine ran out of disk space: failed to copy files/, /docker system prune/],
  ['no space writing a layer', modemError(500, 'server error', 'write /var/lib/docker/tmp/x: no space left on device'), 'no-space', /ran out of disk space/, /prune/],
  ['missing Dockerfile', modemError(500, 'server error', 'Cannot locate specified Dockerfile: Dockerfile'), 'build-file',
    /^the Docker Engine could not read the build file: Cannot locate specified Dockerfile: Dockerfile$/, /build\.dockerfile/],
  ['empty Dockerfile', modemError(500, 'server error', 'The Dockerfile (/var/lib/docker/tmp/docker-builder1/Dockerfile) cannot be empty'), 'build-file', /build file/, /build\.dockerfile/],
  ['BuildKit cannot read the Dockerfile', 'failed to solve with frontend dockerfile.v0: failed to read dockerfile: open /var/lib/docker/tmp/buildkit-mount/Dockerfile: no such file or directory', 'build-file', /build file/, /build\.dockerfile/],
  ['unreadable file while packing the context', fsError('EACCES', 'open', '/src/app/secret.txt'), 'context-unreadable',
    /^cannot read \/src\/app\/secret\.txt: permission denied$/, /\.dockerignore/],
  ['symlink loop while packing the context', fsError('ELOOP', 'stat', '/src/app/loop'), 'context-unreadable', /symlink loop/, /fix the link/],
  ['invalid reference', modemError(400, 'bad parameter', 'invalid reference format: repository name must be lowercase'), 'invalid-reference',
    /^invalid image reference: invalid reference format/, /lowercase repository/],
  ['invalid tag', modemError(400, 'bad parameter', 'invalid tag format'), 'invalid-reference', /invalid image reference/, /tags are/],
  ['pull access denied', modemError(404, 'no such image', 'pull access denied for team/app, repository does not exist or may require \'docker login\''), 'registry-denied',
    /^the registry refused access: pull access denied/, /registry-username/],
  ['registry 401', modemError(500, 'server error', 'Head "http://127.0.0.1:5000/v2/app/manifests/cache-main": unauthorized: authentication required'), 'registry-denied', /refused access/, /credentials/],
  ['no such image (inspect)', modemError(404, 'no such image', 'No such image: 127.0.0.1:5000/app:build-7'), 'image-missing',
    /^image not found: No such image: 127\.0\.0\.1:5000\/app:build-7$/, /pallet build/],
  ['manifest unknown (pull)', modemError(404, 'not found', 'manifest for 127.0.0.1:5000/app:build-7 not found: manifest unknown: manifest unknown'), 'image-missing', /image not found/, /pallet ci/],
];

test.each(CASES)('%s', (_name, input, kind, message, hint) => {
  const info = classifyEngineError(input);
  expect(info?.kind).toBe(kind);
  expect(info?.message).toMatch(message);
  expect(info?.hint).toMatch(hint);
});

test.each([
  ['a plain bug', new TypeError("Cannot read properties of undefined (reading 'Id')")],
  ['an engine 500 nobody can act on', modemError(500, 'server error', 'container 1a2b is not running')],
  ['a conflict', modemError(409, 'conflict', 'Conflict. The container name "/x" is already in use')],
  ['a timeout in pallet\'s own wait', new Error('no output from the engine for 300 s')],
])('not a user error: %s', (_name, input) => {
  expect(classifyEngineError(input)).toBeUndefined();
  expect(engineUserError(input)).toBeUndefined();
});

test('docker-modem\'s prefix is dropped, json.message preferred', () => {
  expect(errorFacts(modemError(404, 'no such image', 'No such image: x:y')).detail).toBe('No such image: x:y');
  const bare = new Error('(HTTP code 500) server error - boom ');
  expect(errorFacts(bare).detail).toBe('boom');
});

test('engineUserError: a UserError passes through; an Engine error keeps its cause and gets the prefix', () => {
  const u = new UserError('already clear', 'hint');
  expect(engineUserError(u)).toBe(u);
  const cause = modemError(500, 'server error', 'Cannot locate specified Dockerfile: Dockerfile');
  const e = engineUserError(cause, 'docker build shop:build-local')!;
  expect(e).toBeInstanceOf(UserError);
  expect(e.message).toBe('docker build shop:build-local: the Docker Engine could not read the build file: Cannot locate specified Dockerfile: Dockerfile');
  expect(e.cause).toBe(cause);
});
