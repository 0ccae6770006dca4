// `pallet help`: the flag lines come from INPUT_SPECS, but say what the CLI does where it differs
// from the action (a secret's environment variable and file flag; the key's handling on this machine).
import { commandHelp, flagLine } from '../../src/cli-help.js';
import { usage } from '../../src/cli-run.js';
import { INPUT_SPECS } from '../../src/inputs.js';

const spec = (name: string) => INPUT_SPECS.find((s) => s.name === name)!;

test.each<[string, string]>([
  ['ssh-private-key', '  PALLET_SSH_PRIVATE_KEY         (env) Private key for the deploy user (masked). Written 0600 into a per-run 0700 directory under $TMPDIR (beside the ssh connection sockets) and removed when the command ends, Ctrl-C included; with a passphrase it goes into a per-run ssh-agent and the file is removed at once. Without it, ssh uses your agent and default keys (enough for status, logs, exec, lock and proxy; deploy and rollback need it). Or --ssh-private-key-file PATH.'],
  ['ssh-known-hosts', '  --ssh-known-hosts              known_hosts lines for every target (and jump) host. Unknown or changed host keys are refused. Or --ssh-known-hosts-file PATH, or PALLET_SSH_KNOWN_HOSTS (env).'],
  ['registry-password', '  PALLET_REGISTRY_PASSWORD       (env) Registry password or token (masked). Or --registry-password-file PATH.'],
  ['build-args', '  --build-arg NAME=VALUE         build, ci: a build argument, merged over build.args in pallet.yml (these win); repeat the flag for several, e.g. --build-arg APP_VERSION=$(git rev-parse --short HEAD).'],
  ['cache', '  --cache                        Use the wheelhouse cache and the registry layer cache. [true]'],
])('flag line of %s', (name, line) => {
  expect(flagLine(spec(name))).toBe(line);
});

test('no help text describes the action runner (RUNNER_TEMP, the post step) as what the CLI does', () => {
  const texts = [usage(), ...['build', 'test', 'push', 'ci', 'deploy', 'rollback', 'status', 'exec', 'logs', 'lock', 'proxy', 'run'].map((c) => commandHelp(c)!)];
  expect(texts.filter((t) => /RUNNER_TEMP|post step/.test(t))).toEqual([]);
});

test('the action keeps its own description of the key (action.yml is generated from it)', () => {
  expect(spec('ssh-private-key').description).toBe('Private key for the deploy user (masked; written 0600 under RUNNER_TEMP and removed by the post step).');
});

test.each(['build', 'ci'])('pallet help %s lists --build-arg', (cmd) => {
  expect(commandHelp(cmd)).toContain('\n  --build-arg NAME=VALUE ');
});

test('promote lists --from and no --tag (it deploys what the source runs), and says --to is --environment', () => {
  const text = commandHelp('promote')!;
  expect(text).toMatch(/^ {2}--from /m);
  expect(text).not.toMatch(/^ {2}--tag /m);
  expect(text).toContain('(--to is --environment)');
});
