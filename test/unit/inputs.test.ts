// parseInputs: raw strings (action INPUT_* variables or CLI flags) -> typed Inputs, with errors
// that name the input, and secrets masked the moment they are read.
import { actionRawInputs, COMMANDS, INPUT_SPECS, parseInputs, type Inputs, type RawInputs } from '../../src/inputs.js';
import { CliReporter, setReporter } from '../../src/util/reporter.js';

const raw = (values: Record<string, string>): RawInputs => (name) => values[name] ?? '';

let rep: CliReporter;
beforeEach(() => { rep = setReporter(new CliReporter(() => {}, () => {})) as CliReporter; });

function messageOf(fn: () => unknown): string {
  try { fn(); } catch (e) { return (e as Error).message; }
  throw new Error('no error thrown');
}

test('defaults when only the command is given', () => {
  expect(parseInputs(raw({ command: 'build' }))).toEqual<Inputs>({
    command: 'build', config: 'pallet.yml', workingDirectory: '.', tag: undefined, extraTags: [], image: undefined,
    registry: undefined, registryUsername: undefined, registryPassword: undefined, sshPrivateKey: undefined,
    sshKnownHosts: undefined, insecureSkipHostKeyCheck: false, environment: undefined, digest: undefined, from: undefined, allowUntested: false, githubToken: undefined, sshKeyPassphrase: undefined,
    shards: undefined, testArgs: [], buildArgs: {}, cache: true, lockTimeout: 0, breakLock: false, runTasks: false,
    ops: { role: undefined, host: undefined, allHosts: false, args: [], since: undefined, tail: undefined, force: false, yes: false, deleteData: false, json: false, follow: false, interactive: false },
    setup: { adminUser: 'root', adminSshPrivateKey: undefined, dryRun: false },
  });
});

test.each<[string, Record<string, string>, Partial<Inputs>]>([
  ['every command is accepted', { command: 'rollback' }, { command: 'rollback' }],
  ['values are trimmed', { command: ' ci ', tag: ' build-7 \n' }, { command: 'ci', tag: 'build-7' }],
  ['extra tags: comma or newline separated', { command: 'push', 'extra-tags': 'latest, stable\nv1.2\n' }, { extraTags: ['latest', 'stable', 'v1.2'] }],
  ['test args: whitespace separated', { command: 'test', 'test-args': '--keepdb  shop.tests\n-v 2' }, { testArgs: ['--keepdb', 'shop.tests', '-v', '2'] }],
  ['booleans: true/yes/1/on and false/no/0/off, any case', { command: 'deploy', cache: 'No', 'break-lock': 'YES', 'run-tasks': 'on', 'insecure-skip-host-key-check': '1' },
    { cache: false, breakLock: true, runTasks: true, insecureSkipHostKeyCheck: true }],
  ['build args: NAME=VALUE per line, blank lines skipped, later wins, = in values kept', { command: 'ci', 'build-args': 'APP_VERSION=abc1234\n\nEMPTY=\nQUERY=a=b\nAPP_VERSION=def5678\n' },
    { buildArgs: { APP_VERSION: 'def5678', EMPTY: '', QUERY: 'a=b' } }],
  ['integers', { command: 'test', shards: '3', 'lock-timeout': '120' }, { shards: 3, lockTimeout: 120 }],
  ['strings pass through', { command: 'deploy', image: 'r.example.com/a/b', registry: 'r.example.com', 'registry-username': 'ci', environment: 'staging', 'working-directory': 'app', config: 'deploy/pallet.yml' },
    { image: 'r.example.com/a/b', registry: 'r.example.com', registryUsername: 'ci', environment: 'staging', workingDirectory: 'app', config: 'deploy/pallet.yml' }],
  ['github-token default expression is not taken literally', { command: 'deploy' }, { githubToken: undefined }],
  ['exec args: one argument per line, spaces kept', { command: 'exec', args: 'shell\n-c\nprint("a b")\n', 'all-hosts': 'true', role: 'worker' },
    { ops: expect.objectContaining({ args: ['shell', '-c', 'print("a b")'], allHosts: true, role: 'worker' }) as never }],
  ['logs since and tail', { command: 'logs', since: '1h30m', tail: '50' }, { ops: expect.objectContaining({ since: '1h30m', tail: 50 }) as never }],
  ['logs since as a time', { command: 'logs', since: '2026-11-29T10:00:00Z' }, { ops: expect.objectContaining({ since: '2026-11-29T10:00:00Z' }) as never }],
  ['lock-release with force', { command: 'lock-release', force: 'true' }, { command: 'lock-release', ops: expect.objectContaining({ force: true }) as never }],
])('%s', (_name, values, want) => {
  expect(parseInputs(raw(values))).toMatchObject(want);
});

test.each<[Record<string, string>, 'input' | 'flag', string]>([
  [{}, 'input', `input 'command' is required: one of ${COMMANDS.join(', ')}`],
  [{}, 'flag', `--command is required: one of ${COMMANDS.join(', ')}`],
  [{ command: 'shipit' }, 'input', `unknown command 'shipit': expected one of ${COMMANDS.join(', ')}`],
  [{ command: 'logs', since: 'yesterday' }, 'flag', "--since 'yesterday' is not a time docker logs understands"],
  [{ command: 'build', tag: 'v1:2' }, 'input', "input 'tag' 'v1:2' is not a valid image tag (letters, digits, _ . -, at most 128, not starting with . or -)"],
  [{ command: 'build', tag: '-x' }, 'flag', "--tag '-x' is not a valid image tag (letters, digits, _ . -, at most 128, not starting with . or -)"],
  [{ command: 'build', tag: 'x'.repeat(129) }, 'input', `input 'tag' '${'x'.repeat(129)}' is not a valid image tag (letters, digits, _ . -, at most 128, not starting with . or -)`],
  [{ command: 'push', 'extra-tags': 'ok,no/slash' }, 'input', "input 'extra-tags': 'no/slash' is not a valid image tag"],
  [{ command: 'test', shards: '0' }, 'input', "input 'shards' must be a whole number >= 1, got '0'"],
  [{ command: 'test', shards: 'two' }, 'flag', "--shards must be a whole number >= 1, got 'two'"],
  [{ command: 'test', shards: '1.5' }, 'input', "input 'shards' must be a whole number >= 1, got '1.5'"],
  [{ command: 'deploy', 'lock-timeout': '-1' }, 'input', "input 'lock-timeout' must be a whole number >= 0, got '-1'"],
  [{ command: 'build', cache: 'maybe' }, 'input', "input 'cache' must be true or false, got 'maybe'"],
  [{ command: 'deploy', 'break-lock': 'sure' }, 'flag', "--break-lock must be true or false, got 'sure'"],
])('%j (%s) is rejected', (values, where, want) => {
  expect(messageOf(() => parseInputs(raw(values), where))).toBe(want);
});

test('secrets are masked the moment they are read, and only secrets', () => {
  const key = '-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----\n';
  const inputs = parseInputs(raw({
    command: 'deploy', 'registry-password': 'hunter2-registry', 'ssh-private-key': key, 'github-token': 'ghs_abcdef123456',
    'registry-username': 'ci-user',
  }));
  expect(inputs.registryPassword).toBe('hunter2-registry');
  expect(inputs.sshPrivateKey).toBe(key.trim());
  const line = `login ci-user hunter2-registry token ghs_abcdef123456 key b3BlbnNzaC1rZXktdjEAAAAA`;
  expect(rep.mask(line)).toBe('login ci-user *** token *** key ***');
  // The reporter masks what it prints, too.
  const out: string[] = [];
  const printing = setReporter(new CliReporter((l) => out.push(l), (l) => out.push(l))) as CliReporter;
  parseInputs(raw({ command: 'deploy', 'registry-password': 'hunter2-registry' }));
  printing.info('password is hunter2-registry');
  printing.error('failed with hunter2-registry');
  expect(out).toEqual(['password is ***', 'error: failed with ***']);
});

test('INPUT_* variables are what the runner sets', () => {
  const get = actionRawInputs({ INPUT_COMMAND: 'ci', 'INPUT_EXTRA-TAGS': 'latest', INPUT_REGISTRY_PASSWORD: 'x' });
  expect(get('command')).toBe('ci');
  expect(get('extra-tags')).toBe('latest');
  expect(get('shards')).toBe('');
});

test('every input has a description; secrets have no default but the token expression', () => {
  for (const s of INPUT_SPECS) {
    expect(s.description.length).toBeGreaterThan(10);
    if (s.secret && s.default !== undefined) expect(s.default).toMatch(/^\$\{\{/);
  }
});

test.each<[string, string, 'input' | 'flag', string]>([
  ['no =', 'APP_VERSION', 'input', "input 'build-args': 'APP_VERSION' is not NAME=VALUE"],
  ['a bad name, by line', 'OK=1\nAPP VERSION=2', 'input', "input 'build-args': line 2 'APP VERSION=2': 'APP VERSION' is not a valid build argument name (letters, digits and _, not starting with a digit)"],
  ['a name starting with a digit', '1X=2', 'input', "input 'build-args': '1X=2': '1X' is not a valid build argument name (letters, digits and _, not starting with a digit)"],
  ['an empty name', '=x', 'input', "input 'build-args': '=x': '' is not a valid build argument name (letters, digits and _, not starting with a digit)"],
  ['the CLI names --build-arg', 'APP-VERSION=1', 'flag', "--build-arg: 'APP-VERSION=1': 'APP-VERSION' is not a valid build argument name (letters, digits and _, not starting with a digit)"],
])('build args: %s', (_n, text, where, message) => {
  expect(messageOf(() => parseInputs(raw({ command: 'build', 'build-args': text }), where))).toBe(message);
});
