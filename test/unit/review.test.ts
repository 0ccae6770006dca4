// Review apps: the pure decisions of src/review/plan.ts (names, the derived deploy config, the
// services and their env, host choice, stale apps, the cap), the `review:` section as loaded, the
// host scripts of src/review/commands.ts run in a real sh (docker and date played by stubs that log
// their argv and answer from small tables in a temp directory), and the fork rule of event.ts.
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../src/config/load.js';
import type { PalletConfig, ReviewConfig } from '../../src/config/types.js';
import { UserError } from '../../src/errors.js';
import {
  ago, capDecision, chooseHost, newPassword, ownedTagsToRemove, parsePullRequest, passwordNames, planReviewServices, reviewAppName,
  reviewDeployConfig, reviewOf, reviewRows, reviewTarget, staleApps, type ReviewApp,
} from '../../src/review/plan.js';
import {
  ensureNetworkArgv, hasImageArgv, markReviewArgv, parseKeyValues, parseReviewList, pulledImagesPath, readPrivateFileArgv, recordPulledArgv,
  removeOwnedImagesArgv, removePulledImagesArgv, reviewCredentialsPath, reviewListArgv, reviewRecordPath, serviceEnvPath, serviceUpArgv,
  servicesDownArgv, writePrivateFileArgv,
} from '../../src/review/commands.js';
import { pullRequestEvent, refuseForkDeploy, type PullRequestEvent } from '../../src/review/event.js';

let tmp: string;
beforeAll(() => { tmp = mkdtempSync(path.join(os.tmpdir(), 'pallet-review-')); });
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

let n = 0;
/** Loads `yaml` as pallet.yml from a fresh directory. */
function load(yaml: string, environment?: string): PalletConfig {
  const dir = path.join(tmp, `p${++n}`);
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'pallet.yml'), yaml);
  return loadConfig(path.join(dir, 'pallet.yml'), {}, environment ? { environment, needsEnvironment: true } : {});
}

function errorOf(fn: () => unknown): UserError {
  try { fn(); } catch (e) { if (e instanceof UserError) return e; throw e; }
  throw new Error('no error thrown');
}

// A main app with everything a review app must not inherit: two hosts, a health host, secrets,
// scheduled jobs, backups, a maintenance page, keep, and an environment overlay.
const FULL = `app: shop
image: reg.test/shop
deploy:
  ssh: { user: deploy }
  env_file: /etc/pallet/shop.env
  env:
    clear: { DEBUG: "0", ENVIRONMENT: production, SITE_DOMAIN: shop.example.com, DATABASE_URL: "postgres://prod/db", SHARED: base }
    secret: [SECRET_KEY, STRIPE_KEY]
  tasks: [migrate]
  proxy: { hosts: [shop.example.com], tls: auto }
  keep: 3
  roles:
    web: { hosts: [app1, app2], health: { path: /healthz, host: shop.example.com, timeout: 7 } }
    worker: { hosts: [app2], command: [celery, worker] }
  cron:
    digest: { schedule: "0 9 * * *", command: send_digest }
  backup: true
  maintenance: { during_tasks: true }
review:
  hosts: [rev1, deploy@rev2:2222]
  host: pr-{number}.review.example.com
  services: [postgres, redis]
  env:
    clear: { DEBUG: "1", SHARED: review, REDIS_URL: "redis://override/1" }
    secret: [REVIEW_TOKEN]
environments:
  staging:
    app: shop-staging
    deploy:
      env_file: /etc/pallet/shop-staging.env
      proxy: { hosts: [stage.example.com] }
      roles:
        web: { hosts: [stage1] }
        worker: { hosts: [stage1] }
  production:
`;

describe('plan: names and numbers', () => {
  test('reviewAppName is APP-pr-N', () => {
    expect([reviewAppName('shop', 12), reviewAppName('my-app', 1)]).toEqual(['shop-pr-12', 'my-app-pr-1']);
  });

  test.each([
    ['12', 12], [' 7 ', 7], [3, 3], ['1', 1], ['9999999999', 9999999999],
  ])('parsePullRequest(%p) = %p', (v, want) => {
    expect(parsePullRequest(v, "input 'pull-request'")).toBe(want);
  });

  test.each([
    ['0', "input 'pull-request': '0' is not a pull request number"],
    ['-3', "input 'pull-request': '-3' is not a pull request number"],
    ['012', "input 'pull-request': '012' is not a pull request number"],
    ['1.5', "input 'pull-request': '1.5' is not a pull request number"],
    ['12abc', "input 'pull-request': '12abc' is not a pull request number"],
    ['#12', "input 'pull-request': '#12' is not a pull request number"],
    ['', "input 'pull-request': '' is not a pull request number"],
    [undefined, "input 'pull-request': '' is not a pull request number"],
    [Number.NaN, "input 'pull-request': 'NaN' is not a pull request number"],
    ['12345678901', "input 'pull-request': '12345678901' is not a pull request number"],
  ])('parsePullRequest(%p) is refused naming the field', (v, message) => {
    const e = errorOf(() => parsePullRequest(v as string | number | undefined, "input 'pull-request'"));
    expect(e.message).toBe(message);
    expect(e.hint).toMatch(/give the number of the pull request, e\.g\. 12/);
  });

  test.each([
    ['auto', 'https'], ['internal', 'https'], ['off', 'http'],
  ])('reviewTarget with tls %s', (tls, scheme) => {
    const c = load(FULL.replace('  services: [postgres, redis]\n', `  services: [postgres, redis]\n  tls: ${tls === 'off' ? '"off"' : tls}\n`), 'production');
    expect(reviewTarget(c, 42)).toEqual({
      number: 42, app: 'shop-pr-42', hostName: 'pr-42.review.example.com', url: `${scheme}://pr-42.review.example.com`, environment: 'review/pr-42',
    });
  });

  test('reviewTarget fills {number} wherever it is; a config without review says how to add one', () => {
    const c = load(FULL.replace('host: pr-{number}.review.example.com', 'host: review.example.com{number}'), 'production');
    expect(reviewTarget(c, 5).hostName).toBe('review.example.com5');
    const plain = load('app: shop\nimage: reg.test/shop\n');
    const e = errorOf(() => reviewOf(plain));
    expect(e.message).toBe(`${plain.source.file}: has no review section, so there are no review apps`);
    expect(e.hint).toMatch(/add review: \{hosts: \[\.\.\.\], host: pr-\{number\}\.review\.example\.com\}/);
  });
});

describe('plan: the deploy config of a review app (reviewDeployConfig)', () => {
  const serviceEnv = { DATABASE_URL: 'postgres://app:pw@postgres:5432/app', REDIS_URL: 'redis://redis:6379/0', SITE_DOMAIN: 'from-service' };

  test('every role on the one host behind the proxy at the review name; env layered; secrets only the review\'s; no cron, backup, maintenance', () => {
    const c = load(FULL, 'production');
    expect(c.environment).toBe('production');
    const t = reviewTarget(c, 7);
    const r = reviewDeployConfig(c, t, 'deploy@rev2:2222', serviceEnv);
    expect(r.app).toBe('shop-pr-7');
    expect(r.environment).toBe('review/pr-7');
    expect('review' in r).toBe(false);
    expect('environments' in r).toBe(false);
    expect(r.image).toBe('reg.test/shop');
    const d = r.deploy!;
    expect(Object.fromEntries(Object.entries(d.roles).map(([k, v]) => [k, v.hosts]))).toEqual({ web: ['deploy@rev2:2222'], worker: ['deploy@rev2:2222'] });
    // The health check keeps its path and timeout, not the main app's Host header.
    expect(d.roles.web.health).toEqual({ path: '/healthz', timeout: 7 });
    expect(d.roles.worker.command).toEqual(['celery', 'worker']);
    expect(d.proxy).toMatchObject({ hosts: ['pr-7.review.example.com'], tls: 'auto' });
    expect(d.url).toBe('https://pr-7.review.example.com');
    expect(d.env_file).toBe('/etc/pallet/shop-review.env');
    expect(d.network).toBe('pallet-app-shop-pr-7');
    expect(d.keep).toBeGreaterThanOrEqual(1000);
    expect(d.rolling).toEqual({ batch: 1 });
    expect(d.tasks).toEqual(c.deploy!.tasks);
    // deploy.env.clear < the review defaults < the services < review.env.clear.
    expect(d.env).toEqual({
      clear: {
        DEBUG: '1', SHARED: 'review',
        ENVIRONMENT: 'review', SITE_DOMAIN: 'from-service', SITE_PROTOCOL: 'https', PALLET_PULL_REQUEST: '7',
        DATABASE_URL: 'postgres://app:pw@postgres:5432/app', REDIS_URL: 'redis://override/1',
      },
      secret: ['REVIEW_TOKEN'],
    });
    expect(d.env!.secret).not.toContain('SECRET_KEY');
    expect('cron' in d).toBe(false);
    expect('backup' in d).toBe(false);
    expect('maintenance' in d).toBe(false);
    // The main app's config is left as it was.
    expect(c.deploy!.roles.web.hosts).toEqual(['app1', 'app2']);
    expect(c.deploy!.env!.secret).toEqual(['SECRET_KEY', 'STRIPE_KEY']);
    expect(c.deploy!.cron).toBeDefined();
    expect(c.deploy!.proxy).toMatchObject({ hosts: ['shop.example.com'] });
  });

  test('the defaults win over deploy.env.clear without services; tls off gives http', () => {
    const c = load(FULL.replace('  services: [postgres, redis]\n', '  tls: "off"\n'), 'production');
    const d = reviewDeployConfig(c, reviewTarget(c, 3), 'rev1', {}).deploy!;
    expect(d.env!.clear).toMatchObject({ ENVIRONMENT: 'review', SITE_DOMAIN: 'pr-3.review.example.com', SITE_PROTOCOL: 'http', PALLET_PULL_REQUEST: '3', DATABASE_URL: 'postgres://prod/db' });
    expect(d.proxy).toMatchObject({ tls: 'off' });
    expect(d.url).toBe('http://pr-3.review.example.com');
  });

  test('without review.env.secret a review app gets no secret at all', () => {
    const c = load(FULL.replace('    secret: [REVIEW_TOKEN]\n', ''), 'production');
    expect(reviewDeployConfig(c, reviewTarget(c, 3), 'rev1', {}).deploy!.env!.secret).toEqual([]);
  });

  test.each([
    ['deploy.proxy: false', (c: PalletConfig) => ({ ...c, deploy: { ...c.deploy!, proxy: false as const } })],
    ['deploy.swarm', (c: PalletConfig) => ({ ...c, deploy: { ...c.deploy!, swarm: { manager: 'm1' } as never } })],
    ['no deploy section', (c: PalletConfig) => ({ ...c, deploy: undefined })],
  ])('refused with %s', (_name, change) => {
    const c = change(load(FULL, 'production'));
    expect(() => reviewDeployConfig(c, reviewTarget(c, 3), 'rev1', {})).toThrow('review apps need the deploy section with the proxy (SSH hosts, not deploy.proxy: false or deploy.swarm)');
  });
});

describe('plan: services', () => {
  const review = (services: ReviewConfig['services']): ReviewConfig => ({ hosts: ['rev1'], host: 'pr-{number}.x.test', tls: 'auto', services, env: { clear: {}, secret: [] }, max: 5, evict_oldest: false, idle_days: 7 });

  test('postgres and redis at their names on the review network, the password percent-encoded, probes over 127.0.0.1', () => {
    const pw = 'p@ss:w/rd%';
    const { services, appEnv } = planReviewServices(review([{ name: 'postgres', env: {} }, { name: 'redis', env: {} }]), 'shop-pr-7', { postgres: pw });
    const url = 'postgres://app:p%40ss%3Aw%2Frd%25@postgres:5432/app';
    expect(appEnv).toEqual({
      DATABASE_URL: url, DB_DEFAULT_URL: url,
      REDIS_URL: 'redis://redis:6379/0', REDIS_HOSTS: 'redis:6379', REDIS_DB_INDEX: '0',
    });
    expect(services).toEqual([
      {
        name: 'postgres', container: 'shop-pr-7-postgres', alias: 'postgres', image: 'postgres:16',
        containerEnv: { POSTGRES_USER: 'app', POSTGRES_PASSWORD: pw, POSTGRES_DB: 'app' },
        probe: ['pg_isready', '-q', '-h', '127.0.0.1', '-p', '5432', '-U', 'app', '-d', 'app'], readyTimeoutS: 120,
      },
      { name: 'redis', container: 'shop-pr-7-redis', alias: 'redis', image: 'redis:7', containerEnv: {}, probe: ['redis-cli', '-p', '6379', 'ping'], readyTimeoutS: 120 },
    ]);
  });

  test('a custom service runs its ready.command; a catalog service given credentials keeps them', () => {
    const { services, appEnv } = planReviewServices(review([
      { name: 'minio', image: 'minio/minio:latest', port: 9000, env: { MINIO_ROOT_USER: 'u' }, ready: { command: ['mc', 'ready', 'local'] } },
      { name: 'postgres', env: {}, credentials: { user: 'shop', password: 'given', database: 'shopdb' } },
    ]), 'shop-pr-2', {});
    expect(services.map((s) => [s.name, s.container, s.image, s.probe, s.containerEnv])).toEqual([
      ['minio', 'shop-pr-2-minio', 'minio/minio:latest', ['mc', 'ready', 'local'], { MINIO_ROOT_USER: 'u' }],
      ['postgres', 'shop-pr-2-postgres', 'postgres:16', ['pg_isready', '-q', '-h', '127.0.0.1', '-p', '5432', '-U', 'shop', '-d', 'shopdb'], { POSTGRES_USER: 'shop', POSTGRES_PASSWORD: 'given', POSTGRES_DB: 'shopdb' }],
    ]);
    expect(appEnv.DATABASE_URL).toBe('postgres://shop:given@postgres:5432/shopdb');
  });

  test('passwordNames: catalog services with a password the config does not set', () => {
    expect(passwordNames(review([
      { name: 'postgres', env: {} }, { name: 'redis', env: {} }, { name: 'rabbitmq', env: {} },
      { name: 'postgis', env: {}, credentials: { password: 'set' } }, { name: 'minio', image: 'm', port: 1, env: {} },
    ]))).toEqual(['postgres', 'rabbitmq']);
  });

  test('newPassword: 24 hex characters, a new one each time', () => {
    const a = newPassword();
    const b = newPassword();
    expect(a).toMatch(/^[0-9a-f]{24}$/);
    expect(b).toMatch(/^[0-9a-f]{24}$/);
    expect(a).not.toBe(b);
  });
});

const app = (number: number, on: string, activity: number, extra: Partial<ReviewApp> = {}): ReviewApp => ({
  app: `shop-pr-${number}`, number, host: `pr-${number}.x.test`, on, tag: `build-${number}`, created: activity - 100, activity, owned: [], ...extra,
});

describe('plan: decisions about the review apps', () => {
  const R = { hosts: ['rev1', 'rev2', 'rev3'] } as ReviewConfig;

  test.each([
    ['no apps: the first host', [], 'shop-pr-9', 'rev1'],
    ['already on rev3: stays there', [app(9, 'rev3', 1), app(1, 'rev1', 1)], 'shop-pr-9', 'rev3'],
    ['the fewest apps', [app(1, 'rev1', 1), app(2, 'rev1', 1), app(3, 'rev2', 1), app(4, 'rev3', 1), app(5, 'rev3', 1)], 'shop-pr-9', 'rev2'],
    ['a tie: the first in review.hosts', [app(1, 'rev1', 1), app(3, 'rev2', 1), app(4, 'rev3', 1)], 'shop-pr-9', 'rev1'],
    ['a tie on the later hosts', [app(1, 'rev1', 1), app(2, 'rev1', 1)], 'shop-pr-9', 'rev2'],
    ['on a host no longer in review.hosts: placed anew', [app(9, 'old', 1), app(1, 'rev1', 1)], 'shop-pr-9', 'rev2'],
  ])('chooseHost: %s', (_name, apps, self, want) => {
    expect(chooseHost(R, apps as ReviewApp[], self)).toBe(want);
  });

  test('staleApps: closed pull requests and apps idle longer than idle_days, never the one being deployed', () => {
    const day = 86400;
    const now = 100 * day;
    const apps = [
      app(1, 'rev1', now - 8 * day),
      app(2, 'rev1', now - 7 * day), // exactly idle_days: kept
      app(3, 'rev2', now - 60),
      app(4, 'rev2', now - 30 * day), // self, however idle or closed
      app(5, 'rev2', now - 7 * day - 1),
    ];
    expect(staleApps(apps, 'shop-pr-4', now, 7, new Set([3, 4])).map((s) => [s.app.app, s.why])).toEqual([
      ['shop-pr-1', 'no deploy for 8 day(s) (review.idle_days: 7)'],
      ['shop-pr-3', 'pull request #3 is closed'],
      ['shop-pr-5', 'no deploy for 7 day(s) (review.idle_days: 7)'],
    ]);
    expect(staleApps(apps, 'shop-pr-4', now, 0.5, new Set()).map((s) => s.app.number)).toEqual([1, 2, 5]);
  });

  // The oldest is the one idle longest (300), and of two as old the lower number: #4, not #3.
  const three = [app(3, 'rev1', 500), app(5, 'rev2', 300), app(4, 'rev1', 300)];
  test.each([
    ['a redeploy at max has room', three, 'shop-pr-3', { max: 3, evict_oldest: false }, { kind: 'room' }],
    ['below max has room', three, 'shop-pr-9', { max: 4, evict_oldest: false }, { kind: 'room' }],
    ['at max: refused naming the oldest by activity, then number', three, 'shop-pr-9', { max: 3, evict_oldest: false }, { kind: 'refuse', oldest: three[2], live: 3 }],
    ['above max (max lowered): refused too', three, 'shop-pr-9', { max: 1, evict_oldest: false }, { kind: 'refuse', oldest: three[2], live: 3 }],
    ['at max with evict_oldest: the oldest goes', three, 'shop-pr-9', { max: 3, evict_oldest: true }, { kind: 'evict', app: three[2] }],
    ['no apps, max 1', [], 'shop-pr-9', { max: 1, evict_oldest: false }, { kind: 'room' }],
  ])('capDecision: %s', (_name, apps, self, cap, want) => {
    expect(capDecision(apps as ReviewApp[], self, cap)).toEqual(want);
  });

  test('capDecision does not reorder the list it is given', () => {
    const apps = [...three];
    capDecision(apps, 'shop-pr-9', { max: 3, evict_oldest: true });
    expect(apps).toEqual(three);
  });

  test.each([
    [['build-1', 'build-2', 'build-3'], ['build-3', 'build-2'], { remove: ['build-1'], keep: ['build-2', 'build-3'] }],
    [['build-1', 'build-2'], ['build-3', ''], { remove: ['build-1', 'build-2'], keep: [] }],
    [[], ['build-3', 'build-2'], { remove: [], keep: [] }],
  ])('ownedTagsToRemove(%j, keep %j)', (owned, keep, want) => {
    expect(ownedTagsToRemove(owned, keep)).toEqual(want);
  });

  test.each([
    [0, '0s'], [42.9, '42s'], [-5, '0s'], [60, '1m'], [3599, '59m'], [3600, '1h 0m'], [5 * 3600 + 2 * 60 + 7, '5h 2m'], [86400, '1d 0h'], [3 * 86400 + 4 * 3600 + 59, '3d 4h'],
  ])('ago(%p) = %p', (s, want) => {
    expect(ago(s)).toBe(want);
  });

  test('reviewRows: by pull request number, "-" before the first release', () => {
    const now = 10_000;
    const rows = reviewRows([
      app(12, 'rev2', now - 90, { created: now - 3 * 86400 - 3600 }),
      app(3, 'rev1', now - 7200, { created: now - 7200, tag: '' }),
    ], now, (k) => `https://pr-${k}.x.test`);
    expect(rows).toEqual([
      ['shop-pr-3', '#3', 'https://pr-3.x.test', '-', 'rev1', '2h 0m', '2h 0m'],
      ['shop-pr-12', '#12', 'https://pr-12.x.test', 'build-12', 'rev2', '3d 1h', '1m'],
    ]);
  });
});

describe('the review section as loaded', () => {
  const MIN = 'app: shop\nimage: reg.test/shop\ndeploy:\n  roles:\n    web: { hosts: [app1] }\n';

  test('defaults: max 5, idle_days 7, evict_oldest false, tls from deploy.proxy, services in their long form', () => {
    const c = load(`${MIN}  proxy: { hosts: [shop.example.com], tls: internal }\nreview:\n  hosts: [rev1]\n  host: pr-{number}.review.example.com\n  services: [postgres, { name: minio, image: minio/minio, port: 9000, env: { A: 1 }, ready: { command: [mc, ready] } }]\n`);
    expect(c.review).toEqual<ReviewConfig>({
      hosts: ['rev1'], host: 'pr-{number}.review.example.com', tls: 'internal',
      services: [{ name: 'postgres', env: {} }, { name: 'minio', image: 'minio/minio', port: 9000, env: { A: '1' }, ready: { command: ['mc', 'ready'] } }],
      env: { clear: {}, secret: [] }, max: 5, evict_oldest: false, idle_days: 7,
    });
  });

  test('tls follows deploy.proxy (auto with host names, off without); every key given is kept', () => {
    expect(load(`${MIN}  proxy: { hosts: [shop.example.com] }\nreview: { hosts: [rev1], host: "pr-{number}.r.test" }\n`).review!.tls).toBe('auto');
    expect(load(`${MIN}review: { hosts: [rev1], host: "pr-{number}.r.test" }\n`).review!.tls).toBe('off');
    expect(load(`${MIN}  proxy: { hosts: [shop.example.com], tls: "off" }\nreview: { hosts: [rev1], host: "pr-{number}.r.test" }\n`).review!.tls).toBe('off');
    const c = load(`${MIN}  proxy: { tls: "off" }\nreview:\n  hosts: [rev1, 'ops@rev2:2200']\n  host: pr-{number}.r.test\n  tls: auto\n  env: { clear: { DEBUG: true, N: 3 }, secret: [TOKEN] }\n  max: 2\n  evict_oldest: true\n  idle_days: 1.5\n`);
    expect(c.review).toEqual<ReviewConfig>({
      hosts: ['rev1', 'ops@rev2:2200'], host: 'pr-{number}.r.test', tls: 'auto', services: [],
      env: { clear: { DEBUG: 'true', N: '3' }, secret: ['TOKEN'] }, max: 2, evict_oldest: true, idle_days: 1.5,
    });
  });

  test('a file with environments: the review section is the same for each; its tls follows the named environment\'s proxy', () => {
    const yaml = FULL.replace('      proxy: { hosts: [stage.example.com] }\n', '      proxy: { hosts: [stage.example.com], tls: internal }\n');
    const staging = load(yaml, 'staging');
    const production = load(yaml, 'production');
    expect(staging.review).toEqual({ ...production.review, tls: 'internal' });
    expect(production.review!.tls).toBe('auto');
    expect(production.review!.hosts).toEqual(['rev1', 'deploy@rev2:2222']);
    expect(production.review!.env).toEqual({ clear: { DEBUG: '1', SHARED: 'review', REDIS_URL: 'redis://override/1' }, secret: ['REVIEW_TOKEN'] });
  });
});

describe('commands: pure parsers', () => {
  test('parseReviewList: the host\'s clock, each app closed by `end`, fields missing in an old record defaulted', () => {
    const out = [
      'now=1765000000',
      'app=shop-pr-12', 'of=shop', 'number=12', 'host=pr-12.review.example.com', 'tag=build-40', 'created=1764900000', 'activity=1764990000', 'owned=build-39 build-40', 'end',
      'app=shop-pr-3', 'of=shop', 'number=3', 'created=1764000000', 'end',
      // Not a review app of a usable number: dropped.
      'app=shop-pr-x', 'of=shop', 'number=x', 'end',
      // A record cut short (no `end`): not taken.
      'app=shop-pr-9', 'of=shop', 'number=9', '',
    ].join('\n');
    expect(parseReviewList(out, 'rev2')).toEqual({
      now: 1765000000,
      apps: [
        { app: 'shop-pr-12', number: 12, host: 'pr-12.review.example.com', on: 'rev2', tag: 'build-40', created: 1764900000, activity: 1764990000, owned: ['build-39', 'build-40'] },
        { app: 'shop-pr-3', number: 3, host: '', on: 'rev2', tag: '', created: 1764000000, activity: 1764000000, owned: [] },
      ],
    });
    expect(parseReviewList('now=5\n', 'rev1')).toEqual({ now: 5, apps: [] });
    expect(parseReviewList('', 'rev1')).toEqual({ now: 0, apps: [] });
  });

  test('parseKeyValues: NAME=VALUE lines, the first = splits, comments and blank lines skipped', () => {
    expect(parseKeyValues('postgres=abc\n# note=1\n\nrabbitmq=x=y\nredis= spaced \nnoequals\n')).toEqual({ postgres: 'abc', rabbitmq: 'x=y', redis: 'spaced' });
  });

  test('paths and plain argv', () => {
    expect([reviewRecordPath('shop-pr-3'), reviewCredentialsPath('shop-pr-3'), serviceEnvPath('shop-pr-3', 'postgres'), pulledImagesPath('shop')]).toEqual([
      '/var/lib/pallet/shop-pr-3/review', '/var/lib/pallet/shop-pr-3/services/credentials', '/var/lib/pallet/shop-pr-3/services/postgres.env', '/var/lib/pallet/.review-shop-images',
    ]);
    expect(hasImageArgv('reg.test/shop:build-4')).toEqual(['docker', 'image', 'inspect', '--format', '{{.Id}}', 'reg.test/shop:build-4']);
  });

  test('every script is sh -c BODY pallet-NAME with the data as its arguments (whole argv after the body)', () => {
    const after = (argv: string[]) => [argv[0], argv[1], ...argv.slice(3)];
    expect(after(reviewListArgv('shop'))).toEqual(['sh', '-c', 'pallet-review-list', '/var/lib/pallet', 'shop']);
    expect(after(markReviewArgv('shop-pr-3', 'shop', 3, 'pr-3.x.test', 'build-9', ['build-8', 'build-9']))).toEqual(['sh', '-c', 'pallet-review-mark', '/var/lib/pallet/shop-pr-3', 'shop', '3', 'pr-3.x.test', 'build-9', 'build-8 build-9']);
    expect(after(writePrivateFileArgv('/var/lib/pallet/shop-pr-3/services/credentials'))).toEqual(['sh', '-c', 'pallet-write-private-file', '/var/lib/pallet/shop-pr-3/services/credentials']);
    expect(after(readPrivateFileArgv('/f'))).toEqual(['sh', '-c', 'pallet-read-private-file', '/f']);
    expect(after(ensureNetworkArgv('pallet-app-shop-pr-3', 'shop-pr-3'))).toEqual(['sh', '-c', 'pallet-ensure-network', 'pallet-app-shop-pr-3', 'shop-pr-3']);
    expect(after(servicesDownArgv('shop-pr-3'))).toEqual(['sh', '-c', 'pallet-review-services-down', 'shop-pr-3']);
    expect(after(removeOwnedImagesArgv('reg.test/shop', 'shop-pr-3', ['build-1', 'build-2']))).toEqual(['sh', '-c', 'pallet-review-remove-images', 'reg.test/shop', '/var/lib/pallet', 'shop-pr-3', 'build-1', 'build-2']);
    expect(after(recordPulledArgv('/var/lib/pallet/.review-shop-images', 'postgres:16'))).toEqual(['sh', '-c', 'pallet-review-record-pulled', '/var/lib/pallet/.review-shop-images', 'postgres:16']);
    expect(after(removePulledImagesArgv('/var/lib/pallet/.review-shop-images'))).toEqual(['sh', '-c', 'pallet-review-remove-pulled', '/var/lib/pallet/.review-shop-images']);
    expect(after(serviceUpArgv({ container: 'shop-pr-3-postgres', image: 'postgres:16', network: 'pallet-app-shop-pr-3', alias: 'postgres', envFile: '/e', review: 'shop-pr-3', readySeconds: 120, probe: ['pg_isready', '-q'] }))).toEqual([
      'sh', '-c', 'pallet-review-service-up', 'shop-pr-3-postgres', 'postgres:16', 'pallet-app-shop-pr-3', 'postgres', '/e', 'shop-pr-3', '120', 'pg_isready', '-q',
    ]);
  });
});

describe('commands: the host scripts in a real sh, docker and date played by stubs', () => {
  let dir: string;
  let root: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'pallet-review-sh-'));
    root = path.join(dir, 'state');
    mkdirSync(root);
    const bin = path.join(dir, 'bin');
    mkdirSync(bin);
    // docker: logs each argv (tab-separated) to $STUB/log and answers from files in $STUB:
    //   images    refs `docker image inspect` finds (image rm takes them away)
    //   rm-fails  refs `docker image rm` refuses (a container uses them)
    //   inspect   `docker inspect --format '{{.Config.Image}} {{.State.Running}}'` (absent: no such container)
    //   running   `docker inspect --format '{{.State.Running}}'` (default true)
    //   ps        container ids with the review label (rm -f takes them away, but those in `stuck`)
    //   exec-ok   after how many failed `docker exec` calls the probe passes (absent: never)
    writeFileSync(path.join(bin, 'docker'), `#!/bin/sh
for a in "$@"; do printf '%s\\t' "$a"; done >> "$STUB/log"; echo >> "$STUB/log"
has() { [ -f "$STUB/$1" ] && grep -qxF -- "$2" "$STUB/$1"; }
case "$1" in
  image)
    case "$2" in
      inspect) shift $(($# - 1)); has images "$1"; exit $? ;;
      rm) has rm-fails "$3" && { echo "conflict: image is being used" >&2; exit 1; }
          has images "$3" || exit 1
          grep -vxF -- "$3" "$STUB/images" > "$STUB/images.new"; mv "$STUB/images.new" "$STUB/images"; exit 0 ;;
    esac ;;
  inspect)
    case "$3" in
      *Config.Image*) [ -f "$STUB/inspect" ] || exit 1; cat "$STUB/inspect"; exit 0 ;;
      *) cat "$STUB/running" 2>/dev/null || echo true; exit 0 ;;
    esac ;;
  ps) cat "$STUB/ps" 2>/dev/null; exit 0 ;;
  rm) shift 2; [ "$1" = -v ] && shift
      for id in "$@"; do has stuck "$id" || { grep -vxF -- "$id" "$STUB/ps" > "$STUB/ps.new" 2>/dev/null; mv "$STUB/ps.new" "$STUB/ps" 2>/dev/null; }; done
      exit 0 ;;
  run) echo 0123456789ab; exit "\${RUN_EXIT:-0}" ;;
  start) exit 0 ;;
  exec) [ -f "$STUB/exec-ok" ] || exit 1
        left=$(cat "$STUB/exec-ok"); [ "$left" -le 0 ] && exit 0
        echo $((left - 1)) > "$STUB/exec-ok"; exit 1 ;;
  logs) echo "FATAL: data directory has wrong ownership"; exit 0 ;;
esac
exit 0
`);
    chmodSync(path.join(bin, 'docker'), 0o755);
    // date +%s: the host's clock, $NOW.
    writeFileSync(path.join(bin, 'date'), '#!/bin/sh\necho "$NOW"\n');
    chmodSync(path.join(bin, 'date'), 0o755);
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  /** Runs an argv with the state root moved into the temp dir (in the arguments only, never the body). */
  const sh = (argv: string[], opts: { now?: number; input?: string; env?: Record<string, string> } = {}) => {
    const args = argv.slice(3).map((a) => (a.startsWith('/var/lib/pallet') ? root + a.slice('/var/lib/pallet'.length) : a));
    const r = spawnSync(argv[0], [argv[1], argv[2], ...args], {
      env: { PATH: `${path.join(dir, 'bin')}:${process.env.PATH}`, STUB: dir, NOW: String(opts.now ?? 1_000_000), ...opts.env }, input: opts.input ?? '', encoding: 'utf8',
      // A loop that never ends fails the test instead of hanging the run.
      timeout: 20_000,
    });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
  };
  /** docker's argv, one array per call, the temp state root shown as /var/lib/pallet again. */
  const log = (): string[][] => (existsSync(path.join(dir, 'log')) ? readFileSync(path.join(dir, 'log'), 'utf8').split('\n').filter(Boolean)
    .map((l) => l.split('\t').slice(0, -1).map((a) => (a.startsWith(root) ? `/var/lib/pallet${a.slice(root.length)}` : a))) : []);
  const stub = (file: string, lines: string[]) => writeFileSync(path.join(dir, file), lines.map((l) => `${l}\n`).join(''));
  const stubText = (file: string) => (existsSync(path.join(dir, file)) ? readFileSync(path.join(dir, file), 'utf8') : undefined);
  const record = (app: string) => readFileSync(path.join(root, app, 'review'), 'utf8');

  test('MARK: created is kept across marks, activity moves, an empty tag keeps the recorded one, owned is replaced', () => {
    expect(sh(markReviewArgv('shop-pr-3', 'shop', 3, 'pr-3.x.test', '', ['build-9']), { now: 1000 })).toEqual({ code: 0, stdout: '', stderr: '' });
    expect(record('shop-pr-3')).toBe('of=shop\nnumber=3\nhost=pr-3.x.test\ntag=\ncreated=1000\nactivity=1000\nowned=build-9\n');
    sh(markReviewArgv('shop-pr-3', 'shop', 3, 'pr-3.x.test', 'build-9', ['build-9']), { now: 1500 });
    expect(record('shop-pr-3')).toBe('of=shop\nnumber=3\nhost=pr-3.x.test\ntag=build-9\ncreated=1000\nactivity=1500\nowned=build-9\n');
    // The next deploy's first mark (tag '') keeps build-9 until the release succeeds.
    sh(markReviewArgv('shop-pr-3', 'shop', 3, 'pr-3.x.test', '', ['build-9', 'build-10']), { now: 2000 });
    expect(record('shop-pr-3')).toBe('of=shop\nnumber=3\nhost=pr-3.x.test\ntag=build-9\ncreated=1000\nactivity=2000\nowned=build-9 build-10\n');
    sh(markReviewArgv('shop-pr-3', 'shop', 3, 'pr-3.x.test', 'build-10', []), { now: 2500 });
    expect(record('shop-pr-3')).toBe('of=shop\nnumber=3\nhost=pr-3.x.test\ntag=build-10\ncreated=1000\nactivity=2500\nowned=\n');
    expect(existsSync(path.join(root, 'shop-pr-3', 'review.tmp'))).toBe(false);
  });

  test('LIST: the review apps of this app only (not another app\'s, not a plain state directory), read back by parseReviewList', () => {
    sh(markReviewArgv('shop-pr-3', 'shop', 3, 'pr-3.x.test', 'build-9', ['build-9']), { now: 1000 });
    sh(markReviewArgv('shop-pr-12', 'shop', 12, 'pr-12.x.test', '', []), { now: 2000 });
    sh(markReviewArgv('blog-pr-1', 'blog', 1, 'pr-1.blog.test', 'b-1', []), { now: 2000 });
    // shop itself, and an app whose name starts like this one's, are no review apps of shop.
    mkdirSync(path.join(root, 'shop'));
    writeFileSync(path.join(root, 'shop', 'TAG'), 'build-9\n');
    sh(markReviewArgv('shopx-pr-4', 'shopx', 4, 'pr-4.x.test', '', []), { now: 2000 });
    const r = sh(reviewListArgv('shop'), { now: 5000 });
    expect(r.code).toBe(0);
    expect(parseReviewList(r.stdout, 'rev1')).toEqual({
      now: 5000,
      apps: [
        { app: 'shop-pr-12', number: 12, host: 'pr-12.x.test', on: 'rev1', tag: '', created: 2000, activity: 2000, owned: [] },
        { app: 'shop-pr-3', number: 3, host: 'pr-3.x.test', on: 'rev1', tag: 'build-9', created: 1000, activity: 1000, owned: ['build-9'] },
      ],
    });
  });

  test('LIST on a host without any state: only the clock', () => {
    rmSync(root, { recursive: true });
    expect(sh(reviewListArgv('shop'), { now: 42 })).toEqual({ code: 0, stdout: 'now=42\n', stderr: '' });
  });

  test('WRITE_PRIVATE: content from stdin, the file 0600 in a 0700 directory, replaced whole; READ_PRIVATE prints it, nothing when absent', () => {
    const file = reviewCredentialsPath('shop-pr-3');
    const onDisk = path.join(root, 'shop-pr-3/services/credentials');
    const w = sh(writePrivateFileArgv(file), { input: 'postgres=0123abcd\nrabbitmq=ffee\n' });
    expect(w).toEqual({ code: 0, stdout: '', stderr: '' });
    expect(readFileSync(onDisk, 'utf8')).toBe('postgres=0123abcd\nrabbitmq=ffee\n');
    expect((statSync(onDisk).mode & 0o777).toString(8)).toBe('600');
    expect((statSync(path.dirname(onDisk)).mode & 0o777).toString(8)).toBe('700');
    sh(writePrivateFileArgv(file), { input: 'postgres=new\n' });
    expect(readFileSync(onDisk, 'utf8')).toBe('postgres=new\n');
    expect((statSync(onDisk).mode & 0o777).toString(8)).toBe('600');
    expect(existsSync(`${onDisk}.tmp`)).toBe(false);
    const r = sh(readPrivateFileArgv(file));
    expect(r).toEqual({ code: 0, stdout: 'postgres=new\n', stderr: '' });
    expect(parseKeyValues(r.stdout)).toEqual({ postgres: 'new' });
    expect(sh(readPrivateFileArgv(reviewCredentialsPath('shop-pr-4')))).toEqual({ code: 0, stdout: '', stderr: '' });
  });

  test('SERVICES_DOWN: every container with the review label, volumes with them; one that stays is counted and fails the step', () => {
    stub('ps', ['c1', 'c2']);
    expect(sh(servicesDownArgv('shop-pr-3'))).toEqual({ code: 0, stdout: 'removed=2\n', stderr: '' });
    expect(log()).toEqual([
      ['ps', '-aq', '--filter', 'label=pallet.review=shop-pr-3'],
      ['rm', '-f', '-v', 'c1', 'c2'],
      ['ps', '-aq', '--filter', 'label=pallet.review=shop-pr-3'],
    ]);
    // None left: a second run removes nothing and succeeds.
    expect(sh(servicesDownArgv('shop-pr-3'))).toEqual({ code: 0, stdout: 'removed=0\n', stderr: '' });
    stub('ps', ['c1', 'c2', 'c3']);
    stub('stuck', ['c2']);
    expect(sh(servicesDownArgv('shop-pr-3'))).toEqual({ code: 1, stdout: 'removed=2\nleft=1\n', stderr: '' });
  });

  test('REMOVE_OWNED: removes the owned tags, but one another app\'s TAG or REVERT names, one in use, or one already gone', () => {
    const repo = 'reg.test/shop';
    for (const [a, tag, revert] of [['shop', 'build-5', 'build-4'], ['shop-pr-7', 'build-6', ''], ['shop-pr-3', 'build-3', 'build-2']]) {
      mkdirSync(path.join(root, a), { recursive: true });
      writeFileSync(path.join(root, a, 'TAG'), `${tag}\n`);
      if (revert) writeFileSync(path.join(root, a, 'REVERT'), `${revert}\n`);
    }
    stub('images', ['build-1', 'build-2', 'build-3', 'build-4', 'build-6', 'build-8'].map((t) => `${repo}:${t}`));
    stub('rm-fails', [`${repo}:build-8`]);
    // shop-pr-3 owns build-1..4, 6, 8 and 9 (gone already): its own TAG and REVERT do not keep theirs.
    const r = sh(removeOwnedImagesArgv(repo, 'shop-pr-3', ['build-1', 'build-2', 'build-3', 'build-4', 'build-6', 'build-8', 'build-9']));
    expect(r).toEqual({ code: 0, stdout: 'removed=3\nkept=3\n', stderr: '' });
    expect(log().filter((a) => a[1] === 'rm').map((a) => a[2])).toEqual([`${repo}:build-1`, `${repo}:build-2`, `${repo}:build-3`, `${repo}:build-8`]);
    expect(stubText('images')).toBe([`${repo}:build-4`, `${repo}:build-6`, `${repo}:build-8`].map((l) => `${l}\n`).join(''));
  });

  test('RECORD_PULLED lists each image once; REMOVE_PULLED keeps those `docker image rm` refuses and deletes the list when all are gone', () => {
    const file = pulledImagesPath('shop');
    const onDisk = path.join(root, '.review-shop-images');
    for (const ref of ['postgres:16', 'redis:7', 'postgres:16', 'minio/minio:latest']) expect(sh(recordPulledArgv(file, ref)).code).toBe(0);
    expect(readFileSync(onDisk, 'utf8')).toBe('postgres:16\nredis:7\nminio/minio:latest\n');
    // A list is no state directory: LIST does not take it for an app.
    expect(sh(reviewListArgv('shop')).stdout).toBe('now=1000000\n');
    stub('images', ['postgres:16', 'redis:7']);
    stub('rm-fails', ['redis:7']);
    // minio is not on the host any more: it counts as removed.
    expect(sh(removePulledImagesArgv(file))).toEqual({ code: 0, stdout: 'removed=2\nkept=1\n', stderr: '' });
    expect(readFileSync(onDisk, 'utf8')).toBe('redis:7\n');
    stub('rm-fails', []);
    expect(sh(removePulledImagesArgv(file))).toEqual({ code: 0, stdout: 'removed=1\nkept=0\n', stderr: '' });
    expect(existsSync(onDisk)).toBe(false);
    expect(sh(removePulledImagesArgv(file))).toEqual({ code: 0, stdout: 'removed=0\nkept=0\n', stderr: '' });
  });

  describe('SERVICE_UP', () => {
    const spec = { container: 'shop-pr-3-postgres', image: 'postgres:16', network: 'pallet-app-shop-pr-3', alias: 'postgres', envFile: serviceEnvPath('shop-pr-3', 'postgres'), review: 'shop-pr-3', readySeconds: 1, probe: ['pg_isready', '-q', '-h', '127.0.0.1'] };
    const RUN = ['run', '-d', '--name', 'shop-pr-3-postgres', '--network', 'pallet-app-shop-pr-3', '--network-alias', 'postgres', '--label', 'pallet.review=shop-pr-3', '--label', 'pallet.service=postgres', '--env-file', '/var/lib/pallet/shop-pr-3/services/postgres.env', '--restart', 'unless-stopped', 'postgres:16'];
    const INSPECT = ['inspect', '--format', '{{.Config.Image}} {{.State.Running}}', 'shop-pr-3-postgres'];
    const EXEC = ['exec', 'shop-pr-3-postgres', 'pg_isready', '-q', '-h', '127.0.0.1'];

    test.each([
      ['no container: created', undefined, [INSPECT, RUN, EXEC], 'created'],
      ['running, same image: kept (its data with it)', 'postgres:16 true', [INSPECT, EXEC], 'kept'],
      ['stopped, same image: started', 'postgres:16 false', [INSPECT, ['start', 'shop-pr-3-postgres'], EXEC], 'started'],
      ['another image: replaced, its volumes with it', 'postgres:15 true', [INSPECT, ['rm', '-f', '-v', 'shop-pr-3-postgres'], RUN, EXEC], 'replaced'],
    ])('%s', (_name, inspect, calls, state) => {
      if (inspect) stub('inspect', [inspect]);
      stub('exec-ok', ['0']);
      expect(sh(serviceUpArgv(spec))).toEqual({ code: 0, stdout: `state=${state}\nready\n`, stderr: '' });
      expect(log()).toEqual(calls);
    });

    test('the readiness loop runs until the probe passes', () => {
      stub('exec-ok', ['1']);
      expect(sh(serviceUpArgv({ ...spec, readySeconds: 5 }))).toEqual({ code: 0, stdout: 'state=created\nready\n', stderr: '' });
      expect(log().filter((a) => a[0] === 'exec')).toEqual([EXEC, EXEC]);
    });

    test('a probe that never passes: exit 5, not ready, with the last log lines', () => {
      const r = sh(serviceUpArgv(spec));
      expect(r).toEqual({ code: 5, stdout: 'state=created\nnot ready after 1s; its check (pg_isready -q -h 127.0.0.1) said: nothing; its last log lines: FATAL: data directory has wrong ownership \n', stderr: '' });
      expect(log().filter((a) => a[0] === 'exec')).toEqual([EXEC, EXEC]);
    });

    test('a container that exits while waiting: exit 5 with its log lines', () => {
      writeFileSync(path.join(dir, 'running'), 'false\n');
      const r = sh(serviceUpArgv({ ...spec, readySeconds: 30 }));
      expect(r).toEqual({ code: 5, stdout: 'state=created\nit exited; its last log lines: FATAL: data directory has wrong ownership \n', stderr: '' });
    });

    test('a container that cannot start: exit 4, removed again', () => {
      const r = sh(serviceUpArgv(spec), { env: { RUN_EXIT: '125' } });
      expect(r.code).toBe(4);
      expect(log().slice(1)).toEqual([RUN, ['rm', '-f', '-v', 'shop-pr-3-postgres']]);
    });

    test('the credentials travel on stdin into the 0600 env file; no argv carries them', () => {
      const password = newPassword();
      const { services } = planReviewServices({ hosts: ['rev1'], host: 'pr-{number}.x.test', tls: 'auto', services: [{ name: 'postgres', env: {} }], env: { clear: {}, secret: [] }, max: 5, evict_oldest: false, idle_days: 7 }, 'shop-pr-3', { postgres: password });
      const s = services[0];
      const content = Object.entries(s.containerEnv).map(([k, v]) => `${k}=${v}\n`).join('');
      const write = writePrivateFileArgv(serviceEnvPath('shop-pr-3', s.name));
      const up = serviceUpArgv({ container: s.container, image: s.image, network: 'pallet-app-shop-pr-3', alias: s.alias, envFile: serviceEnvPath('shop-pr-3', s.name), review: 'shop-pr-3', readySeconds: 1, probe: s.probe });
      expect(write.join(' ')).not.toContain(password);
      expect(up.join(' ')).not.toContain(password);
      stub('exec-ok', ['0']);
      expect(sh(write, { input: content }).code).toBe(0);
      expect(sh(up).code).toBe(0);
      const envFile = path.join(root, 'shop-pr-3/services/postgres.env');
      expect(readFileSync(envFile, 'utf8')).toBe(`POSTGRES_USER=app\nPOSTGRES_PASSWORD=${password}\nPOSTGRES_DB=app\n`);
      expect((statSync(envFile).mode & 0o777).toString(8)).toBe('600');
      expect(log().find((a) => a[0] === 'run')).toEqual(RUN);
      expect(log().length).toBeGreaterThan(0);
      expect(readFileSync(path.join(dir, 'log'), 'utf8')).not.toContain(password);
    });
  });
});

describe('event: the pull request of a run, and forks refused', () => {
  const payload = (head: string | null, base = 'octo/shop', extra: Record<string, unknown> = {}) => JSON.stringify({
    action: 'synchronize', number: 12,
    pull_request: { number: 12, head: { ref: 'feature', repo: head === null ? null : { full_name: head } }, base: { ref: 'main', repo: { full_name: base } } },
    ...extra,
  });
  const fromFile = (event: string, body: string | undefined, env: Record<string, string> = {}) => {
    const file = path.join(tmp, `event-${++n}.json`);
    if (body !== undefined) writeFileSync(file, body);
    return pullRequestEvent({ GITHUB_EVENT_NAME: event, GITHUB_EVENT_PATH: file, GITHUB_REPOSITORY: 'octo/shop', ...env });
  };

  test.each([
    ['pull_request', payload('octo/shop'), { event: 'pull_request', number: 12, action: 'synchronize', headRepository: 'octo/shop', baseRepository: 'octo/shop' }],
    ['pull_request_target', payload('mallory/shop'), { event: 'pull_request_target', number: 12, action: 'synchronize', headRepository: 'mallory/shop', baseRepository: 'octo/shop' }],
    ['pull_request', payload(null, 'octo/shop', { action: 'closed' }), { event: 'pull_request', number: 12, action: 'closed', headRepository: '', baseRepository: 'octo/shop' }],
    // Without pull_request.number, the payload's number; without base, GITHUB_REPOSITORY.
    ['pull_request', JSON.stringify({ action: 'opened', number: 5, pull_request: { head: { repo: { full_name: 'octo/shop' } } } }), { event: 'pull_request', number: 5, action: 'opened', headRepository: 'octo/shop', baseRepository: 'octo/shop' }],
  ])('%s read from the payload file', (event, body, want) => {
    expect(fromFile(event, body)).toEqual(want);
  });

  test('no pull request: a push, a dispatch, the CLI, or no payload path', () => {
    expect(fromFile('push', payload('octo/shop'))).toBeUndefined();
    expect(fromFile('workflow_dispatch', payload('octo/shop'))).toBeUndefined();
    expect(pullRequestEvent({})).toBeUndefined();
    expect(pullRequestEvent({ GITHUB_EVENT_NAME: 'pull_request' })).toBeUndefined();
  });

  test('a payload that cannot be read or parsed is a UserError naming the event', () => {
    expect(errorOf(() => fromFile('pull_request', undefined)).message).toMatch(/^cannot read the pull_request event payload \(GITHUB_EVENT_PATH\): ENOENT/);
    expect(errorOf(() => fromFile('pull_request', '{not json')).message).toMatch(/^cannot read the pull_request event payload \(GITHUB_EVENT_PATH\): /);
  });

  const ev = (head: string, base = 'octo/shop'): PullRequestEvent => ({ event: 'pull_request', number: 12, action: 'opened', headRepository: head, baseRepository: base });

  test('refuseForkDeploy: the same repository and runs outside a pull request pass', () => {
    expect(() => refuseForkDeploy(ev('octo/shop'))).not.toThrow();
    expect(() => refuseForkDeploy(undefined)).not.toThrow();
  });

  test.each([
    ['a fork', ev('mallory/shop'), 'review deploy refused: pull request #12 comes from the fork mallory/shop, not octo/shop; code from a fork never runs on the review hosts with this repository\'s secrets'],
    ['a deleted head repository', ev(''), 'review deploy refused: pull request #12 comes from a repository that no longer exists, not octo/shop; code from a fork never runs on the review hosts with this repository\'s secrets'],
    ['a fork with the same name under another owner', ev('octo-fork/shop'), 'review deploy refused: pull request #12 comes from the fork octo-fork/shop, not octo/shop; code from a fork never runs on the review hosts with this repository\'s secrets'],
  ])('refuseForkDeploy: %s is refused', (_name, e, message) => {
    const err = errorOf(() => refuseForkDeploy(e));
    expect(err.message).toBe(message);
    expect(err.hint).toMatch(/push its branch to this repository/);
  });

  test('a fork read from the payload is refused end to end', () => {
    expect(() => refuseForkDeploy(fromFile('pull_request', payload('mallory/shop')))).toThrow(/comes from the fork mallory\/shop, not octo\/shop/);
    expect(() => refuseForkDeploy(fromFile('pull_request', payload(null)))).toThrow(/a repository that no longer exists/);
    expect(() => refuseForkDeploy(fromFile('pull_request', payload('octo/shop')))).not.toThrow();
  });
});
