// Maintenance mode: the Caddy route that answers 503 with Retry-After and the page (static files
// still served), the built-in page, and a deploy with deploy.maintenance.during_tasks over fake
// hosts: the page is up on every web host before the release tasks, each switch takes it down,
// and failing tasks take it down at once.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { routeFragments } from '../../src/deploy/proxy/caddy.js';
import { defaultMaintenancePage, maintenanceAnswer } from '../../src/deploy/proxy/maintenance.js';
import { loadConfig } from '../../src/config/load.js';
import { executeDeploy } from '../../src/deploy/index.js';
import { planDeploy } from '../../src/deploy/plan.js';
import { parseCliArgs, parseInputs } from '../../src/inputs.js';
import { CleanupLedger } from '../../src/util/cleanup.js';
import { CliReporter, setReporter } from '../../src/util/reporter.js';
import { FakeFleet, type FakeHost } from '../helpers/fake-host.js';

let out: string[];
beforeEach(() => {
  out = [];
  setReporter(new CliReporter((l) => out.push(l), (l) => out.push(l)));
});

test('the route answers 503 with Retry-After and the page instead of the app; the static files are still served', () => {
  const f = routeFragments({ hosts: ['shop.test'], tls: 'off', upstream: 'shop-web-1', port: 8000, static: { url: '/static/', root: '/r' }, maintenance: { page: '<h1>soon</h1>', retryAfter: 120 } });
  const handle = JSON.parse(f.http).handle;
  expect(handle[1].routes[0].match).toEqual([{ path: ['/static/*'] }]);
  expect(handle[1].routes[1]).toEqual({ handle: [{ handler: 'static_response', status_code: 503, headers: { 'Content-Type': ['text/html; charset=utf-8'], 'Retry-After': ['120'], 'Cache-Control': ['no-store'] }, body: '<h1>soon</h1>' }] });
  expect(JSON.stringify(handle)).not.toContain('reverse_proxy');
});

test('the built-in page carries the message, escaped; deploy.maintenance.page wins unless a message is given', () => {
  expect(defaultMaintenancePage('Back at 10:00 <b>UTC</b> & "soon"')).toContain('<p>Back at 10:00 &#60;b&#62;UTC&#60;/b&#62; &#38; &#34;soon&#34;</p>');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pallet-maint-'));
  try {
    writeFileSync(path.join(dir, 'down.html'), '<p>ours</p>\n');
    writeFileSync(path.join(dir, 'pallet.yml'), 'app: shop\nimage: reg.test/shop\ndeploy:\n  roles: { web: { hosts: [a] } }\n  proxy: { hosts: [shop.test] }\n  maintenance: { page: down.html, retry_after: 30 }\n');
    const plan = planDeploy(loadConfig(path.join(dir, 'pallet.yml')));
    expect(maintenanceAnswer(plan)).toEqual({ page: '<p>ours</p>\n', retryAfter: 30 });
    expect(maintenanceAnswer(plan, 'brb').page).toContain('<p>brb</p>');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('pallet maintenance on|off are the maintenance-on / -off commands, with --message', () => {
  const inputs = parseInputs(parseCliArgs(['maintenance', 'on', '--message', 'brb']).raw, 'flag');
  expect([inputs.command, inputs.ops.message]).toEqual(['maintenance-on', 'brb']);
  expect(parseInputs(parseCliArgs(['maintenance', 'off']).raw, 'flag').command).toBe('maintenance-off');
  expect(() => parseCliArgs(['maintenance', 'status'])).toThrow(/pallet maintenance needs 'on' or 'off', got 'status'/);
});

describe('a deploy with deploy.maintenance.during_tasks over fake hosts', () => {
  const IMAGE = 'reg.test/shop';
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'pallet-maint-engine-'));
    writeFileSync(path.join(dir, 'pallet.yml'), `app: shop\nimage: ${IMAGE}\ndeploy:\n  ssh: { user: deploy }\n  env_file: /etc/pallet/shop.env\n  proxy: { hosts: [shop.test], tls: "off", drain_timeout: 1 }\n  maintenance: { during_tasks: true }\n  roles:\n    web: { hosts: [a, b], health: { timeout: 2 }, stop_timeout: 1 }\n    worker: { hosts: [c], stable: 1, stop_timeout: 1 }\n`);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const deploy = async (f: FakeFleet, tag: string) => {
    const r = await executeDeploy({
      mode: 'deploy', config: loadConfig(path.join(dir, 'pallet.yml')), tag, runTasks: true, ssh: { insecure: true }, lockTimeout: 0, breakLock: false,
      ledger: new CleanupLedger(), env: { GITHUB_RUN_ID: '7', GITHUB_ACTOR: 'octo' }, signal: new AbortController().signal, connect: f.connect,
    });
    f.settle();
    return r;
  };
  const inMaintenance = (h: FakeHost) => h.routes.get('shop+web')?.http.includes('"status_code":503') ?? false;
  /** How many times the route of `host` was set since trace position `from`. */
  const routeChanges = (f: FakeFleet, host: string, from: number) => f.trace.slice(from).filter((t) => t === `${host} set-route start`).length;

  test('the page is up on every web host before the tasks; each host\'s switch takes it down; the worker host is not touched', async () => {
    const f = new FakeFleet();
    f.registry.add('caddy:2');
    f.push(IMAGE, 'build-1');
    f.push(IMAGE, 'build-2');
    // A first deploy has no route to put the page on: the tasks run without it.
    expect((await deploy(f, 'build-1')).ok).toBe(true);
    expect(out.join('\n')).toMatch(/a: web not deployed here yet \(no route\): left as it is/);
    let upDuringTasks: boolean[] = [];
    f.host('a').beforeCommand = (name) => { if (name === 'docker run --rm') upDuringTasks = ['a', 'b'].map((l) => inMaintenance(f.host(l))); };
    const mark = f.trace.length;
    expect((await deploy(f, 'build-2')).ok).toBe(true);
    expect(upDuringTasks).toEqual([true, true]);
    expect(['a', 'b'].map((l) => inMaintenance(f.host(l)))).toEqual([false, false]);
    // Up once, down by the switch: two route changes per web host, none on the worker's.
    expect(['a', 'b', 'c'].map((l) => routeChanges(f, l, mark))).toEqual([2, 2, 0]);
  });

  test('failing tasks take the page down at once: every host serves the previous version again', async () => {
    const f = new FakeFleet();
    f.registry.add('caddy:2');
    f.push(IMAGE, 'build-1');
    f.push(IMAGE, 'build-2', { taskExit: 1, taskOutput: 'migration failed' });
    await deploy(f, 'build-1');
    const r = await deploy(f, 'build-2');
    expect({ ok: r.ok, phase: r.phase }).toEqual({ ok: false, phase: 'tasks' });
    expect(['a', 'b'].map((l) => inMaintenance(f.host(l)))).toEqual([false, false]);
    expect(['a', 'b'].map((l) => f.host(l).containers.get(f.host(l).routes.get('shop+web')!.upstream)?.tag)).toEqual(['build-1', 'build-1']);
  });
});
