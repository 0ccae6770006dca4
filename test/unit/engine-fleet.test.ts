// The whole deploy (executeDeploy: preflight, pull, record, tasks, roll, revert, finish) driven
// over fake hosts (test/helpers/fake-host.ts) for both fleet targets, the published port and
// the per-host proxy, through the six paths every target must get right: a good release, a
// failing health check, failing tasks, a host lost mid-roll, a cancelled run and a rollback.
// After each, what the hosts run and keep (TAG, REVERT, lock, containers, routes) is checked.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../src/config/load.js';
import { executeDeploy, type DeployReport } from '../../src/deploy/index.js';
import type { DeployHooks, DeployMode } from '../../src/deploy/types.js';
import { CleanupLedger } from '../../src/util/cleanup.js';
import { CliReporter, setReporter } from '../../src/util/reporter.js';
import type { PalletConfig } from '../../src/config/types.js';
import { FakeFleet, type FakeHost } from '../helpers/fake-host.js';

type Target = 'published-port' | 'proxy';
const IMAGE = 'reg.test/shop';
const HOSTS = ['a', 'b', 'c'];

let dir: string;
let out: string[];
beforeAll(() => { dir = mkdtempSync(path.join(os.tmpdir(), 'pallet-engine-')); });
afterAll(() => rmSync(dir, { recursive: true, force: true }));
beforeEach(() => {
  out = [];
  setReporter(new CliReporter((l) => out.push(l), (l) => out.push(l)));
});

function config(target: Target, proxyImage = 'caddy:2'): PalletConfig {
  const file = path.join(dir, `${target}.yml`);
  writeFileSync(file, [
    'app: shop',
    `image: ${IMAGE}`,
    'deploy:',
    '  ssh: { user: deploy }',
    '  env_file: /etc/pallet/shop.env',
    `  proxy: ${target === 'proxy' ? `{ hosts: [shop.test], tls: "off", drain_timeout: 1, image: "${proxyImage}" }` : 'false'}`,
    '  rolling: { batch: 1 }',
    '  keep: 3',
    '  roles:',
    '    web: { hosts: [a, b, c], command: serve, health: { timeout: 2 }, stop_timeout: 1 }',
    '    worker: { hosts: [c], command: worker, stable: 1, stop_timeout: 1, stop_signal: SIGQUIT }',
    '',
  ].join('\n'));
  return loadConfig(file);
}

function fleetWith(...tags: [string, Parameters<FakeFleet['push']>[2]?][]): FakeFleet {
  const f = new FakeFleet();
  f.registry.add('caddy:2'); // the proxy's default image
  for (const [t, r] of tags) f.push(IMAGE, t, r);
  return f;
}

async function deploy(f: FakeFleet, target: Target, mode: DeployMode, tag?: string, o: { hooks?: DeployHooks; abort?: AbortController; proxyImage?: string; digest?: string } = {}) {
  const ledger = new CleanupLedger();
  const report: DeployReport = await executeDeploy({
    mode, config: config(target, o.proxyImage), tag, digest: o.digest, runTasks: mode === 'deploy', ssh: { insecure: true }, lockTimeout: 0, breakLock: false,
    ledger, env: { GITHUB_RUN_ID: '7', GITHUB_ACTOR: 'octo' }, signal: (o.abort ?? new AbortController()).signal, hooks: o.hooks,
    connect: f.connect,
  });
  return { report, ledger };
}

/** A deploy of `tag` with a pallet.yml written by the test itself (the driver tests). */
function deployConfig(f: FakeFleet, config: PalletConfig, tag: string): Promise<DeployReport> {
  return executeDeploy({
    mode: 'deploy', config, tag, runTasks: true, ssh: { insecure: true }, lockTimeout: 0, breakLock: false,
    ledger: new CleanupLedger(), env: { GITHUB_RUN_ID: '7', GITHUB_ACTOR: 'octo' }, signal: new AbortController().signal, connect: f.connect,
  });
}

/** What one host serves and keeps, in one comparable line per host. */
function snapshot(f: FakeFleet, target: Target): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const label of HOSTS) {
    const h = f.host(label);
    out[label] = {
      tag: h.state('shop', 'TAG'), revert: h.state('shop', 'REVERT'), lock: h.state('shop', 'lock/owner'), running: h.running('shop'),
      ...(target === 'proxy' ? { routed: routedTag(h) } : {}),
    };
  }
  return out;
}

/** The tag of the container the proxy routes the web role to on `h` ('' = no route). */
function routedTag(h: FakeHost): string {
  const up = h.routes.get('shop+web')?.upstream;
  return up ? h.containers.get(up)?.tag ?? `missing ${up}` : '';
}

/** Compares every host with `want` once the background retire of the previous containers is done. */
function expectHosts(f: FakeFleet, target: Target, want: Record<string, { tag: string; revert: string; web: string; worker?: string }>) {
  f.settle();
  const expected: Record<string, unknown> = {};
  for (const [label, w] of Object.entries(want)) {
    expected[label] = {
      tag: w.tag, revert: w.revert, lock: '', running: [...(w.web ? [`web=${w.web}`] : []), ...(w.worker ? [`worker=${w.worker}`] : [])].sort(),
      ...(target === 'proxy' ? { routed: w.web } : {}),
    };
  }
  expect(snapshot(f, target)).toEqual(expected);
}

const on = (tag: string, revert = '') => ({
  a: { tag, revert, web: tag }, b: { tag, revert, web: tag }, c: { tag, revert, web: tag, worker: tag },
});

/** `label` drops its connection when this deploy starts its new container there (after the record step). */
function loseWhenStarting(f: FakeFleet, label: string): void {
  let armed = false;
  f.host('a').beforeCommand = (name) => { if (name === 'record-revert') armed = true; };
  f.host(label).loseAt = (name) => armed && (name === 'docker run' || name === 'start-candidate');
}

const noLocksLeft = (ledger: CleanupLedger) => expect(ledger.list().filter((i) => i.kind === 'deploy-lock' || i.kind === 'remote-docker-config')).toEqual([]);

describe.each<Target>(['published-port', 'proxy'])('target %s', (target) => {
  test('a good release: every host on it, the previous one kept for a rollback, audit written, nothing left', async () => {
    const f = fleetWith(['build-1'], ['build-2']);
    expect((await deploy(f, target, 'deploy', 'build-1')).report.ok).toBe(true);
    const { report, ledger } = await deploy(f, target, 'deploy', 'build-2');
    expect({ ok: report.ok, phase: report.phase, reverted: report.reverted }).toEqual({ ok: true, phase: 'done', reverted: false });
    expectHosts(f, target, on('build-2', 'build-1'));
    expect(report.hosts.map((h) => `${h.host}:${h.oldTag}->${h.newTag}:${h.health}`)).toEqual([
      'a:build-1->build-2:web: ok', 'b:build-1->build-2:web: ok', 'c:build-1->build-2:web: ok, worker: ok',
    ]);
    expect(f.host('a').state('shop', 'audit.log').split('\n').pop()).toMatch(/\tocto\tshop\tdeploy\tbuild-1->build-2@sha256:(ab){32}\tsuccess\trun=7\.1$/);
    // The release task ran once, on the first host only.
    const tasks = (h: string) => f.host(h).log.filter((c) => c === 'docker run --rm').length;
    expect(HOSTS.map(tasks)).toEqual([2, 0, 0]);
    noLocksLeft(ledger);
  });

  test('by digest: every host pulls image@digest and tags it as the release, the audit line and report name it', async () => {
    const f = fleetWith(['build-1'], ['build-2']);
    await deploy(f, target, 'deploy', 'build-1');
    const digest = f.digest(IMAGE, 'build-2');
    const marks = HOSTS.map((l) => f.host(l).log.length);
    const { report } = await deploy(f, target, 'deploy', 'build-2', { digest });
    expect(report.ok).toBe(true);
    expectHosts(f, target, on('build-2', 'build-1'));
    for (const [i, l] of HOSTS.entries()) {
      expect(f.host(l).log.slice(marks[i]).filter((c) => c === 'pull-digest' || c === 'docker pull')).toEqual(['pull-digest']);
      expect(f.host(l).state('shop', 'audit.log').split('\n').pop()).toContain(`\tbuild-1->build-2@${digest}\tsuccess\t`);
    }
    expect(report.hosts.map((h) => h.digest)).toEqual(HOSTS.map(() => digest));
  });

  test('by digest: a digest the registry does not have stops at the pull, no host restarted', async () => {
    const f = fleetWith(['build-1'], ['build-2']);
    await deploy(f, target, 'deploy', 'build-1');
    const before = snapshot(f, target);
    const { report } = await deploy(f, target, 'deploy', 'build-2', { digest: `sha256:${'0'.repeat(64)}` });
    expect({ ok: report.ok, phase: report.phase }).toEqual({ ok: false, phase: 'pull' });
    expect(report.error).toMatch(/manifest for reg\.test\/shop@sha256:0{64} not found/);
    expect(snapshot(f, target)).toEqual(before);
  });

  test('roles roll web first, host by host, then worker; each host is healthy before the next one starts', async () => {
    const f = fleetWith(['build-1'], ['build-2']);
    await deploy(f, target, 'deploy', 'build-1');
    const order: string[] = [];
    await deploy(f, target, 'deploy', 'build-2', { hooks: { afterBatch: async (b) => { order.push(`${b.role}:${b.batch.join(',')}`); } } });
    expect(order).toEqual(['web:a', 'web:b', 'web:c', 'worker:c']);
    // The new version is health-checked before the old one stops serving.
    const log = f.host('b').log;
    const firstProbe = log.indexOf('http-probe', log.lastIndexOf('record-revert'));
    const stop = target === 'proxy' ? log.lastIndexOf('retire-later') : log.indexOf('stop-remove', log.lastIndexOf('record-revert'));
    expect(firstProbe).toBeGreaterThan(0);
    expect(firstProbe).toBeLessThan(stop);
  });

  test('a release that fails its health check never takes traffic; every host keeps the previous one', async () => {
    const f = fleetWith(['build-1'], ['build-2'], ['build-3', { health: 'crash' }]);
    await deploy(f, target, 'deploy', 'build-1');
    await deploy(f, target, 'deploy', 'build-2');
    const { report, ledger } = await deploy(f, target, 'deploy', 'build-3');
    expect({ ok: report.ok, phase: report.phase, failedHost: report.failedHost, failedStep: report.failedStep }).toEqual({ ok: false, phase: 'rolling', failedHost: 'a', failedStep: 'health (web)' });
    expect(report.error).toMatch(/exited: Traceback: build-3 crashed/);
    expectHosts(f, target, on('build-2', 'build-1'));
    expect(f.host('a').state('shop', 'audit.log').split('\n').pop()).toMatch(/build-2->build-3@sha256:(ab){32}\tfailed at rolling/);
    noLocksLeft(ledger);
  });

  test('a steady 400 fails early and says it is ALLOWED_HOSTS', async () => {
    const f = fleetWith(['build-1'], ['build-2', { health: 400, logs: 'Booting worker\nInvalid HTTP_HOST header: \'10.0.0.5:8000\'\n' }]);
    await deploy(f, target, 'deploy', 'build-1');
    const { report } = await deploy(f, target, 'deploy', 'build-2');
    expect(report.ok).toBe(false);
    expect(report.error).toMatch(/\/health\/ answered HTTP 400 every time .*ALLOWED_HOSTS does not accept the Host header/);
    // The candidate is removed by the revert: its last log lines travel with the failure.
    expect(report.error).toMatch(/\nlast log lines of shop-web\S*:\n  Booting worker\n  Invalid HTTP_HOST header: '10\.0\.0\.5:8000'/);
    expectHosts(f, target, on('build-1'));
  }, 15_000);

  test('failing release tasks: no host restarts, the tags stay as they were', async () => {
    const f = fleetWith(['build-1'], ['build-2', { taskExit: 3, taskOutput: 'django.db.utils.ProgrammingError: column x' }]);
    await deploy(f, target, 'deploy', 'build-1');
    const before = snapshot(f, target);
    const { report, ledger } = await deploy(f, target, 'deploy', 'build-2');
    expect({ ok: report.ok, phase: report.phase, failedHost: report.failedHost }).toEqual({ ok: false, phase: 'tasks', failedHost: 'a' });
    expect(report.error).toMatch(/exit 3: django\.db\.utils\.ProgrammingError/);
    expect(snapshot(f, target)).toEqual(before);
    expect(report.reverted).toBe(false);
    noLocksLeft(ledger);
  });

  test('a host lost mid-roll: the hosts already switched go back, the lost one is named, its lock is left to the cleanup', async () => {
    const f = fleetWith(['build-1'], ['build-2']);
    await deploy(f, target, 'deploy', 'build-1');
    // b drops at the start of its new container (after a has switched).
    loseWhenStarting(f, 'b');
    const { report, ledger } = await deploy(f, target, 'deploy', 'build-2');
    expect({ ok: report.ok, phase: report.phase, failedHost: report.failedHost, reverted: report.reverted }).toEqual({ ok: false, phase: 'rolling', failedHost: 'b', reverted: true });
    expect(report.hosts.find((h) => h.host === 'b')!.lost).toMatch(/Connection reset/);
    expect(report.hosts.find((h) => h.host === 'a')!.reverted).toBe(true);
    // b answers again: it never switched and still runs build-1; its lock stays for the cleanup (post step).
    f.host('b').lost = false;
    expect(f.host('b').running('shop')).toEqual(['web=build-1']);
    expect(ledger.list().filter((i) => i.kind === 'deploy-lock').map((i) => (i as { host: string }).host)).toEqual(['b']);
    expect({ a: snapshot(f, target).a, c: snapshot(f, target).c }).toEqual({
      a: { tag: 'build-1', revert: '', lock: '', running: ['web=build-1'], ...(target === 'proxy' ? { routed: 'build-1' } : {}) },
      c: { tag: 'build-1', revert: '', lock: '', running: ['web=build-1', 'worker=build-1'], ...(target === 'proxy' ? { routed: 'build-1' } : {}) },
    });
  });

  test('a host whose connection dropped once is reverted like the others once it answers again', async () => {
    const f = fleetWith(['build-1'], ['build-2']);
    await deploy(f, target, 'deploy', 'build-1');
    loseWhenStarting(f, 'b');
    // The revert's first question to b ('true') finds it back.
    f.host('b').beforeCommand = (name) => { if (name === 'true') { f.host('b').lost = false; f.host('b').loseAt = undefined; } };
    const { report, ledger } = await deploy(f, target, 'deploy', 'build-2');
    expect({ ok: report.ok, reverted: report.reverted, problems: report.revertProblems }).toEqual({ ok: false, reverted: true, problems: [] });
    expectHosts(f, target, on('build-1'));
    noLocksLeft(ledger);
  });

  test('an unstable worker reverts the worker and web on every touched host, the worker first on its host', async () => {
    const f = fleetWith(['build-1'], ['build-2', { unstableRoles: ['worker'] }]);
    await deploy(f, target, 'deploy', 'build-1');
    const { report } = await deploy(f, target, 'deploy', 'build-2');
    expect({ ok: report.ok, failedHost: report.failedHost, failedStep: report.failedStep }).toEqual({ ok: false, failedHost: 'c', failedStep: 'health (worker)' });
    expectHosts(f, target, on('build-1'));
    // On c the revert started the old worker before it touched web again.
    const all = f.host('c').log;
    const log = all.slice(all.indexOf('stable', all.lastIndexOf('record-revert')) + 1);
    const worker = log.indexOf('stop-remove');
    const web = target === 'proxy' ? log.indexOf('set-route') : log.lastIndexOf('stop-remove');
    expect(worker).toBeGreaterThanOrEqual(0);
    expect(worker).toBeLessThan(web);
  });

  test("a first deploy whose worker fails: its container is removed with the role's stop_signal", async () => {
    const f = fleetWith(['build-1', { unstableRoles: ['worker'] }]);
    const { report } = await deploy(f, target, 'deploy', 'build-1');
    expect({ ok: report.ok, reverted: report.reverted }).toEqual({ ok: false, reverted: true });
    expect(f.host('c').stops.filter((x) => x.startsWith('shop-worker '))).toEqual(['shop-worker SIGQUIT', 'shop-worker SIGQUIT']);
    expect(f.host('c').running('shop')).toEqual([]);
  });

  test('a cancelled run stops at the next batch and reverts what had switched', async () => {
    const f = fleetWith(['build-1'], ['build-2']);
    await deploy(f, target, 'deploy', 'build-1');
    const abort = new AbortController();
    const { report, ledger } = await deploy(f, target, 'deploy', 'build-2', {
      abort, hooks: { afterBatch: async (b) => { if (b.index === 0) abort.abort(new Error('the job was cancelled')); } },
    });
    expect({ ok: report.ok, phase: report.phase, failedStep: report.failedStep, reverted: report.reverted }).toEqual({ ok: false, phase: 'rolling', failedStep: 'cancelled', reverted: true });
    expectHosts(f, target, on('build-1'));
    noLocksLeft(ledger);
  });

  test('rollback to the previous release, then to a named one; a tag no host has is refused before anything changes', async () => {
    const f = fleetWith(['build-1'], ['build-2'], ['build-3']);
    for (const t of ['build-1', 'build-2', 'build-3']) await deploy(f, target, 'deploy', t);
    const back = await deploy(f, target, 'rollback');
    expect(back.report.ok).toBe(true);
    expectHosts(f, target, on('build-2', 'build-3'));
    expect((await deploy(f, target, 'rollback', 'build-1')).report.ok).toBe(true);
    expectHosts(f, target, on('build-1', 'build-2'));
    const before = snapshot(f, target);
    f.settle();
    const refused = (await deploy(f, target, 'rollback', 'build-9')).report;
    expect({ ok: refused.ok, phase: refused.phase }).toEqual({ ok: false, phase: 'pull' });
    expect(refused.error).toMatch(/rollback refused, nothing was changed: reg\.test\/shop tag not available on a \(build-9\), b \(build-9\), c \(build-9\)/);
    expect(snapshot(f, target)).toEqual(before);
  });

  test('images beyond keep (3) are pruned after a success, never the running or the previous one', async () => {
    const tags = ['build-1', 'build-2', 'build-3', 'build-4', 'build-5'];
    const f = fleetWith(...tags.map((t): [string] => [t]));
    for (const t of tags) expect((await deploy(f, target, 'deploy', t)).report.ok).toBe(true);
    f.settle();
    for (const l of HOSTS) expect([...f.host(l).images].filter((i) => i.startsWith(`${IMAGE}:`)).sort()).toEqual(['build-3', 'build-4', 'build-5'].map((t) => `${IMAGE}:${t}`));
    expect(out.filter((l) => /pruned/.test(l)).length).toBeGreaterThan(0);
  });

  test("another app of the same repository on the host (another environment) keeps its running and rollback images", async () => {
    const tags = ['build-1', 'build-2', 'build-3', 'build-4', 'build-5'];
    const f = fleetWith(...tags.map((t): [string] => [t]));
    expect((await deploy(f, target, 'deploy', 'build-1')).report.ok).toBe(true);
    for (const l of HOSTS) {
      // shop-staging: same repository, runs build-1, would roll back to build-2.
      f.host(l).files.set('/var/lib/pallet/shop-staging/TAG', 'build-1\n');
      f.host(l).files.set('/var/lib/pallet/shop-staging/REVERT', 'build-2\n');
    }
    for (const t of tags.slice(1)) expect((await deploy(f, target, 'deploy', t)).report.ok).toBe(true);
    f.settle();
    // keep 3 of its own (3, 4, 5) beside staging's 1 and 2.
    for (const l of HOSTS) expect([...f.host(l).images].filter((i) => i.startsWith(`${IMAGE}:`)).sort()).toEqual(tags.map((t) => `${IMAGE}:${t}`));
  });

  test('an unreachable host stops the deploy in preflight: no lock taken anywhere, nothing changed', async () => {
    const f = fleetWith(['build-1'], ['build-2']);
    await deploy(f, target, 'deploy', 'build-1');
    f.host('c').unreachable = true;
    const before = snapshot(f, target);
    await expect(deploy(f, target, 'deploy', 'build-2')).rejects.toThrow(/preflight failed, nothing was changed: .*c: ssh: connect to host/);
    f.host('c').unreachable = false;
    expect(snapshot(f, target)).toEqual(before);
  });
});

describe('target proxy only', () => {
  test('a switch moves the live name (make-live), the route stays as it is: no proxy config load after the first deploy', async () => {
    const f = fleetWith(['build-1'], ['build-2'], ['build-3']);
    await deploy(f, 'proxy', 'deploy', 'build-1');
    const loads = HOSTS.map((l) => f.host(l).configLoads);
    expect(loads).toEqual([1, 1, 1]);
    expect((await deploy(f, 'proxy', 'deploy', 'build-2')).report.ok).toBe(true);
    f.release('build-3').health = 500;
    expect((await deploy(f, 'proxy', 'deploy', 'build-3')).report.reverted).toBe(true);
    f.settle();
    expect(HOSTS.map((l) => f.host(l).configLoads)).toEqual(loads);
    expect(HOSTS.map((l) => f.host(l).routes.get('shop+web')?.upstream)).toEqual(HOSTS.map(() => 'shop-web-live'));
    expectHosts(f, 'proxy', on('build-2', 'build-1'));
  });

  test('a route written before the live name (it dials the container by its own name) moves to the live name; a revert gives the name to that container', async () => {
    const f = fleetWith(['build-1'], ['build-2'], ['build-3']);
    await deploy(f, 'proxy', 'deploy', 'build-1');
    // As an earlier pallet left each host: the live container under its own name, without the label, and the route dialing it.
    const legacy = (h: FakeHost) => {
      const c = h.containers.get('shop-web-live');
      if (!c) return; // not touched since (b and c after the failure on a)
      h.containers.delete('shop-web-live');
      Object.assign(c, { name: 'shop-web-0ld00001', labels: { ...c.labels, 'pallet.name': '' } });
      h.containers.set(c.name, c);
      h.routes.get('shop+web')!.upstream = c.name;
    };
    for (const l of HOSTS) legacy(f.host(l));
    f.release('build-2').health = 500;
    expect((await deploy(f, 'proxy', 'deploy', 'build-2')).report.reverted).toBe(true);
    f.settle();
    expectHosts(f, 'proxy', on('build-1'));
    expect(f.host('a').containers.get('shop-web-live')?.tag).toBe('build-1');
    for (const l of HOSTS) legacy(f.host(l));
    expect((await deploy(f, 'proxy', 'deploy', 'build-3')).report.ok).toBe(true);
    f.settle();
    expectHosts(f, 'proxy', on('build-3', 'build-1'));
    expect(HOSTS.map((l) => [f.host(l).routes.get('shop+web')?.upstream, f.host(l).containers.has('shop-web-0ld00001')])).toEqual(HOSTS.map(() => ['shop-web-live', false]));
  });

  test('the previous containers keep running until every host switched, then retire on the host, which holds the lock until they are gone', async () => {
    const f = fleetWith(['build-1'], ['build-2'], ['build-3']);
    await deploy(f, 'proxy', 'deploy', 'build-1');
    const seen: string[][] = [];
    const { report, ledger } = await deploy(f, 'proxy', 'deploy', 'build-2', { hooks: { afterBatch: async (b) => { if (b.role === 'web') seen.push(f.host('a').running('shop')); } } });
    expect(seen).toEqual([['web=build-1', 'web=build-2'], ['web=build-1', 'web=build-2'], ['web=build-1', 'web=build-2']]);
    // The deploy is done (TAG written, its ledger empty) while each host still stops build-1, holding the lock.
    expect(report.ok).toBe(true);
    noLocksLeft(ledger);
    expect(HOSTS.map((l) => [f.host(l).state('shop', 'TAG'), f.host(l).running('shop').includes('web=build-1'), f.host(l).files.has('/var/lib/pallet/shop/lock/retiring')]))
      .toEqual(HOSTS.map(() => ['build-2', true, true]));
    // The next deploy waits for that on each host (acquire-lock's WAITED) and goes on.
    const next = await deploy(f, 'proxy', 'deploy', 'build-3');
    expect(next.report.ok).toBe(true);
    expect(HOSTS.map((l) => f.host(l).running('shop').filter((r) => r.startsWith('web=')))).toEqual(HOSTS.map(() => ['web=build-2', 'web=build-3']));
    f.settle();
    expectHosts(f, 'proxy', on('build-3', 'build-2'));
  });

  test('a retire that died on the host (restart) leaves a stale lock: the next deploy removes it, says so, and stops what it left', async () => {
    const f = fleetWith(['build-1'], ['build-2'], ['build-3']);
    await deploy(f, 'proxy', 'deploy', 'build-1');
    f.host('b').retireDies = true;
    await deploy(f, 'proxy', 'deploy', 'build-2');
    out = [];
    const next = await deploy(f, 'proxy', 'deploy', 'build-3');
    expect(next.report.ok).toBe(true);
    expect(out.filter((w) => w.startsWith('warning:'))).toEqual([expect.stringMatching(/^warning: b: the previous deploy's retire \(pid 4242\) ended before it released the lock/)]);
    f.host('b').retireDies = false;
    expectHosts(f, 'proxy', on('build-3', 'build-2'));
  });

  test('a host that cannot start the retire in the background stops the previous containers at once and releases the lock itself', async () => {
    const f = fleetWith(['build-1'], ['build-2']);
    await deploy(f, 'proxy', 'deploy', 'build-1');
    f.host('a').failAt = (name) => (name === 'retire-later' ? { exitCode: 3, stdout: 'the deploy lock is not this deploy\'s\n', stderr: '' } : undefined);
    out = [];
    const { report, ledger } = await deploy(f, 'proxy', 'deploy', 'build-2');
    expect(report.ok).toBe(true);
    noLocksLeft(ledger);
    expect(out.filter((w) => w.startsWith('warning:'))).toEqual([expect.stringMatching(/^warning: a: could not stop the previous containers in the background \(the deploy lock is not this deploy's\); stopping them now$/)]);
    // Host a is done when the deploy returns; b and c finish their retire on their own.
    expect([f.host('a').running('shop'), f.host('a').state('shop', 'lock/owner')]).toEqual([['web=build-2'], '']);
    expectHosts(f, 'proxy', on('build-2', 'build-1'));
  });
});

describe('the proxy as a driver', () => {
  test('tls auto from a private ACME CA on three hosts: its root is on each host before the first route; each host passes challenges to the other two', async () => {
    const file = path.join(dir, 'acme.yml');
    writeFileSync(path.join(dir, 'ca-root.pem'), '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');
    writeFileSync(file, [
      'app: shop', `image: ${IMAGE}`, 'deploy:', '  ssh: { user: deploy }', '  env_file: /etc/pallet/shop.env',
      '  proxy: { hosts: [shop.test], drain_timeout: 1, acme: { ca: "https://ca.internal/acme/acme/directory", ca_root: ca-root.pem } }',
      '  roles:', '    web: { hosts: [a, b, c], command: serve, health: { timeout: 2 }, stop_timeout: 1 }', '',
    ].join('\n'));
    const f = fleetWith(['build-1']);
    const report = await deployConfig(f, loadConfig(file), 'build-1');
    expect({ ok: report.ok, error: report.error }).toEqual({ ok: true, error: undefined });
    for (const h of HOSTS) {
      const log = f.host(h).log;
      expect(log.indexOf('place-acme-root')).toBeGreaterThanOrEqual(0);
      expect(log.indexOf('place-acme-root')).toBeLessThan(log.indexOf('set-route'));
      const root = [...f.host(h).files.keys()].find((k) => k.startsWith('/var/lib/pallet/proxy/acme-roots/'))!;
      const route = f.host(h).routes.get('shop+web')!;
      expect(JSON.parse(route.policy).issuers[0]).toMatchObject({ ca: 'https://ca.internal/acme/acme/directory', trusted_roots_pem_files: [root.replace('/var/lib/pallet/proxy/', '/etc/pallet-proxy/')] });
      const dials = JSON.stringify(JSON.parse(`[${route.http}]`)[1]).match(/"dial":"[^"]+"/g);
      // The first step asks the first reachable of both other hosts, the second (on a 404) the last one.
      const [p1, p2] = HOSTS.filter((o) => o !== h);
      expect(dials).toEqual([p1, p2, p2].map((o) => `"dial":"${o}:80"`));
    }
    // The challenge routes were on every host before the first one switched (and asked the CA).
    const trace = f.trace.filter((t) => / (set-route|make-live) start$/.test(t));
    expect(trace.slice(0, 4).sort()).toEqual(['a set-route start', 'b set-route start', 'c set-route start', 'a make-live start'].sort());
    expect(trace[3]).toBe('a make-live start');
  });

  describe('tls auto on three hosts, first deploy: challenge-only routes on every host before the first switch', () => {
    const acmeConfig = () => {
      const file = path.join(dir, 'acme-first.yml');
      writeFileSync(file, [
        'app: shop', `image: ${IMAGE}`, 'deploy:', '  ssh: { user: deploy }', '  env_file: /etc/pallet/shop.env',
        '  proxy: { hosts: [shop.test], drain_timeout: 1 }', '  rolling: { batch: 1 }',
        '  roles:', '    web: { hosts: [a, b, c], command: serve, health: { timeout: 2 }, stop_timeout: 1 }', '',
      ].join('\n'));
      return loadConfig(file);
    };
    const run = (f: FakeFleet, tag: string) => deployConfig(f, acmeConfig(), tag);
    /** Per host: what the route answers: 'challenges' (only the challenge routes), 'app', or '' (no route). */
    const routes = (f: FakeFleet) => HOSTS.map((l) => {
      const r = f.host(l).routes.get('shop+web');
      return !r ? '' : r.https ? 'app' : JSON.parse(`[${r.http}]`).every((x: { match: { path: string[] }[] }) => x.match[0].path[0] === '/.well-known/acme-challenge/*') ? 'challenges' : 'other';
    });

    test('host c still has only the challenge routes while a switches; after the deploy every host has the app route; the next deploy places none', async () => {
      const f = fleetWith(['build-1'], ['build-2']);
      let seen: string[] = [];
      const make = f.make;
      f.make = (t, fleet) => {
        const h = make(t, fleet);
        if (t.label === 'a') h.beforeCommand = (name) => { if (name === 'make-live' && !seen.length) seen = routes(f); };
        return h;
      };
      expect((await run(f, 'build-1')).ok).toBe(true);
      expect(seen).toEqual(['challenges', 'challenges', 'challenges']);
      expect(routes(f)).toEqual(['app', 'app', 'app']);
      expect(out.filter((l) => l.includes('ACME challenges for shop.test are passed between the hosts'))).toHaveLength(3);
      const marks = HOSTS.map((l) => f.host(l).log.length);
      expect((await run(f, 'build-2')).ok).toBe(true);
      // Afterwards each host's route only changes at its switch (same config: no load).
      expect(HOSTS.map((l, i) => f.host(l).log.slice(marks[i]).filter((c) => c === 'set-route').length)).toEqual([1, 1, 1]);
    });

    test('a first deploy that fails on host a: a is reverted, b and c lose their challenge routes; no route is left anywhere', async () => {
      const f = fleetWith(['build-1', { health: 500 }]);
      const report = await run(f, 'build-1');
      expect({ ok: report.ok, reverted: report.reverted, problems: report.revertProblems }).toEqual({ ok: false, reverted: true, problems: [] });
      expect(routes(f)).toEqual(['', '', '']);
      expect(out.filter((l) => l.includes('the ACME challenge routes of shop were removed'))).toHaveLength(2);
    });
  });

  test("the app's containers run on its own network, which the proxy joins; health is asked there", async () => {
    const f = fleetWith(['build-1']);
    await deploy(f, 'proxy', 'deploy', 'build-1');
    const web = [...f.host('a').containers.values()].find((c) => c.labels['pallet.role'] === 'web')!;
    expect(web.network).toBe('pallet-app-shop');
    expect([...f.host('a').networks]).toEqual(['pallet-app-shop']);
  });

  test('a changed deploy.proxy.image is pulled, then applied one host after the other, before the app rolls', async () => {
    const f = fleetWith(['build-1'], ['build-2']);
    f.registry.add('caddy:2.8');
    await deploy(f, 'proxy', 'deploy', 'build-1');
    const { report } = await deploy(f, 'proxy', 'deploy', 'build-2', { proxyImage: 'caddy:2.8' });
    expect(report.ok).toBe(true);
    expect(HOSTS.map((h) => f.host(h).proxy!.image)).toEqual(['caddy:2.8', 'caddy:2.8', 'caddy:2.8']);
    // One host at a time: each replacement ends before the next one starts.
    expect(f.trace.filter((t) => t.includes('replace-proxy'))).toEqual(HOSTS.flatMap((h) => [`${h} replace-proxy start`, `${h} replace-proxy end`]));
    expect(out.join('\n')).toMatch(/a: the proxy now runs caddy:2\.8 \(nothing listened on 80\/443 for 180ms\)/);
    // A deploy with the same image replaces nothing.
    f.trace.length = 0;
    await deploy(f, 'proxy', 'deploy', 'build-1', { proxyImage: 'caddy:2.8' });
    expect(f.trace.filter((t) => t.includes('replace-proxy'))).toEqual([]);
  });

  test('a proxy image that does not come up stops the deploy before the app changes; that host keeps its old proxy', async () => {
    const f = fleetWith(['build-1'], ['build-2']);
    f.registry.add('caddy:broken');
    f.brokenProxyImages.add('caddy:broken');
    await deploy(f, 'proxy', 'deploy', 'build-1');
    const { report, ledger } = await deploy(f, 'proxy', 'deploy', 'build-2', { proxyImage: 'caddy:broken' });
    expect({ ok: report.ok, phase: report.phase, failedHost: report.failedHost, failedStep: report.failedStep }).toEqual({ ok: false, phase: 'proxy', failedHost: 'a', failedStep: 'replacing the proxy' });
    expect(report.error).toMatch(/did not come up .* runs caddy:2 again/);
    expect(HOSTS.map((h) => f.host(h).proxy!.image)).toEqual(['caddy:2', 'caddy:2', 'caddy:2']);
    expectHosts(f, 'proxy', on('build-1'));
    noLocksLeft(ledger);
  });
});
