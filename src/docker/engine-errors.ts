// Docker Engine errors a user can cause, turned into UserErrors that say what happened and what
// to do: no permission on the socket, no engine, no space left, a missing or unreadable build
// file, an invalid image reference, an image that is not there, a registry refusing access, a
// context file pallet cannot read. Pure (one table of rules, tested table-style); the entry
// points' failure report and the engine check call it, so an Engine error never ends as
// "unexpected error" with a stack trace. Anything it does not recognise stays a defect.
//
// Error shapes handled (sources: docker-modem, Node's net/fs errors, the Engine's JSON stream):
//   docker-modem: Error `(HTTP code 404) no such image - No such image: x:y ` with statusCode,
//     reason and json ({message}) properties;
//   a socket connect failure: Error with code (EACCES, ENOENT, ECONNREFUSED), syscall 'connect'
//     and address (the socket path or host);
//   a build or pull stream's {error} text, given as a string or an Error with that message.
import { REGISTRY_CREDENTIALS } from './registry-hint.js';
import { UserError } from '../errors.js';

/** What went wrong, for tests and the summary: one id per rule. */
export type EngineErrorKind =
  | 'socket-permission'
  | 'no-engine'
  | 'no-space'
  | 'build-file'
  | 'context-unreadable'
  | 'invalid-reference'
  | 'registry-denied'
  | 'image-missing';

export interface EngineErrorInfo {
  kind: EngineErrorKind;
  message: string;
  hint: string;
}

interface ErrorFacts {
  /** The engine's own words (json.message, or the message without docker-modem's prefix). */
  detail: string;
  code?: string;
  syscall?: string;
  address?: string;
  path?: string;
  statusCode?: number;
}

interface Rule {
  kind: EngineErrorKind;
  matches: (f: ErrorFacts) => boolean;
  message: (f: ErrorFacts) => string;
  hint: string;
}

const BUILD_FIRST = 'build it first (pallet build, or pallet ci to build, test and push; in a workflow, command build or ci) with the same tag, or check the image name and tag';

const text = (re: RegExp) => (f: ErrorFacts) => re.test(f.detail);
const connectFailed = (codes: string[]) => (f: ErrorFacts) => f.syscall === 'connect' && !!f.code && codes.includes(f.code);

/** The rules, first match wins. */
export const ENGINE_ERROR_RULES: readonly Rule[] = [
  {
    kind: 'socket-permission',
    matches: (f) => connectFailed(['EACCES', 'EPERM'])(f) || /permission denied while trying to connect to the docker daemon/i.test(f.detail),
    message: (f) => `permission denied on the Docker socket${f.address ? ` ${f.address}` : ''}: this user may not use the Docker Engine`,
    hint: 'add the user running pallet to the docker group (sudo usermod -aG docker "$USER", then log in again), or set DOCKER_HOST to an engine this user may use',
  },
  {
    kind: 'no-engine',
    matches: connectFailed(['ENOENT', 'ECONNREFUSED', 'EHOSTUNREACH', 'ETIMEDOUT']),
    message: (f) => `no Docker Engine answers (${f.detail})`,
    hint: 'start Docker (dockerd) or set DOCKER_HOST; on GitHub ubuntu runners it is already running',
  },
  {
    kind: 'no-space',
    matches: (f) => f.code === 'ENOSPC' || /no space left on device/i.test(f.detail),
    message: (f) => `the Docker Engine ran out of disk space: ${f.detail}`,
    hint: 'free space on the engine\'s disk: docker system prune removes stopped containers, unused images and build cache (docker system df shows what uses it)',
  },
  {
    kind: 'build-file',
    matches: text(/cannot locate specified dockerfile|failed to read dockerfile|the dockerfile \(.*\) cannot be empty|dockerfile cannot be empty|unable to prepare context|error reading dockerfile|dockerfile parse error/i),
    message: (f) => `the Docker Engine could not read the build file: ${f.detail}`,
    hint: 'check build.dockerfile (a path relative to build.context; default Dockerfile) names a readable file inside the context',
  },
  {
    kind: 'context-unreadable',
    matches: (f) => (f.code === 'EACCES' || f.code === 'EPERM' || f.code === 'ELOOP') && f.syscall !== 'connect' && !!f.path,
    message: (f) => f.code === 'ELOOP'
      ? `cannot read ${f.path}: a symlink loop (too many levels of symbolic links)`
      : `cannot read ${f.path}: permission denied`,
    hint: 'make the file readable by the user running pallet (or fix the link), or exclude it from the build context in .dockerignore',
  },
  {
    kind: 'invalid-reference',
    matches: text(/invalid reference format|repository name must be lowercase|invalid repository name|invalid tag format|invalid tag/i),
    message: (f) => `invalid image reference: ${f.detail}`,
    hint: 'image in pallet.yml is a lowercase repository without a tag (e.g. registry.example.com/team/app); tags are letters, digits, _ . - (at most 128)',
  },
  {
    kind: 'registry-denied',
    matches: text(/pull access denied|unauthorized|authentication required|denied: requested access|no basic auth credentials|insufficient_scope/i),
    message: (f) => `the registry refused access: ${f.detail}`,
    hint: `give registry credentials that may pull (and push) this image: ${REGISTRY_CREDENTIALS}`,
  },
  {
    kind: 'image-missing',
    matches: (f) => /no such image|manifest unknown|manifest for .* not found|not found: manifest|repository .* not found|reference does not exist/i.test(f.detail)
      || (f.statusCode === 404 && /image/i.test(f.detail)),
    message: (f) => `image not found: ${f.detail}`,
    hint: BUILD_FIRST,
  },
];

/** The facts of an error value (Error, docker-modem error, or stream text). */
export function errorFacts(e: unknown): ErrorFacts {
  if (typeof e === 'string') return { detail: e.trim() };
  const err = (e ?? {}) as Partial<NodeJS.ErrnoException> & { statusCode?: number; json?: { message?: string } | null; address?: string };
  const raw = typeof err.json?.message === 'string' ? err.json.message : String(err.message ?? e);
  return {
    detail: raw.replace(/^\(HTTP code \d+\) [^-]*- /, '').trim(),
    code: typeof err.code === 'string' ? err.code : undefined,
    syscall: err.syscall,
    address: err.address,
    path: err.path,
    statusCode: typeof err.statusCode === 'number' ? err.statusCode : undefined,
  };
}

/** Which rule an error meets, with its message and hint; undefined when none does. */
export function classifyEngineError(e: unknown): EngineErrorInfo | undefined {
  const facts = errorFacts(e);
  const rule = ENGINE_ERROR_RULES.find((r) => r.matches(facts));
  return rule && { kind: rule.kind, message: rule.message(facts), hint: rule.hint };
}

/**
 * A UserError for an Engine error the user can fix (see ENGINE_ERROR_RULES), else undefined.
 * A UserError given in is returned as is. `doing` prefixes the message ("docker build app:v1").
 */
export function engineUserError(e: unknown, doing?: string): UserError | undefined {
  if (e instanceof UserError) return e;
  const info = classifyEngineError(e);
  if (!info) return undefined;
  const err = new UserError(doing ? `${doing}: ${info.message}` : info.message, info.hint);
  if (e instanceof Error) err.cause = e;
  return err;
}
