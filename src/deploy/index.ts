// Deploy and rollback to SSH hosts: the hosts' driver of the rollout engine (src/engine/rollout.ts
// runs the phases in order and decides what a failure means). Each step lives in its own module:
// preflight, pull, the proxy, tasks, the rolling restart, revert, finish.
import os from 'node:os';
import { randomBytes } from 'node:crypto';
import { UserError, errorMessage } from '../errors.js';
import { inputLabel } from '../ssh/material.js';
import { reporter } from '../util/reporter.js';
import type { CleanupLedger } from '../util/cleanup.js';
import { SshConnection, type Connector, type HostConnection } from '../ssh/connection.js';
import { runRollout, type Phase, type RolloutDriver, type RolloutOutcome } from '../engine/rollout.js';
import { prepareSshSettings } from '../ssh/credentials.js';
import { jumpTarget, planDeploy, type DeployPlan } from './plan.js';
import { recordRevertArgv } from './commands.js';
import { preflight, releaseAll } from './preflight.js';
import { ensureTargetsAvailable, pullEverywhere, type RegistryLogin } from './pull.js';
import { runTasks } from './tasks.js';
import { rollRole } from './restart.js';
import { prepareProxies, removeChallengeRoutes, retireInBackground, rollRoleBehindProxy } from './proxy/rollout.js';
import { placeStaticFiles, undoStaticFiles } from './proxy/static-files.js';
import { prepareCronJobs } from '../cron/deploy.js';
import { maintenanceAnswer, setMaintenance } from './proxy/maintenance.js';
import { revertTouched } from './revert.js';
import { backupBeforeTasks, pullBackupImage, type BackupTaken } from '../backup/deploy.js';
import { finishHosts } from './audit.js';
import { failures, forEachHost } from './parallel.js';
import { StepError, type DeployHooks, type DeployMode, type DeployRun } from './types.js';
import type { PalletConfig } from '../config/types.js';

export interface DeployRequest {
  mode: DeployMode;
  config: PalletConfig;
  /** deploy: the tag to roll out. rollback: the named target (else each host's REVERT). */
  tag?: string;
  /** deploy: the manifest digest of `tag`, resolved once (every host pulls image@digest). */
  digest?: string;
  /** deploy: why a digest without a passing test record is deployed anyway (written to the audit log). */
  untested?: string;
  runTasks: boolean;
  ssh: { knownHosts?: string; privateKey?: string; passphrase?: string; insecure: boolean; where?: 'input' | 'flag' };
  login?: RegistryLogin;
  lockTimeout: number;
  breakLock: boolean;
  ledger: CleanupLedger;
  /** deploy.env rendered (readAppEnv + renderEnvFile); holds secrets, travels only on stdin. */
  appEnv?: string;
  env: NodeJS.ProcessEnv;
  signal: AbortSignal;
  hooks?: DeployHooks;
  /** Opens a host (default: ssh with the settings above); unit tests pass a fake host. */
  connect?: Connector;
}

/** Where a deploy stopped: the engine's phases. */
export type DeployPhase = Phase;

export interface DeployReport {
  ok: boolean;
  mode: DeployMode;
  plan: DeployPlan;
  /** Where it stopped. */
  phase: DeployPhase;
  error?: string;
  failedHost?: string;
  failedStep?: string;
  reverted: boolean;
  revertProblems: string[];
  /** The environment deployed to (pallet.yml environments or the environment input). */
  environment?: string;
  /** Set when the digest was deployed without a passing test record: why. */
  untested?: string;
  /** deploy.backup: the dump taken before the release tasks. */
  backup?: BackupTaken;
  hosts: {
    host: string; roles: string[]; oldTag: string; newTag: string;
    /** Manifest digest of newTag on the host (`sha256:...`), when known. */
    digest?: string;
    pullMs?: number; restartMs: number; health: string; reverted: boolean; lost?: string;
  }[];
}

export function runIdentity(env: NodeJS.ProcessEnv): { runId: string; actor: string } {
  const runId = env.GITHUB_RUN_ID ? `${env.GITHUB_RUN_ID}.${env.GITHUB_RUN_ATTEMPT ?? '1'}` : `local-${randomBytes(4).toString('hex')}`;
  let actor = env.GITHUB_ACTOR || env.USER || '';
  if (!actor) { try { actor = os.userInfo().username; } catch { actor = 'unknown'; } }
  return { runId, actor };
}

export async function executeDeploy(req: DeployRequest): Promise<DeployReport> {
  const plan = planDeploy(req.config);
  if (req.mode === 'deploy' && !req.tag) throw new UserError('deploy needs a tag', 'set the tag input (default build-<run number>)');
  let connect = req.connect;
  if (!connect) {
    const settings = await prepareSshSettings({ ...req.ssh, jump: jumpTarget(req.config.deploy) }, req.ledger, req.env);
    connect = (t) => new SshConnection(t, settings, req.ledger);
  }
  const conns = plan.hosts.map(connect);
  const { runId, actor } = runIdentity(req.env);
  const run: DeployRun = { plan, mode: req.mode, hosts: new Map(), ledger: req.ledger, runId, actor, signal: req.signal, hooks: req.hooks ?? {}, touched: [], proxySwitches: new Map(), ...(req.appEnv !== undefined ? { appEnv: req.appEnv } : {}), ...(req.mode === 'deploy' && req.digest ? { digest: req.digest } : {}), ...(req.untested ? { untested: req.untested } : {}), where: req.ssh.where };
  const outcome: RolloutOutcome = { ok: false, phase: 'preflight', reverted: false, revertProblems: [] };
  try {
    await runRollout(fleetDriver(run, req, conns), req.signal, outcome);
  } finally {
    await Promise.all(conns.map((c) => c.close().catch(() => undefined)));
  }
  return {
    ok: outcome.ok, mode: req.mode, plan, phase: outcome.phase, error: outcome.error, failedHost: outcome.failedAt, failedStep: outcome.failedStep,
    reverted: outcome.reverted, revertProblems: outcome.revertProblems, environment: req.config.environment, untested: run.untested, backup: run.backup,
    hosts: plan.hosts.map((t) => run.hosts.get(t.label)).filter((h) => h !== undefined).map((h) => ({
      host: h.label, roles: h.roles, oldTag: h.before.tag, newTag: h.target, digest: h.digest, pullMs: h.pullMs,
      restartMs: h.restartMs, health: h.health.join(', ') || '-', reverted: h.reverted, lost: h.lost,
    })),
  };
}

/**
 * The SSH hosts' driver (published port and proxy: a role behind the proxy rolls by route
 * switches, the others by restarts with a candidate probe). Preflight on every host at once,
 * pulls beside the proxies' preparation, the revert tag recorded everywhere, tasks on the first
 * host, roles rolled batch by batch, the revert of every touched host, finish on every host.
 */
function fleetDriver(run: DeployRun, req: DeployRequest, conns: HostConnection[]): RolloutDriver {
  const { plan } = run;
  const r = reporter();
  return {
    target: plan.proxy ? 'proxy' : 'published-port',
    preflight: () => r.group(`Preflight: ${plan.hosts.length} host(s)`, () =>
      preflight(run, conns, { runId: run.runId, actor: run.actor, timeout: req.lockTimeout, breakStale: req.breakLock, signal: req.signal })),
    chooseTargets: () => setTargets(run, req),
    prepareTitle: () => {
      const title = req.mode === 'rollback' ? 'Checking the rollback image on every host' : `Pulling ${plan.image}:${req.tag}${run.digest ? `@${run.digest}` : ''}`;
      return plan.proxy ? `${title}; the proxy${plan.proxy.static ? ' and the static files' : ''} on every web host` : title;
    },
    prepare: (outcome) => pullAndPrepare(run, req, outcome),
    record: () => recordRevert(run),
    tasksTitle: () => (runsTasks(run, req) ? `${plan.backup ? 'Backup and tasks' : 'Tasks'} on ${plan.taskHost}` : undefined),
    tasks: () => (plan.maintenance?.duringTasks && plan.proxy ? tasksInMaintenance(run) : backupAndTasks(run)),
    roll: (cancelled) => r.group('Rolling restart', () => rollOut(run, cancelled)),
    touched: () => [...new Set(run.touched.map((t) => t.host))],
    revert: () => revertTouched(run),
    finish: async (outcome, result) => {
      // Under the deploy lock still: a failed release's static files go before the hosts are let go.
      if (!outcome.ok) await undoStaticFiles(run, outcome.revertProblems);
      if (!outcome.ok) await removeChallengeRoutes(run, outcome.revertProblems);
      // The hosts that never switched still show the page: they serve the previous version again.
      if (!outcome.ok && run.maintenanceOn) await maintenanceOff(run);
      await finishHosts(run, outcome.ok, result, outcome.ok && plan.proxy ? (h, fields) => retireInBackground(run, h, fields) : undefined);
    },
    release: () => releaseAll(run),
  };
}

/**
 * Pulls the release (or checks the rollback image) and, in proxy mode, prepares the proxies at
 * the same time. A pull failure wins over a proxy failure (phase 'pull', else 'proxy'). Then the
 * release's static files are placed on every web host (deploy.proxy.static; phase 'pull'). The
 * hosts' next deploy.cron jobs are written beside the pull (swapped in at finish).
 */
async function pullAndPrepare(run: DeployRun, req: DeployRequest, outcome: RolloutOutcome): Promise<void> {
  const settled = await Promise.allSettled([
    req.mode === 'rollback' ? ensureTargetsAvailable(run, req.login) : pullEverywhere(run, req.login),
    run.plan.proxy ? prepareProxies(run, req.login) : Promise.resolve(),
    prepareCronJobs(run),
    runsTasks(run, req) ? pullBackupImage(run, req.login) : Promise.resolve(),
  ]);
  const [pulled, proxied, cron, backupImage] = settled;
  if (pulled.status === 'rejected') throw pulled.reason;
  if (cron.status === 'rejected') throw cron.reason;
  if (backupImage.status === 'rejected') throw backupImage.reason;
  if (proxied.status === 'rejected') {
    outcome.phase = 'proxy';
    throw proxied.reason;
  }
  await placeStaticFiles(run);
}

function setTargets(run: DeployRun, req: DeployRequest): void {
  const noRevert: string[] = [];
  for (const h of run.hosts.values()) {
    h.target = req.tag ?? h.before.revert;
    if (!h.target) noRevert.push(h.label);
  }
  if (noRevert.length) {
    throw new UserError(`rollback refused, nothing was changed: no recorded previous tag on ${noRevert.join(', ')}`, `name the tag to go back to with ${inputLabel('tag', req.ssh.where)}`);
  }
}

function hostConns(run: DeployRun): Map<string, HostConnection> {
  return new Map([...run.hosts].filter(([, h]) => !h.lost).map(([label, h]) => [label, h.conn]));
}

/**
 * deploy.maintenance.during_tasks: the page goes up on every web host before the release tasks
 * (a migration that locks tables shows users the page, not errors); each host's switch to the new
 * version takes it down there. Tasks that fail take it down at once (nothing switched).
 */
async function tasksInMaintenance(run: DeployRun): Promise<void> {
  await setMaintenance(run.plan, hostConns(run), maintenanceAnswer(run.plan));
  run.maintenanceOn = true;
  await backupAndTasks(run);
}

/** Whether this run runs the release tasks (and so takes deploy.backup first). */
function runsTasks(run: DeployRun, req: DeployRequest): boolean {
  return (req.mode === 'deploy' || req.runTasks) && run.plan.tasks.length > 0;
}

/**
 * deploy.backup, then the release tasks. Under deploy.maintenance.during_tasks the page is up
 * already, so no write lands between the dump and the migration.
 */
async function backupAndTasks(run: DeployRun): Promise<void> {
  run.backup = await backupBeforeTasks(run);
  await runTasks(run);
}

async function maintenanceOff(run: DeployRun): Promise<void> {
  try {
    await setMaintenance(run.plan, hostConns(run), undefined);
    run.maintenanceOn = false;
  } catch (e) {
    reporter().warning(`could not take the maintenance page down (${errorMessage(e)}): run \`pallet maintenance off\``);
  }
}

async function recordRevert(run: DeployRun): Promise<void> {
  const outcomes = await forEachHost([...run.hosts.keys()], async (label) => {
    const h = run.hosts.get(label)!;
    await h.conn.check(recordRevertArgv(run.plan.app, h.target), 'recording the revert tag');
    h.recorded = !!h.before.tag && h.before.tag !== h.target;
  });
  const f = failures(outcomes)[0];
  if (f) throw new StepError(f.host, 'record', errorMessage(f.error));
}

async function rollOut(run: DeployRun, cancelled: () => void): Promise<void> {
  for (const role of run.plan.roles) {
    const roll = role.behindProxy ? rollRoleBehindProxy : rollRole;
    await roll(run, role, cancelled, async (batch, fn) => {
      const f = failures(await forEachHost(batch, fn))[0];
      if (f) throw f.error;
    });
  }
}
