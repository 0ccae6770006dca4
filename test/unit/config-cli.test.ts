// End to end through the real `pallet` CLI (no Docker needed): a bad pallet.yml fails with exit
// code 1 and the file:line:col message, before anything touches Docker. DOCKER_HOST points at a
// socket that does not exist, so any Docker call would fail with a different, engine error; the
// control case shows that error is what a Docker call produces with this environment.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import os from 'node:os';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const TSX = path.join(ROOT, 'node_modules/.bin/tsx');
const NO_DOCKER = `unix://${path.join(os.tmpdir(), `pallet-no-docker-${process.pid}.sock`)}`;

function run(args: string[], extraEnv: NodeJS.ProcessEnv = {}) {
  const env = { ...process.env, DOCKER_HOST: NO_DOCKER, GITHUB_ACTIONS: '', PALLET_ENTRY: '', ...extraEnv };
  const r = spawnSync(TSX, args, { cwd: ROOT, env, encoding: 'utf8', timeout: 60_000 });
  if (r.error) throw r.error;
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('control: with this DOCKER_HOST a Docker call fails with an engine error', () => {
  const script = "import { ensureEngine } from './src/docker/client.ts'; ensureEngine().then(() => console.log('ENGINE OK'), (e) => { console.log(e.message); process.exit(3); });";
  const r = run(['-e', script]);
  expect(r.code).toBe(3);
  expect(r.stdout).toMatch(/no Docker Engine answers \(connect ENOENT .*pallet-no-docker-/);
}, 60_000);

test('control: a valid config does reach Docker (and fails there) under the same environment', () => {
  const r = run(['src/cli.ts', 'build', '--config', 'test/fixtures/config/good/minimal/pallet.yml']);
  expect(r.code).toBe(1);
  expect(r.stderr).toMatch(/no Docker Engine answers \(connect ENOENT .*pallet-no-docker-/);
}, 60_000);

test.each([
  ['build', 'test/fixtures/config/bad/image-with-tag.yml',
    "error: test/fixtures/config/bad/image-with-tag.yml:3:1 image: must not include a tag (':latest'); the tag comes from the 'tag' input"],
  ['ci', 'test/fixtures/config/bad/unknown-nested-key-build.yml',
    "error: test/fixtures/config/bad/unknown-nested-key-build.yml:5:3 build.dockerfiel: unknown key; did you mean 'dockerfile'?"],
  ['deploy', 'test/fixtures/config/bad/host-command-substitution.yml',
    "error: test/fixtures/config/bad/host-command-substitution.yml:7:15 deploy.roles.web.hosts[0]: invalid host '$(reboot)': must not contain the shell character '$'; expected [user@]host[:port]"],
])('pallet %s --config %s exits 1 with the position, never reaching Docker', (command, config, want) => {
  const r = run(['src/cli.ts', command, '--config', config]);
  expect(r.code).toBe(1);
  const lines = r.stderr.split('\n');
  expect(lines[0]).toBe(want);
  expect(lines[1]).toBe('  hint: see docs/pallet-yml.md for every key, its type and default');
  expect(r.stderr + r.stdout).not.toMatch(/Docker Engine|ENOENT|unexpected error/);
}, 60_000);

test('several problems: every one on its own line, exit 1', () => {
  const r = run(['src/cli.ts', 'test', '--config', 'test/fixtures/config/bad/several-errors-reported-together.yml']);
  expect(r.code).toBe(1);
  expect(r.stderr.split('\n').slice(0, 3)).toEqual([
    'error: test/fixtures/config/bad/several-errors-reported-together.yml:4:1 app: must match [a-z0-9][a-z0-9_.-]*',
    "test/fixtures/config/bad/several-errors-reported-together.yml:5:1 image: must not include a tag (':v1'); the tag comes from the 'tag' input",
    'test/fixtures/config/bad/several-errors-reported-together.yml:7:3 test.shards: must be >= 1',
  ]);
}, 60_000);

test('a bad --image flag is named as the flag, also before Docker', () => {
  const r = run(['src/cli.ts', 'build', '--config', 'test/fixtures/config/good/minimal/pallet.yml', '--image', 'team/shop:v2']);
  expect(r.code).toBe(1);
  // The CLI dispatch does not pass `where: 'flag'` yet, so the input's name is used.
  expect(r.stderr).toMatch(/^error: (input 'image'|--image): must not include a tag \(':v2'\)/);
  expect(r.stderr + r.stdout).not.toMatch(/Docker Engine|ENOENT/);
}, 60_000);

test('pallet --version and -V print the version of package.json', () => {
  const want = `pallet ${JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')).version}\n`;
  for (const flag of ['--version', '-V']) {
    const r = run(['src/cli.ts', flag]);
    expect({ code: r.code, stdout: r.stdout, stderr: r.stderr }).toEqual({ code: 0, stdout: want, stderr: '' });
  }
}, 60_000);

test.each([
  [['help', 'build'], /^usage: pallet build .*\n[\s\S]*Dockerfile[\s\S]*\n {2}--cache +/],
  [['push', '--help'], /^usage: pallet push [\s\S]*run 'pallet build' first[\s\S]*--extra-tags/],
  [['help', 'run'], /^usage: pallet run .* -- COMMAND/],
])('pallet %j explains one command, exit 0', (args, want) => {
  const r = run(['src/cli.ts', ...args]);
  expect(r.code).toBe(0);
  expect(r.stdout).toMatch(want);
  // Only the command's own flags: build reads no ssh key.
  if (args.includes('build')) expect(r.stdout).not.toMatch(/ssh-known-hosts|PALLET_SSH_PRIVATE_KEY/);
}, 60_000);

test('pallet help NOPE: exit 2 naming the command and where the list is', () => {
  const r = run(['src/cli.ts', 'help', 'deploi']);
  expect(r.code).toBe(2);
  expect(r.stderr).toMatch(/^error: unknown command 'deploi': expected one of build, .*\n {2}hint: 'pallet help' lists them/);
}, 60_000);

test('a build in a directory without a Dockerfile: refused at load, pointing at the mapping that would hold build.dockerfile, before Docker', () => {
  const r = run(['src/cli.ts', 'build', '--config', 'test/fixtures/config/bad/no-build-section/pallet.yml']);
  expect(r.code).toBe(1);
  expect(r.stderr.split('\n')[0]).toBe("error: test/fixtures/config/bad/no-build-section/pallet.yml:1:1 build.dockerfile: no Dockerfile: 'test/fixtures/config/bad/no-build-section/Dockerfile' not found in the build context 'test/fixtures/config/bad/no-build-section'; add a Dockerfile there, or set build.dockerfile to the one to use");
  expect(r.stderr + r.stdout).not.toMatch(/Docker Engine|ENOENT|unexpected error|\n\s+at /);
}, 60_000);
