// parseCliArgs: `pallet <command> [--flag value | --flag=value | --bool] [-- cmd...]`. Secrets
// never come from argv: only from PALLET_* variables or --<name>-file, and are masked when read.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseCliArgs, parseInputs, secretEnvName, type Inputs } from '../../src/inputs.js';
import { CliReporter, setReporter } from '../../src/util/reporter.js';

let rep: CliReporter;
let tmp: string;
beforeEach(() => { rep = setReporter(new CliReporter(() => {}, () => {})) as CliReporter; });
beforeAll(() => { tmp = mkdtempSync(path.join(os.tmpdir(), 'pallet-cli-')); });
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const NO_ENV = {};
const inputs = (argv: string[], env: NodeJS.ProcessEnv = NO_ENV) => parseInputs(parseCliArgs(argv, env).raw, 'flag');

function messageOf(fn: () => unknown): string {
  try { fn(); } catch (e) { return (e as Error).message; }
  throw new Error('no error thrown');
}

test.each<[string[], Partial<Inputs>]>([
  [['build'], { command: 'build', cache: true, config: 'pallet.yml' }],
  [['test', '--config', 'ci/pallet.yml', '--shards', '2'], { command: 'test', config: 'ci/pallet.yml', shards: 2 }],
  [['test', '--config=ci/pallet.yml', '--shards=2'], { config: 'ci/pallet.yml', shards: 2 }],
  [['push', '--tag', 'build-9', '--extra-tags', 'latest,stable'], { tag: 'build-9', extraTags: ['latest', 'stable'] }],
  [['test', '--test-args=--keepdb -v 2'], { testArgs: ['--keepdb', '-v', '2'] }],
  [['test', '--test-args', '--keepdb'], { testArgs: ['--keepdb'] }],
  [['deploy', '--break-lock'], { breakLock: true }],
  [['deploy', '--break-lock', '--tag', 'build-3'], { breakLock: true, tag: 'build-3' }],
  [['build', '--cache', 'false'], { cache: false }],
  [['build', '--cache=no'], { cache: false }],
  [['deploy', '--insecure-skip-host-key-check', '--run-tasks', 'yes'], { insecureSkipHostKeyCheck: true, runTasks: true }],
  [['deploy', '--tag', 'a', '--tag', 'b'], { tag: 'b' }],
  [['deploy', '--environment', 'staging', '--working-directory', 'app'], { environment: 'staging', workingDirectory: 'app' }],
])('%j', (argv, want) => {
  expect(inputs(argv)).toMatchObject(want);
});

test('a bare boolean flag does not swallow the next word', () => {
  const args = parseCliArgs(['deploy', '--break-lock', '--', 'x'], NO_ENV);
  expect(args.raw('break-lock')).toBe('true');
  expect(messageOf(() => parseCliArgs(['deploy', '--break-lock', 'later'], NO_ENV))).toBe("unexpected argument 'later'");
});

test('arguments after -- are kept for `pallet run`', () => {
  const args = parseCliArgs(['run', '--config', 'x.yml', '--', './manage.py', 'test', '--keepdb'], NO_ENV);
  expect(args.rest).toEqual(['./manage.py', 'test', '--keepdb']);
  expect(args.positional).toEqual(['run']);
  expect(args.raw('config')).toBe('x.yml');
});

test.each<[string[], Partial<Record<string, unknown>>]>([
  [['exec', '-i', '--role', 'web', '--', 'manage.py', 'shell'], { command: 'exec', interactive: true, role: 'web', rest: ['manage.py', 'shell'] }],
  [['exec', '--all', '--', 'manage.py', 'check'], { command: 'exec', allHosts: true, rest: ['manage.py', 'check'] }],
  [['logs', '-f', '--since', '10m', '--tail', '20', '--host', 'app1'], { command: 'logs', follow: true, since: '10m', tail: 20, host: 'app1' }],
  [['lock', 'status', '--json'], { command: 'lock-status', json: true }],
  [['lock', 'release', '--force'], { command: 'lock-release', force: true }],
  [['status', '--json'], { command: 'status', json: true }],
])('day-2 commands: %j', (argv, want) => {
  const args = parseCliArgs(argv, NO_ENV);
  const i = parseInputs(args.raw, 'flag');
  const { command, rest, ...ops } = want;
  expect(i.command).toBe(command);
  expect(i.ops).toMatchObject(ops);
  if (rest) expect(args.rest).toEqual(rest);
});

test.each<[string[], string]>([
  [['lock'], "pallet lock needs 'status' or 'release'"],
  [['lock', 'steal'], "pallet lock needs 'status' or 'release', got 'steal'"],
  [['exec', '--args', 'x', '--', 'y'], 'give the exec command either after -- or with --args, not both'],
  [['build', '--nope'], "unknown flag --nope (see 'pallet help')"],
  [['build', '--command', 'deploy'], "unknown flag --command (see 'pallet help')"],
  [['build', '--config'], '--config needs a value'],
  [['build', '--config-file', 'x'], "unknown flag --config-file (see 'pallet help')"],
  [['build', '--shards', 'x'], "--shards must be a whole number >= 1, got 'x'"],
  [['build', '--cache', 'maybe'], "unexpected argument 'maybe'"],
  [['build', '--cache=maybe'], "--cache must be true or false, got 'maybe'"],
  [['build', 'extra'], "unexpected argument 'extra'"],
  [['build', '--registry-password-file', '/nonexistent/pw'], '--registry-password-file: cannot read /nonexistent/pw: ENOENT: no such file or directory, open \'/nonexistent/pw\''],
])('%j is rejected', (argv, want) => {
  expect(messageOf(() => inputs(argv))).toBe(want);
});

describe('secrets', () => {
  test.each([
    ['registry-password', ['push', '--registry-password', 'hunter2-pw']],
    ['registry-password', ['push', '--registry-password=hunter2-pw']],
    ['ssh-private-key', ['deploy', '--ssh-private-key', 'hunter2-pw']],
    ['github-token', ['deploy', '--github-token=hunter2-pw']],
  ])('--%s on the command line is refused, and the value is masked anyway', (name, argv) => {
    const msg = messageOf(() => parseCliArgs(argv, NO_ENV));
    expect(msg).toBe(`--${name} is a secret and is not accepted on the command line; set ${secretEnvName(name)} or use --${name}-file PATH`);
    expect(msg).not.toContain('hunter2-pw');
    expect(rep.mask('echo hunter2-pw')).toBe('echo ***');
  });

  test('read from PALLET_* variables and masked', () => {
    const env = { PALLET_REGISTRY_PASSWORD: 's3cret-from-env', PALLET_GITHUB_TOKEN: 'ghs_fromenv123', PALLET_SSH_PRIVATE_KEY: '' };
    const got = inputs(['push'], env);
    expect(got.registryPassword).toBe('s3cret-from-env');
    expect(got.githubToken).toBe('ghs_fromenv123');
    expect(got.sshPrivateKey).toBeUndefined();
    expect(rep.mask('s3cret-from-env and ghs_fromenv123')).toBe('*** and ***');
  });

  test('masked as soon as parseCliArgs reads them (before parseInputs, e.g. for pallet run)', () => {
    parseCliArgs(['run'], { PALLET_REGISTRY_PASSWORD: 'early-secret-value' });
    expect(rep.mask('x early-secret-value')).toBe('x ***');
  });

  test('read from --<name>-file, trimmed, and masked line by line', () => {
    const keyFile = path.join(tmp, 'id_ed25519');
    const key = '-----BEGIN OPENSSH PRIVATE KEY-----\nAAAAC3NzaC1lZDI1NTE5AAAAIlinetwo\n-----END OPENSSH PRIVATE KEY-----\n';
    writeFileSync(keyFile, key, { mode: 0o600 });
    const pwFile = path.join(tmp, 'pw');
    writeFileSync(pwFile, 'file-password-1\n', { mode: 0o600 });
    const got = inputs(['deploy', '--ssh-private-key-file', keyFile, `--registry-password-file=${pwFile}`]);
    expect(got.sshPrivateKey).toBe(key.trim());
    expect(got.registryPassword).toBe('file-password-1');
    expect(rep.mask('pw=file-password-1 key AAAAC3NzaC1lZDI1NTE5AAAAIlinetwo')).toBe('pw=*** key ***');
  });

  test('a flag file wins over the environment variable', () => {
    const pwFile = path.join(tmp, 'pw2');
    writeFileSync(pwFile, 'from-file-pw');
    expect(inputs(['push', '--registry-password-file', pwFile], { PALLET_REGISTRY_PASSWORD: 'from-env-pw' }).registryPassword).toBe('from-file-pw');
  });

  test('non-secret flags are not masked', () => {
    inputs(['push', '--registry-username', 'ci-user']);
    expect(rep.mask('ci-user')).toBe('ci-user');
  });
});

describe('--ssh-known-hosts-file and PALLET_SSH_KNOWN_HOSTS', () => {
  const KH = 'app1.example.com ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKnownHostKeyData\n';

  test('the file flag reads the file into ssh-known-hosts (not masked: host keys are public)', () => {
    const file = path.join(tmp, 'known_hosts');
    writeFileSync(file, KH);
    expect(inputs(['deploy', '--ssh-known-hosts-file', file]).sshKnownHosts).toBe(KH.trim());
    expect(inputs(['deploy', `--ssh-known-hosts-file=${file}`]).sshKnownHosts).toBe(KH.trim());
    expect(rep.mask(KH.trim())).toBe(KH.trim());
  });

  test.each<[string, string[], NodeJS.ProcessEnv, string | undefined]>([
    ['the content on argv', ['status', '--ssh-known-hosts', 'argv-line a b'], {}, 'argv-line a b'],
    ['the environment variable', ['status'], { PALLET_SSH_KNOWN_HOSTS: 'env-line a b' }, 'env-line a b'],
    ['argv over the environment', ['status', '--ssh-known-hosts', 'argv-line a b'], { PALLET_SSH_KNOWN_HOSTS: 'env-line a b' }, 'argv-line a b'],
    ['neither', ['status'], {}, undefined],
  ])('%s', (_n, argv, env, want) => {
    expect(inputs(argv, env).sshKnownHosts).toBe(want);
  });

  test('an unreadable file is named', () => {
    expect(messageOf(() => parseCliArgs(['deploy', '--ssh-known-hosts-file', path.join(tmp, 'nope')], NO_ENV)))
      .toMatch(/^--ssh-known-hosts-file: cannot read .*nope: ENOENT/);
  });

  test('only secrets and file flags have a -file form', () => {
    expect(messageOf(() => parseCliArgs(['deploy', '--tag-file', 'x'], NO_ENV))).toBe("unknown flag --tag-file (see 'pallet help')");
  });
});

describe('--build-arg', () => {
  test.each<[string[], Record<string, string>]>([
    [['build', '--build-arg', 'APP_VERSION=abc1234'], { APP_VERSION: 'abc1234' }],
    [['build', '--build-arg=APP_VERSION=abc1234', '--build-arg', 'GREETING=hello world'], { APP_VERSION: 'abc1234', GREETING: 'hello world' }],
    [['ci', '--build-args', 'A=1', '--build-arg', 'A=2'], { A: '2' }],
    [['build'], {}],
  ])('%j', (argv, want) => {
    expect(inputs(argv).buildArgs).toEqual(want);
  });

  test('a bad one names the flag and the argument', () => {
    expect(messageOf(() => inputs(['build', '--build-arg', 'APP_VERSION']))).toBe("--build-arg: 'APP_VERSION' is not NAME=VALUE");
    expect(messageOf(() => inputs(['build', '--build-arg', 'A=1', '--build-arg', 'B C=2']))).toBe("--build-arg: 'B C=2': 'B C' is not a valid build argument name (letters, digits and _, not starting with a digit)");
  });
});

describe('words that are names of Object.prototype', () => {
  test.each([
    [['toString'], "unknown command 'toString'"],
    [['constructor'], "unknown command 'constructor'"],
    [['lock', 'toString'], "pallet lock needs 'status' or 'release', got 'toString'"],
    [['status', '--toString', 'x'], "unknown flag --toString (see 'pallet help')"],
    [['status', '--__proto__'], "unknown flag --__proto__ (see 'pallet help')"],
  ])('%j is a user error, not a crash', (argv, message) => {
    expect(messageOf(() => inputs(argv)).slice(0, message.length)).toBe(message);
  });
});

describe('pallet db', () => {
  test.each<[string[], Partial<Record<'command' | 'backup' | 'output', string>>]>([
    [['db', 'backups'], { command: 'db-backups' }],
    [['db', 'restore', '20261203T181500Z-build-4', '--yes'], { command: 'db-restore', backup: '20261203T181500Z-build-4' }],
    [['db', 'download', '--backup', '20261203T181500Z-build-4', '--output', 'x.dump'], { command: 'db-download', backup: '20261203T181500Z-build-4', output: 'x.dump' }],
  ])('%j', (argv, want) => {
    const i = inputs(argv);
    expect({ command: i.command, backup: i.ops.backup, output: i.ops.output }).toMatchObject(want);
  });

  test('the id once only; a wrong second word names the choices', () => {
    expect(messageOf(() => inputs(['db', 'restore', 'a', '--backup', 'b']))).toBe('give the backup either as the third word or with --backup, not both');
    expect(messageOf(() => inputs(['db', 'drop']))).toBe("pallet db needs 'backups' or 'backup' or 'restore' or 'download', got 'drop'");
  });
});
