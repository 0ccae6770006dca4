// Good pallet.yml files -> resolved PalletConfig with every default filled in, plus input overrides.
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig, displayPath, ConfigErrors, type ConfigOverrides } from '../../src/config/load.js';
import { DEFAULTS } from '../../src/config/resolve.js';
import { ConfigError, UserError } from '../../src/errors.js';
import type { PalletConfig } from '../../src/config/types.js';

const GOOD = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../fixtures/config/good');
const HEAD = 'app: shop\nimage: registry.example.com/team/shop\n';

let tmp: string;
beforeAll(() => { tmp = mkdtempSync(path.join(os.tmpdir(), 'pallet-config-')); });
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

let n = 0;
/** Writes a pallet.yml (and extra files) into a fresh directory; returns the config path. */
function project(yaml: string, files: Record<string, string> = {}): string {
  const dir = path.join(tmp, `p${++n}`);
  mkdirSync(dir, { recursive: true });
  for (const [rel, body] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    writeFileSync(path.join(dir, rel), body);
  }
  writeFileSync(path.join(dir, 'pallet.yml'), yaml);
  return path.join(dir, 'pallet.yml');
}

function messageOf(fn: () => unknown): string {
  try { fn(); } catch (e) { return (e as Error).message; }
  throw new Error('no error thrown');
}

describe('fixtures', () => {
  test('minimal: app and image, everything else defaulted', () => {
    const file = path.join(GOOD, 'minimal/pallet.yml');
    expect(loadConfig(file)).toEqual<PalletConfig>({
      app: 'antisocial',
      image: 'registry.example.com/thraxil/antisocial',
      build: { context: path.join(GOOD, 'minimal'), dockerfile: 'Dockerfile', args: {}, tags: [] },
      test: { command: ['test'], services: [], environment: {}, shards: 1, artifacts: [], timeout: 1800 },
      source: { file, dir: path.join(GOOD, 'minimal') },
    });
  });

  test('full: every section, short and long forms', () => {
    const dir = path.join(GOOD, 'full');
    const c = loadConfig(path.join(dir, 'pallet.yml'));
    expect(c.image).toBe('127.0.0.1:5000/thraxil/antisocial');
    expect(c.build).toEqual({
      context: path.join(dir, 'app'),
      dockerfile: 'docker/Dockerfile.prod',
      target: 'production',
      // 3.10 keeps its source text; false becomes "false".
      args: { GIT_SHA: 'abc123', PY_VERSION: '3.10', DEBUG: 'false' },
      tags: ['latest', 'stable'],
      wheelhouse: {
        requirements: ['requirements/base.txt', 'requirements/prod.txt'],
        builder: '127.0.0.1:5000/lab/builder:bookworm',
        dir: 'wheelhouse-out',
        pip_args: ['--no-build-isolation', '--extra-index-url', 'https://pypi.example.com/simple'],
      },
    });
    expect(c.test).toEqual({
      command: ['test', '--parallel', '2'],
      services: [
        { name: 'postgres', env: {} },
        { name: 'redis', env: {} },
        { name: 'search', image: 'opensearchproject/opensearch:2', port: 9200, env: { 'discovery.type': 'single-node' }, ready: { tcp: 9200 } },
        { name: 'minio', image: 'minio/minio:latest', port: 9000, env: {}, ready: { http: { port: 9000, path: '/minio/health/live' } } },
        { name: 'postgis', image: '127.0.0.1:5000/lab/postgis:15', env: {}, credentials: { user: 'app', password: 'secret', database: 'app' } },
      ],
      environment: { SECRET_KEY: 'dummy', ALLOWED_HOSTS: '*', PAGE_SIZE: '25' },
      shards: 2,
      artifacts: ['/app/junit.xml'],
      timeout: 900,
    });
    expect(c.deploy).toEqual({
      ssh: { user: 'pallet', port: 2222, jump: 'bastion.example.com' },
      env_file: '/etc/default/antisocial',
      tasks: [['deploy'], ['manage.py', 'clearsessions']],
      roles: {
        web: { hosts: ['app1', 'ops@app2:2200'], command: 'serve', port: 8000, host_port: 8000, health: { path: '/healthz', timeout: 60 }, stop_timeout: 30, stop_signal: 'SIGTERM' },
        api: { hosts: ['app4'], command: 'serve', port: 8001, host_port: 8001, health: { path: '/health/', timeout: 60 }, stop_timeout: 30, stop_signal: 'SIGTERM' },
        worker: { hosts: ['app3'], command: 'worker', stable: 5, stop_timeout: 120, stop_signal: 'SIGTERM' },
        beat: { hosts: ['app3'], command: 'beat', stable: 10, stop_timeout: 30, stop_signal: 'SIGTERM' },
      },
      rolling: { batch: '50%' },
      keep: 3,
      require_tested: true,
      url: 'https://antisocial.example.com',
      proxy: { hosts: [], tls: 'off', image: 'caddy:2', drain_timeout: 2, trusted_proxies: ['private_ranges'] },
    });
    // Roles keep the file's order (the deploy stage decides web-first).
    expect(Object.keys(c.deploy!.roles)).toEqual(['web', 'api', 'worker', 'beat']);
  });
});

describe('defaults and short forms', () => {
  const deployWith = (extra: string) => `${HEAD}deploy:\n  roles:\n    web: { hosts: [app1] }\n${extra}`;
  test.each<[string, string, (c: PalletConfig) => unknown, unknown]>([
    ['deploy defaults', deployWith(''), (c) => ({ ...c.deploy, roles: undefined }),
      { ssh: { user: 'deploy', port: 22 }, env_file: '/etc/pallet/shop.env', tasks: [['deploy']], roles: undefined, rolling: { batch: 1 }, keep: 5, require_tested: true,
        proxy: { hosts: [], tls: 'off', image: 'caddy:2', drain_timeout: 2, trusted_proxies: ['private_ranges'] } }],
    ['proxy with host names: tls auto by default', deployWith('  proxy: { hosts: [shop.example.com, www.shop.example.com] }\n'), (c) => c.deploy!.proxy,
      { hosts: ['shop.example.com', 'www.shop.example.com'], tls: 'auto', image: 'caddy:2', drain_timeout: 2, trusted_proxies: [] }],
    ['proxy: false keeps the published port', deployWith('  proxy: false\n'), (c) => c.deploy!.proxy, false],
    ['proxy: true = the defaults', deployWith('  proxy: true\n'), (c) => c.deploy!.proxy, { hosts: [], tls: 'off', image: 'caddy:2', drain_timeout: 2, trusted_proxies: ['private_ranges'] }],
    ['health.host', deployWith('').replace('[app1] }', '[app1], health: { host: shop.example.com } }'), (c) => c.deploy!.roles.web.health,
      { path: '/health/', timeout: 60, host: 'shop.example.com' }],
    ['web role defaults', deployWith(''), (c) => c.deploy!.roles.web,
      { hosts: ['app1'], command: 'serve', port: 8000, host_port: 8000, health: { path: '/health/', timeout: 60 }, stop_timeout: 30, stop_signal: 'SIGTERM' }],
    ['non-web role: command = role name, stable 5', `${HEAD}deploy:\n  roles:\n    celery: { hosts: [app3] }\n`, (c) => c.deploy!.roles.celery,
      { hosts: ['app3'], command: 'celery', stable: 5, stop_timeout: 30, stop_signal: 'SIGTERM' }],
    ['stop_signal: TERM spelled without SIG', `${HEAD}deploy:\n  roles:\n    worker: { hosts: [app3], stop_signal: QUIT }\n`, (c) => c.deploy!.roles.worker.stop_signal, 'SIGQUIT'],
    ['role command as a list is kept as given', `${HEAD}deploy:\n  roles:\n    worker: { hosts: [app3], command: [celery, -A, "proj worker"] }\n`, (c) => c.deploy!.roles.worker.command, ['celery', '-A', 'proj worker']],
    ['health.host', deployWith('').replace('[app1] }', '[app1], health: { host: shop.example.com } }'), (c) => c.deploy!.roles.web.health, { path: '/health/', timeout: 60, host: 'shop.example.com' }],
    ['web role host_port', deployWith('  proxy: false\n').replace('[app1] }', '[app1], host_port: 8080 }'), (c) => [c.deploy!.roles.web.port, c.deploy!.roles.web.host_port], [8000, 8080]],
    ['tasks: a single string', deployWith('  tasks: deploy\n'), (c) => c.deploy!.tasks, [['deploy']]],
    ['tasks: string items split on whitespace', deployWith('  tasks: [deploy, manage.py migrate --noinput]\n'), (c) => c.deploy!.tasks, [['deploy'], ['manage.py', 'migrate', '--noinput']]],
    ['tasks: argv lists kept as given', deployWith('  tasks:\n    - [manage.py, shell, -c, "print(1)"]\n'), (c) => c.deploy!.tasks, [['manage.py', 'shell', '-c', 'print(1)']]],
    ['tasks: empty list = no tasks', deployWith('  tasks: []\n'), (c) => c.deploy!.tasks, []],
    ['batch as a number', deployWith('  rolling: { batch: 2 }\n'), (c) => c.deploy!.rolling.batch, 2],
    ['batch 100%', deployWith('  rolling: { batch: 100% }\n'), (c) => c.deploy!.rolling.batch, '100%'],
    ['ssh port and hosts with user and port', `${HEAD}deploy:\n  ssh: { port: 2201 }\n  roles:\n    web: { hosts: ['deploy@127.0.0.1:2202', '127.0.0.1', '[::1]:22'] }\n`,
      (c) => [c.deploy!.ssh, c.deploy!.roles.web.hosts], [{ user: 'deploy', port: 2201 }, ['deploy@127.0.0.1:2202', '127.0.0.1', '[::1]:22']]],
    ['test.command as a list', `${HEAD}test:\n  command: [test, --keepdb, -k, "a b"]\n`, (c) => c.test.command, ['test', '--keepdb', '-k', 'a b']],
    ['environment values coerced to strings from their source text', `${HEAD}test:\n  environment: { A: 1.10, B: 0x1F, C: true, D: '', E: 1e3 }\n`,
      (c) => c.test.environment, { A: '1.10', B: '0x1F', C: 'true', D: '', E: '1e3' }],
    ['services: short names and custom with default tcp probe', `${HEAD}test:\n  services: [postgres, { name: cache, image: 'redis:7', port: 6379 }]\n`,
      (c) => c.test.services, [{ name: 'postgres', env: {} }, { name: 'cache', image: 'redis:7', port: 6379, env: {}, ready: { tcp: 6379 } }]],
    ['ready command probe as a string', `${HEAD}test:\n  services:\n    - { name: x, image: x, port: 1, ready: { command: pg_isready -q } }\n`,
      (c) => c.test.services[0].ready, { command: ['pg_isready', '-q'] }],
    ['http probe path defaults to /', `${HEAD}test:\n  services:\n    - { name: x, image: x, port: 1, ready: { http: { port: 1 } } }\n`,
      (c) => c.test.services[0].ready, { http: { port: 1, path: '/' } }],
  ])('%s', (_name, yaml, pick, want) => {
    expect(pick(loadConfig(project(yaml)))).toEqual(want);
  });

  test('YAML anchors and aliases work where the value is used', () => {
    const ok = `${HEAD}test:\n  environment: &env { SECRET_KEY: k }\n  services:\n    - { name: x, image: x, port: 1, env: *env }\n`;
    expect(loadConfig(project(ok)).test.services[0].env).toEqual({ SECRET_KEY: 'k' });
    // There is no place for extension keys at the top level.
    expect(messageOf(() => loadConfig(project(`${HEAD}x-env: &env { A: b }\n`)))).toMatch(/:3:1 x-env: unknown key/);
  });

  test('wheelhouse defaults: requirements.txt, dir wheelhouse, no pip args', () => {
    const file = project(`${HEAD}build:\n  wheelhouse: { builder: 'python:3.12-bookworm' }\n`, { 'requirements.txt': 'django\n' });
    expect(loadConfig(file).build.wheelhouse).toEqual({ requirements: ['requirements.txt'], builder: 'python:3.12-bookworm', dir: DEFAULTS.wheelhouseDir, pip_args: [] });
  });

  test('the default requirements.txt must exist too', () => {
    const file = project(`${HEAD}build:\n  wheelhouse: { builder: 'python:3.12-bookworm' }\n`);
    expect(messageOf(() => loadConfig(file))).toBe(
      `${displayPath(file)}:4:3 build.wheelhouse: file '${displayPath(path.join(path.dirname(file), 'requirements.txt'))}' not found (requirement files are relative to the build context)`,
    );
  });

  test('context and requirements resolve against the config file, not the cwd', () => {
    const file = project(`${HEAD}build:\n  context: src\n  wheelhouse: { requirements: [req/base.txt], builder: b }\n`, { 'src/req/base.txt': 'x\n' });
    const c = loadConfig(file);
    expect(c.build.context).toBe(path.join(path.dirname(file), 'src'));
    expect(c.source).toEqual({ file, dir: path.dirname(file) });
  });
});

describe('errors', () => {
  test('every problem is reported at once, sorted by position, as ConfigErrors', () => {
    const file = project('app: Shop\ntest:\n  shards: 0\n  colour: x\nimage: a:b\n');
    let err: unknown;
    try { loadConfig(file); } catch (e) { err = e; }
    expect(err).toBeInstanceOf(ConfigErrors);
    expect(err).toBeInstanceOf(UserError);
    const shown = displayPath(file);
    expect((err as ConfigErrors).errors.map((e) => e.message)).toEqual([
      `${shown}:1:1 app: must match [a-z0-9][a-z0-9_.-]*`,
      `${shown}:3:3 test.shards: must be >= 1`,
      `${shown}:4:3 test.colour: unknown key; expected one of command, services, environment, shards, artifacts, timeout`,
      `${shown}:5:1 image: must not include a tag (':b'); the tag comes from the 'tag' input`,
    ]);
    expect((err as Error).message.split('\n')).toHaveLength(4);
  });

  test('one problem is a ConfigError with its parts', () => {
    const file = project(`${HEAD}build:\n  dockerfiel: x\n`);
    let err: unknown;
    try { loadConfig(file); } catch (e) { err = e; }
    expect(err).toBeInstanceOf(ConfigError);
    expect(err).toMatchObject({ line: 4, column: 3, key: 'build.dockerfiel', detail: "unknown key; did you mean 'dockerfile'?" });
  });

  test('missing file and directory', () => {
    expect(messageOf(() => loadConfig(path.join(tmp, 'nope.yml')))).toBe(`config file ${displayPath(path.join(tmp, 'nope.yml'))} not found`);
    expect(messageOf(() => loadConfig(tmp))).toMatch(/is a directory$/);
  });

  test('display path: relative inside the cwd, absolute outside it', () => {
    expect(displayPath('/work/x/pallet.yml', '/work')).toBe('x/pallet.yml');
    expect(displayPath('/srv/pallet.yml', '/work')).toBe('/srv/pallet.yml');
    expect(displayPath('pallet.yml', '/work')).toBe('pallet.yml');
  });
});

describe('overrides (action inputs / CLI flags)', () => {
  test.each<[string, ConfigOverrides, (c: PalletConfig) => unknown, unknown]>([
    ['image replaces the file value', { image: '127.0.0.1:5000/lab/shop' }, (c) => c.image, '127.0.0.1:5000/lab/shop'],
    ['shards replaces test.shards', { shards: 4 }, (c) => c.test.shards, 4],
    ['extra tags are appended without duplicates', { extraTags: ['stable', 'v1.2'] }, (c) => c.build.tags, ['stable', 'v1.2']],
    ['test args are appended to the command', { testArgs: ['--keepdb', 'shop.tests'] }, (c) => c.test.command, ['test', '--keepdb', 'shop.tests']],
    ['build args are merged over build.args (given ones win)', { buildArgs: { APP_VERSION: 'abc1234', NEW: '' } }, (c) => c.build.args, { APP_VERSION: 'abc1234', GIT_SHA: 'from-file', NEW: '' }],
    ['nothing given: file values', {}, (c) => [c.image, c.test.shards, c.build.tags, c.test.command, c.build.args], ['registry.example.com/team/shop', 1, ['stable'], ['test'], { APP_VERSION: 'dev', GIT_SHA: 'from-file' }]],
  ])('%s', (_name, overrides, pick, want) => {
    const file = project(`${HEAD}build:\n  tags: [stable]\n  args: { APP_VERSION: dev, GIT_SHA: from-file }\n`);
    expect(pick(loadConfig(file, overrides))).toEqual(want);
  });

  test('an image input stands in for a missing image key', () => {
    expect(loadConfig(project('app: shop\n'), { image: 'team/shop' }).image).toBe('team/shop');
  });

  test('an image input replaces an invalid file image without complaint', () => {
    expect(loadConfig(project('app: shop\nimage: team/shop:v1\n'), { image: 'team/shop' }).image).toBe('team/shop');
  });

  test.each<[ConfigOverrides, string]>([
    [{ image: 'team/shop:v1' }, "input 'image': must not include a tag (':v1'); the tag comes from the 'tag' input"],
    [{ image: 'Team/Shop' }, "input 'image': must be lowercase"],
    [{ image: 'team/shop', where: 'flag' }, ''],
    [{ image: 'team/shop v2', where: 'flag' }, '--image: must not contain spaces'],
    [{ shards: 0 }, "input 'shards': must be a whole number from 1 to 32, got 0"],
    [{ shards: 100000 }, "input 'shards': must be a whole number from 1 to 32, got 100000"],
    [{ extraTags: ['ok', '-bad'] }, "input 'extra-tags': '-bad' is not a valid image tag (letters, digits, _ . -, at most 128, not starting with . or -)"],
    [{ testArgs: [''] }, "input 'test-args': arguments must not be empty"],
  ])('override %j is validated', (overrides, want) => {
    const file = project(HEAD);
    if (want === '') expect(() => loadConfig(file, overrides)).not.toThrow();
    else expect(messageOf(() => loadConfig(file, overrides))).toBe(want);
  });
});
