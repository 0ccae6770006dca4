// The whole Swarm deploy (executeSwarmDeploy) over a fake manager (test/helpers/fake-swarm.ts)
// through the paths every target must get right: a good release, a failing health check (Swarm
// rolls the service back), a later role failing (the rolled ones are reverted), failing release
// tasks, the manager lost mid-roll, a cancelled run and rollbacks. After each, what the swarm runs
// and what the manager keeps (TAG, REVERT, lock, audit) are checked.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../src/config/load.js';
import { executeSwarmDeploy } from '../../src/swarm/index.js';
import type { SwarmHooks } from '../../src/swarm/types.js';
import type { DeployMode } from '../../src/deploy/types.js';
import { CleanupLedger } from '../../src/util/cleanup.js';
import { CliReporter, setReporter } from '../../src/util/reporter.js';
import { FakeFleet, type Release } from '../helpers/fake-host.js';
import { FakeManager } from '../helpers/fake-swarm.js';
import { removeStack } from '../../src/commands/remove.js';

const IMAGE = 'reg.test/shop';
let dir: string;
let file: string;
let out: string[];
beforeAll(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'pallet-engine-swarm-'));
  file = path.join(dir, 'pallet.yml');
  writeFileSync(file, [
    'app: shop',
    `image: ${IMAGE}`,
    'deploy:',
    '  ssh: { user: deploy }',
    '  swarm: { manager: mgr }',
    '  env_file: /etc/pallet/shop.env',
    '  rolling: { batch: 1 }',
    '  roles:',
    '    web: { command: serve, health: { timeout: 2 } }',
    '    worker: { command: worker, stable: 1 }',
    '',
  ].join('\n'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));
beforeEach(() => {
  out = [];
  setReporter(new CliReporter((l) => out.push(l), (l) => out.push(l)));
});

function swarmWith(...tags: [string, Release?][]): { fleet: FakeFleet; manager: () => FakeManager } {
  const fleet = new FakeFleet();
  fleet.make = (t, f) => new FakeManager(t, f);
  for (const [t, r] of tags) fleet.push(IMAGE, t, r);
  return { fleet, manager: () => fleet.host('mgr') as FakeManager };
}

async function deploy(fleet: FakeFleet, mode: DeployMode, tag?: string, o: { hooks?: SwarmHooks; abort?: AbortController; digest?: string } = {}) {
  const ledger = new CleanupLedger();
  const report = await executeSwarmDeploy({
    mode, config: loadConfig(file), tag, digest: o.digest, runTasks: mode === 'deploy', ssh: { insecure: true }, lockTimeout: 0, breakLock: false,
    ledger, env: { GITHUB_RUN_ID: '9', GITHUB_ACTOR: 'octo' }, signal: (o.abort ?? new AbortController()).signal, hooks: o.hooks, connect: fleet.connect,
  });
  return { report, ledger };
}

/** The services and what the manager keeps. */
function state(m: FakeManager) {
  return { services: m.serviceTags(), tag: m.state('shop', 'TAG'), revert: m.state('shop', 'REVERT'), lock: m.state('shop', 'lock/owner') };
}
const on = (tag: string, revert = '') => ({ services: [`shop_web=${tag} 3/3`, `shop_worker=${tag} 1/1`], tag, revert, lock: '' });
const noLocksLeft = (ledger: CleanupLedger) => expect(ledger.list().filter((i) => i.kind === 'deploy-lock' || i.kind === 'remote-docker-config')).toEqual([]);

test('by digest: the manager pulls image@digest and tags it as the release (its compose image: release-digest.test.ts), the audit line names it', async () => {
  const { fleet, manager } = swarmWith(['build-1'], ['build-2']);
  await deploy(fleet, 'deploy', 'build-1');
  const digest = fleet.digest(IMAGE, 'build-2');
  const { report } = await deploy(fleet, 'deploy', 'build-2', { digest });
  expect({ ok: report.ok, phase: report.phase }).toEqual({ ok: true, phase: 'done' });
  expect(state(manager())).toEqual(on('build-2', 'build-1'));
  expect(manager().log).toContain('pull-digest');
  expect(manager().images.has(`${IMAGE}:build-2`)).toBe(true);
  expect(manager().state('shop', 'audit.log').split('\n').pop()).toContain(`\tbuild-1->build-2@${digest}\tsuccess`);
});

test('a good release: every service on it, the previous kept for a rollback, audit written, nothing left', async () => {
  const { fleet, manager } = swarmWith(['build-1'], ['build-2']);
  expect((await deploy(fleet, 'deploy', 'build-1')).report.ok).toBe(true);
  const { report, ledger } = await deploy(fleet, 'deploy', 'build-2');
  expect({ ok: report.ok, phase: report.phase }).toEqual({ ok: true, phase: 'done' });
  expect(report.services.map((s) => `${s.service}:${s.oldTag}->${s.newTag}:${s.result}`)).toEqual(['shop_web:build-1->build-2:updated', 'shop_worker:build-1->build-2:updated']);
  expect(state(manager())).toEqual(on('build-2', 'build-1'));
  expect(manager().state('shop', 'audit.log').split('\n').pop()).toMatch(/\tocto\tshop\tdeploy\tbuild-1->build-2\tsuccess\trun=9\.1$/);
  expect([...manager().services.keys()].filter((n) => n.includes('_task_'))).toEqual([]); // the release job was removed
  noLocksLeft(ledger);
});

test('a release that fails its health check is rolled back by Swarm; the deploy says so and stops there', async () => {
  const { fleet, manager } = swarmWith(['build-1'], ['build-2', { health: 500 }]);
  await deploy(fleet, 'deploy', 'build-1');
  const { report, ledger } = await deploy(fleet, 'deploy', 'build-2');
  expect({ ok: report.ok, phase: report.phase, reverted: report.reverted, failedService: report.failedService, failedStep: report.failedStep })
    .toEqual({ ok: false, phase: 'rolling', reverted: true, failedService: 'shop_web', failedStep: 'health check' });
  expect(report.error).toMatch(/Swarm rolled the update back: .*unhealthy container/);
  expect(state(manager())).toEqual(on('build-1'));
  noLocksLeft(ledger);
});

test('a later role that fails: the roles already rolled are reverted, in reverse order', async () => {
  const { fleet, manager } = swarmWith(['build-1'], ['build-2', { unstableRoles: ['worker'] }]);
  await deploy(fleet, 'deploy', 'build-1');
  const { report } = await deploy(fleet, 'deploy', 'build-2');
  expect({ ok: report.ok, failedService: report.failedService, reverted: report.reverted }).toEqual({ ok: false, failedService: 'shop_worker', reverted: true });
  expect(report.services.map((s) => `${s.service}:${s.result}`)).toEqual(['shop_web:reverted', 'shop_worker:rolled back by Swarm']);
  expect(state(manager())).toEqual(on('build-1'));
});

test('failing release tasks: no service touched, the job output shown, the job removed', async () => {
  const { fleet, manager } = swarmWith(['build-1'], ['build-2', { taskExit: 3, taskOutput: 'django.db.utils.ProgrammingError: column x' }]);
  await deploy(fleet, 'deploy', 'build-1');
  const { report, ledger } = await deploy(fleet, 'deploy', 'build-2');
  expect({ ok: report.ok, phase: report.phase, reverted: report.reverted }).toEqual({ ok: false, phase: 'tasks', reverted: false });
  expect(report.error).toMatch(/task: non-zero exit \(3\); no service was touched/);
  expect(out.join('\n')).toContain('| django.db.utils.ProgrammingError: column x');
  expect(state(manager())).toEqual(on('build-1'));
  expect([...manager().services.keys()].filter((n) => n.includes('_task_'))).toEqual([]);
  noLocksLeft(ledger);
});

test('the manager lost mid-roll: the deploy fails naming it (no defect), the lock is left to the cleanup', async () => {
  const { fleet, manager } = swarmWith(['build-1'], ['build-2']);
  await deploy(fleet, 'deploy', 'build-1');
  let stacks = 0;
  manager().loseAt = (name) => name === 'docker stack' && ++stacks === 2; // while the worker rolls
  const { report, ledger } = await deploy(fleet, 'deploy', 'build-2');
  expect({ ok: report.ok, phase: report.phase }).toEqual({ ok: false, phase: 'rolling' });
  expect(report.error).toMatch(/lost the ssh connection to mgr/);
  expect(ledger.list().filter((i) => i.kind === 'deploy-lock').map((i) => (i as { host: string }).host)).toEqual(['mgr']);
  // Back: the web service had rolled before the loss; the revert could not reach the manager.
  manager().lost = false;
  expect(manager().serviceTags()).toEqual(['shop_web=build-2 3/3', 'shop_worker=build-1 1/1']);
  expect(report.revertProblems.join('\n')).toMatch(/shop_web: .*lost the ssh connection/);
});

test('a cancelled run stops before its next service and reverts what had rolled', async () => {
  const { fleet, manager } = swarmWith(['build-1'], ['build-2']);
  await deploy(fleet, 'deploy', 'build-1');
  const abort = new AbortController();
  const { report, ledger } = await deploy(fleet, 'deploy', 'build-2', {
    abort, hooks: { afterServiceDeploy: async ({ service }) => { if (service === 'shop_web') abort.abort(new Error('the job was cancelled')); } },
  });
  expect({ ok: report.ok, phase: report.phase, failedStep: report.failedStep, reverted: report.reverted }).toEqual({ ok: false, phase: 'rolling', failedStep: 'cancelled', reverted: true });
  expect(state(manager())).toEqual(on('build-1'));
  noLocksLeft(ledger);
});

test('rollback to the previous release, then to a named one; a tag the registry lacks is refused before anything changes', async () => {
  const { fleet, manager } = swarmWith(['build-1'], ['build-2'], ['build-3']);
  for (const t of ['build-1', 'build-2', 'build-3']) await deploy(fleet, 'deploy', t);
  expect((await deploy(fleet, 'rollback')).report.ok).toBe(true);
  expect(state(manager())).toEqual(on('build-2', 'build-3'));
  expect((await deploy(fleet, 'rollback', 'build-1')).report.ok).toBe(true);
  expect(state(manager())).toEqual(on('build-1', 'build-2'));
  const before = state(manager());
  const refused = (await deploy(fleet, 'rollback', 'build-9')).report;
  expect({ ok: refused.ok, phase: refused.phase }).toEqual({ ok: false, phase: 'pull' });
  expect(refused.error).toMatch(/rollback refused, nothing was changed: reg\.test\/shop:build-9 is not available/);
  expect(state(manager())).toEqual(before);
});

test('an unreachable manager stops the deploy in preflight, nothing changed', async () => {
  const { fleet, manager } = swarmWith(['build-1'], ['build-2']);
  await deploy(fleet, 'deploy', 'build-1');
  manager().unreachable = true;
  await expect(deploy(fleet, 'deploy', 'build-2')).rejects.toThrow(/preflight failed, nothing was changed: mgr: ssh: connect to host/);
  manager().unreachable = false;
  expect(state(manager())).toEqual(on('build-1'));
});

describe('pallet remove on a Swarm', () => {
  const request = (ledger: CleanupLedger) => ({
    app: 'shop', image: IMAGE, deleteData: true, stopTimeout: 10, retireWait: 0, runId: '9', actor: 'octo', ledger, signal: new AbortController().signal,
  });

  test('takes the stack, the manager\'s images and the state away, under the lock', async () => {
    const { fleet, manager } = swarmWith(['build-1']);
    expect((await deploy(fleet, 'deploy', 'build-1')).report.ok).toBe(true);
    manager().images.add(`${IMAGE}:build-1`);
    const ledger = new CleanupLedger();
    const row = await removeStack(manager(), request(ledger), { stack: 'shop', network: 'shop_net', waitSeconds: 60 });
    expect([row.containers, row.network, row.images, row.kept, row.error]).toEqual([2, true, 1, '', undefined]);
    expect(manager().serviceTags()).toEqual([]);
    expect([...manager().files.keys()].filter((k) => k.startsWith('/var/lib/pallet/shop/'))).toEqual([]);
    expect(ledger.list()).toEqual([]);
  });

  test('a deploy holding the manager\'s lock refuses it before anything changes', async () => {
    const { fleet, manager } = swarmWith(['build-1']);
    await deploy(fleet, 'deploy', 'build-1');
    manager().files.set('/var/lib/pallet/shop/lock/token', 'x');
    manager().files.set('/var/lib/pallet/shop/lock/owner', 'run 3.1 by bob since T');
    const before = manager().serviceTags();
    await expect(removeStack(manager(), request(new CleanupLedger()), { stack: 'shop', network: 'shop_net', waitSeconds: 60 }))
      .rejects.toThrow(/^remove refused, nothing was changed: mgr: the deploy lock of shop is held by run 3\.1 by bob/);
    expect(manager().serviceTags()).toEqual(before);
  });
});
