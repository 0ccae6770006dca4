// Deploy and rollback to a Docker Swarm (deploy.swarm): the Swarm driver of the rollout engine
// (src/engine/rollout.ts runs the phases), talking to one manager. Preflight (swarm, env file and its lines, TAG/REVERT, lock), registry login,
// image check, record, release tasks as a Swarm job, services rolled one role at a time by Swarm
// itself, revert of the roles already rolled when a later one fails, finish (TAG, audit line, lock).
import { inputLabel } from '../ssh/material.js';
import { randomBytes } from 'node:crypto';
import { UserError, errorMessage } from '../errors.js';
import { reporter } from '../util/reporter.js';
import type { CleanupItem } from '../util/cleanup.js';
import { SshConnection } from '../ssh/connection.js';
import { prepareSshSettings } from '../ssh/credentials.js';
import { lastLines } from '../ssh/errors.js';
import { jumpTarget } from '../deploy/plan.js';
import { auditLine, pullDigestArgv, releaseRef, dockerVersionArgv, finishArgv, imageRef, loginArgv, parseState, readStateArgv, recordRevertArgv } from '../deploy/commands.js';
import { dockerConfigPath, envFileCheckArgv, envFileProblem, makeDockerConfigArgv, removeDockerConfigArgv } from '../deploy/host-commands.js';
import { acquireLock, releaseLock } from '../deploy/lock.js';
import { reportEnvFileLint } from '../deploy/preflight.js';
import { runIdentity, type DeployRequest } from '../deploy/index.js';
import { planSwarm, type ServicePlan } from './plan.js';
import { countTasks, ensureNetworkArgv, pullArgv, tagOf } from './commands.js';
import { askRollback, checkManager, convergeTimeout, desiredTasks, inspectService, readNodes, removeService, rollService, serviceTasks } from './rollout.js';
import { runSwarmTasks } from './job.js';
import { SwarmStepError, type SwarmHooks, type SwarmReport, type SwarmRun, type SwarmServiceResult } from './types.js';
import { runRollout, type RolloutDriver, type RolloutOutcome } from '../engine/rollout.js';

export type SwarmRequest = Omit<DeployRequest, 'hooks'> & { hooks?: SwarmHooks };

async function preflight(run: SwarmRun, req: SwarmRequest): Promise<void> {
  const { conn, plan } = run;
  const label = conn.name;
  await conn.open();
  const v = await conn.run(dockerVersionArgv());
  if (v.exitCode !== 0) throw new UserError(`${label}: Docker does not answer (${v.stderr.trim() || `exit ${v.exitCode}`})`, `make sure dockerd runs on the manager and user ${conn.target.user} may use it`);
  await checkManager(conn);
  if (plan.envFile) {
    const e = await conn.run(envFileCheckArgv(plan.envFile));
    const why = envFileProblem(e.exitCode, e.stdout);
    if (why) {
      throw new UserError(`${label}: deploy.env_file ${plan.envFile} ${why}`,
        `create it on the manager (the docker CLI there reads it), readable by user ${conn.target.user}, or point deploy.env_file at the right path`);
    }
    // docker stack deploy reads env_file with the same literal rules as docker run --env-file.
    reportEnvFileLint(label, plan.envFile, e.stdout, 'manager');
  }
  run.before = parseState((await conn.check(readStateArgv(plan.app), 'reading the deploy state')).stdout);
  await readNodes(run);
  for (const s of plan.services) run.found.set(s.name, await inspectService(run, s.name));
  run.lock = await acquireLock(conn, run.ledger, { app: plan.app, runId: run.runId, actor: run.actor, timeout: req.lockTimeout, breakStale: req.breakLock, signal: req.signal });
  const running = [...run.found.entries()].map(([n, i]) => `${n}=${i ? tagOf(i.image) || i.image : '(none)'}`).join(', ');
  reporter().info(`${label}: docker ${v.stdout.trim()}, swarm manager, ${run.nodes} node(s) ready${run.downNodes.length ? `, down: ${run.downNodes.join(', ')}` : ''}; ${running}; lock taken`);
}

/** Registry login into a fresh per-deploy DOCKER_CONFIG on the manager (password on stdin). */
async function login(run: SwarmRun, req: SwarmRequest): Promise<void> {
  if (!req.login) return;
  const dir = dockerConfigPath(randomBytes(8).toString('hex'));
  const item: CleanupItem = { kind: 'remote-docker-config', host: run.conn.name, path: dir, sshArgs: run.conn.directPrefix() };
  run.ledger.add(item);
  run.dockerConfig = dir;
  await run.conn.check(makeDockerConfigArgv(dir), 'creating the registry credentials directory');
  const l = await run.conn.run(loginArgv(req.login.registry, req.login.username, dir), { input: req.login.password + '\n' });
  if (l.exitCode !== 0) throw new SwarmStepError('manager', 'registry login', lastLines(l.stderr || l.stdout));
}

async function logout(run: SwarmRun): Promise<void> {
  const dir = run.dockerConfig;
  if (!dir) return;
  try {
    await run.conn.check(removeDockerConfigArgv(dir), 'removing the registry credentials directory');
    run.ledger.done({ kind: 'remote-docker-config', host: run.conn.name, path: dir, sshArgs: run.conn.directPrefix() });
    run.dockerConfig = undefined;
  } catch (e) {
    reporter().warning(`${run.conn.name}: ${errorMessage(e)}; it is retried at cleanup`);
  }
}

function result(s: ServicePlan, oldTag: string, newTag: string): SwarmServiceResult {
  return { service: s.name, role: s.role, oldTag, newTag, running: 0, desired: 0, result: 'not started', behind: [], ms: 0 };
}

/** Services already rolled (in order) go back to their old tag; ones this deploy created are removed. */
async function revertRolled(run: SwarmRun, done: SwarmServiceResult[]): Promise<string[]> {
  const problems: string[] = [];
  for (const r of [...done].reverse()) {
    const s = run.plan.services.find((x) => x.name === r.service)!;
    try {
      if (!r.oldTag) {
        await removeService(run, s.name);
        r.result = 'removed (first deploy failed)';
        r.running = 0;
      } else {
        const back = await rollService(run, s, r.oldTag);
        Object.assign(r, { result: 'reverted', running: back.count.running, desired: back.count.desired, behind: back.count.behind });
      }
    } catch (e) {
      r.result = `revert failed: ${errorMessage(e)}`;
      problems.push(`${s.name}: ${errorMessage(e)}`);
    }
  }
  return problems;
}

/** The service that failed: Swarm rolled it back already, or it stalled and is rolled back now. */
async function settleFailed(run: SwarmRun, s: ServicePlan, r: SwarmServiceResult, e: unknown, problems: string[]): Promise<void> {
  const info = await inspectService(run, s.name);
  if (e instanceof SwarmStepError && e.rolledBackBySwarm) {
    const c = info ? countTasks(await serviceTasks(run, info.id), r.oldTag) : { desired: 0, running: 0, behind: [] };
    Object.assign(r, { result: 'rolled back by Swarm', running: c.running, desired: c.desired, behind: c.behind });
    return;
  }
  if (!info) { r.result = 'failed'; return; }
  if (!r.oldTag) {
    await removeService(run, s.name);
    Object.assign(r, { result: 'removed (first deploy failed)', running: 0, desired: 0 });
    return;
  }
  const c = await askRollback(run, s, r.oldTag, convergeTimeout(s, desiredTasks(s, run.nodes), 1));
  const whole = c.desired > 0 && c.running === c.desired;
  Object.assign(r, { result: whole ? 'rolled back' : 'rollback incomplete', running: c.running, desired: c.desired, behind: c.behind });
  if (!whole) problems.push(`${s.name}: ${c.running}/${c.desired} task(s) back on ${r.oldTag}; not yet: ${c.behind.join(', ') || '-'}`);
}

export async function executeSwarmDeploy(req: SwarmRequest): Promise<SwarmReport> {
  const plan = planSwarm(req.config);
  if (req.mode === 'deploy' && !req.tag) throw new UserError('deploy needs a tag', 'set the tag input (default build-<run number>)');
  const conn = req.connect ? req.connect(plan.manager) : new SshConnection(plan.manager, await prepareSshSettings({ ...req.ssh, jump: jumpTarget(req.config.deploy) }, req.ledger, req.env), req.ledger);
  const { runId, actor } = runIdentity(req.env);
  const run: SwarmRun = {
    plan, mode: req.mode, conn, ledger: req.ledger, runId, actor, signal: req.signal, hooks: req.hooks ?? {},
    before: { tag: '', revert: '' }, target: '', found: new Map(), recorded: false, nodes: 0, downNodes: [],
    ...(req.mode === 'deploy' && req.digest ? { digest: req.digest } : {}), ...(req.untested ? { untested: req.untested } : {}),
  };
  const report: SwarmReport = {
    target: 'swarm', ok: false, mode: req.mode, plan, phase: 'preflight', reverted: false, revertProblems: [],
    oldTag: '', newTag: '', services: [], notes: [],
  };
  // One list: problems met while settling the failed service (settleFailed) and the revert's.
  const outcome: RolloutOutcome = { ok: false, phase: 'preflight', reverted: false, revertProblems: report.revertProblems };
  try {
    await runRollout(swarmDriver(run, req, report), req.signal, outcome);
  } finally {
    await conn.close().catch(() => undefined);
  }
  return Object.assign(report, {
    ok: outcome.ok, phase: outcome.phase, error: outcome.error, failedService: outcome.failedAt, failedStep: outcome.failedStep,
    reverted: outcome.reverted, revertProblems: outcome.revertProblems,
  });
}

/**
 * The Swarm driver: one manager. Preflight (swarm, env file, TAG/REVERT, nodes, services,
 * lock), the image checked on the manager with the registry login, release tasks as Swarm jobs,
 * each role's service updated by Swarm in turn (which rolls a failing one back itself), the roles
 * already updated reverted when a later one fails, finish on the manager.
 */
function swarmDriver(run: SwarmRun, req: SwarmRequest, report: SwarmReport): RolloutDriver {
  const { plan, conn } = run;
  const r = reporter();
  const rolled: SwarmServiceResult[] = [];
  return {
    target: 'swarm',
    preflight: async () => {
      try {
        await r.group(`Preflight: swarm manager ${plan.manager.label}`, () => preflight(run, req));
      } catch (e) {
        throw e instanceof UserError ? new UserError(`preflight failed, nothing was changed: ${e.message}`, e.hint) : e;
      }
    },
    chooseTargets: () => {
      run.target = req.tag ?? run.before.revert;
      if (!run.target) throw new UserError('rollback refused, nothing was changed: no recorded previous tag on the manager', `name the tag to go back to with ${inputLabel('tag', req.ssh.where)}`);
      report.oldTag = run.before.tag;
      report.newTag = run.target;
      report.services = plan.services.map((s) => result(s, run.found.get(s.name) ? tagOf(run.found.get(s.name)!.image) : '', run.target));
    },
    prepareTitle: () => `Checking ${imageRef(plan.image, run.target)}${run.digest ? `@${run.digest}` : ''} on the manager`,
    prepare: async () => {
      const ref = `${imageRef(plan.image, run.target)}${run.digest ? `@${run.digest}` : ''}`;
      await login(run, req);
      // By digest the manager also tags it as the release, so what it runs can be read back (promote).
      const p = await conn.run(run.digest ? pullDigestArgv(plan.image, run.digest, run.target, run.dockerConfig) : pullArgv(ref, run.dockerConfig));
      if (p.exitCode !== 0) {
        if (req.mode === 'rollback') throw new UserError(`rollback refused, nothing was changed: ${ref} is not available (${lastLines(p.stderr || p.stdout)})`, `pick a tag that is still in the registry, with ${inputLabel('tag', req.ssh.where)}`);
        throw new SwarmStepError('manager', `pull ${ref}`, lastLines(p.stderr || p.stdout));
      }
      r.info(`${ref} is available`);
    },
    record: async () => {
      await conn.check(recordRevertArgv(plan.app, run.target), 'recording the revert tag');
      run.recorded = !!run.before.tag && run.before.tag !== run.target;
      await conn.check(ensureNetworkArgv(plan.network, plan.app), `creating the overlay network ${plan.network}`);
    },
    tasksTitle: () => ((req.mode === 'deploy' || req.runTasks) && plan.tasks.length ? `Release tasks as Swarm jobs on ${plan.network}` : undefined),
    tasks: () => runSwarmTasks(run),
    roll: (cancelled) => r.group('Rolling update by Swarm', async () => {
      for (const s of plan.services) {
        cancelled();
        const res = report.services.find((x) => x.service === s.name)!;
        try {
          const out = await rollService(run, s, run.target);
          const unchanged = !out.changed && res.oldTag === run.target;
          Object.assign(res, { result: unchanged ? 'unchanged' : res.oldTag ? 'updated' : 'created', running: out.count.running, desired: out.count.desired, behind: out.count.behind, ms: out.ms });
          rolled.push(res);
        } catch (e) {
          await settleFailed(run, s, res, e, report.revertProblems).catch((x) => report.revertProblems.push(`${s.name}: ${errorMessage(x)}`));
          throw e;
        }
      }
    }),
    touched: () => rolled.map((x) => x.service),
    revert: () => revertRolled(run, rolled),
    finish: async (outcome, result) => {
      await readNodes(run).catch(() => undefined);
      for (const n of run.downNodes) report.notes.push(`node ${n} is down: it runs none of this deploy's tasks; Swarm starts them there when it is back (global services) or has placed them elsewhere`);
      for (const s of report.services) if (s.behind.length) report.notes.push(`${s.service}: tasks on ${s.behind.join(', ')} are not on ${s.result.includes('back') || s.result === 'reverted' ? s.oldTag : s.newTag}`);
      await finish(run, outcome.ok, `${result}${outcome.reverted ? ' (reverted)' : ''}`);
    },
    release: async () => {
      await logout(run);
      if (!run.lock) return;
      try {
        await releaseLock(conn, run.ledger, plan.app, run.lock);
        run.lock = undefined;
      } catch (e) {
        r.warning(`${conn.name}: could not release the deploy lock (${errorMessage(e)}); it is retried at cleanup`);
      }
    },
  };
}

async function finish(run: SwarmRun, ok: boolean, result: string): Promise<void> {
  const tag = ok ? run.target : '';
  const revert = !ok && run.recorded ? run.before.revert || '-' : '';
  const line = auditLine({ time: new Date(), actor: run.actor, app: run.plan.app, command: run.mode, from: run.before.tag, to: releaseRef(run.target, run.digest), result: `${result}${run.untested ? ` untested: ${run.untested}` : ''}`, runId: run.runId });
  try {
    await run.conn.check(finishArgv(run.plan.app, tag, revert, line), 'writing TAG and the audit log');
  } catch (e) {
    reporter().warning(`${run.conn.name}: finishing failed (${errorMessage(e)})`);
  }
}
