// Rolling one service to a tag: `docker stack deploy` of its Compose document, then watching
// Swarm's update (bounded) until it completed, rolled back or stalled. Swarm does the rolling
// itself (order, parallelism, health, monitor, rollback); this only reports and decides.
import { UserError } from '../errors.js';
import { formatDuration, reporter } from '../util/reporter.js';
import { lastLines } from '../ssh/errors.js';
import type { HostConnection } from '../ssh/connection.js';
import { batchSize } from '../deploy/plan.js';
import { composeDocument, composeText, HEALTH_INTERVAL, HEALTH_RETRIES } from './compose.js';
import {
  countTasks, parseNodes, parseServiceInfo, parseTasks, rollbackReason, serviceInspectArgv, serviceRemoveArgv,
  serviceRollbackArgv, serviceTasksArgv, stackDeployArgv, nodeListArgv, swarmInfoArgv, swarmInfoProblem, type ServiceInfo, type TaskCount, type TaskInfo,
} from './commands.js';
import type { ServicePlan } from './plan.js';
import { SwarmStepError, type SwarmRun } from './types.js';

// How often Swarm is asked how a job or an update is doing: two short commands over the ssh master.
const POLL_MS = 1000;
const sleep = (ms: number, signal: AbortSignal) => new Promise<void>((resolve) => {
  const onAbort = () => { clearTimeout(t); resolve(); };
  const t = setTimeout(() => { signal.removeEventListener('abort', onAbort); resolve(); }, ms);
  signal.addEventListener('abort', onAbort, { once: true });
});

/** Throws a UserError (with the command that fixes it) unless the host is an active Swarm manager. */
export async function checkManager(conn: HostConnection): Promise<void> {
  const problem = swarmInfoProblem((await conn.check(swarmInfoArgv(), 'reading the swarm state')).stdout);
  if (problem) throw new UserError(`deploy.swarm.manager ${conn.name} ${problem}`, 'docs/swarm.md shows how to turn existing hosts into a swarm');
}

/** The service's id, spec image and update status; undefined when there is no such service. */
export async function inspectService(run: Pick<SwarmRun, 'conn'>, name: string): Promise<ServiceInfo | undefined> {
  return parseServiceInfo((await run.conn.check(serviceInspectArgv(name), `inspecting ${name}`)).stdout);
}

/** Every task of the service, history included (see TASK_FORMAT). */
export async function serviceTasks(run: Pick<SwarmRun, 'conn'>, id: string): Promise<TaskInfo[]> {
  return parseTasks((await run.conn.check(serviceTasksArgv(id), 'listing tasks')).stdout);
}

/** Nodes that are ready and active (they get a task of every global service), and the down ones. */
export async function readNodes(run: SwarmRun): Promise<void> {
  const nodes = parseNodes((await run.conn.check(nodeListArgv(), 'listing swarm nodes')).stdout);
  run.nodes = nodes.filter((n) => n.status === 'ready' && n.availability === 'active').length;
  run.downNodes = nodes.filter((n) => n.status !== 'ready').map((n) => n.hostname);
}

/** Tasks the service should run; the base of the update parallelism. */
export function desiredTasks(s: ServicePlan, nodes: number): number {
  return s.mode === 'global' ? Math.max(1, nodes) : s.replicas ?? 1;
}

/** Pure: seconds to wait for one service's update before calling it stalled. */
export function convergeTimeout(s: ServicePlan, tasks: number, parallelism: number): number {
  const perBatch = (s.web ? s.healthTimeout + HEALTH_INTERVAL * (HEALTH_RETRIES + 1) : 5) + s.monitor + s.stopTimeout + 60;
  return Math.ceil(Math.max(1, tasks) / Math.max(1, parallelism)) * perBatch + 60;
}

/** Pure: seconds without progress, with a node down, after which an update counts as stalled. */
export function stallSeconds(s: ServicePlan): number {
  return (s.web ? s.healthTimeout + HEALTH_INTERVAL * (HEALTH_RETRIES + 1) : 5) + s.monitor + s.stopTimeout + 30;
}

export interface RollResult { count: TaskCount; ms: number; changed: boolean }

/**
 * Deploys `s` at `tag` and waits. Resolves when every wanted task runs the tag (or Swarm
 * reports the update completed); throws SwarmStepError when Swarm rolled it back (with the
 * reason it gave), paused it, or it did not converge in time.
 */
export async function rollService(run: SwarmRun, s: ServicePlan, tag: string, opts: { timeoutS?: number } = {}): Promise<RollResult> {
  const t0 = Date.now();
  const before = await inspectService(run, s.name);
  const tasks = desiredTasks(s, run.nodes);
  const parallelism = batchSize(tasks, run.plan.batch);
  const doc = composeText(composeDocument(run.plan, s, { tag, parallelism, digest: tag === run.target ? run.digest : undefined }));
  const d = await run.conn.run(stackDeployArgv(run.plan.stack, run.dockerConfig), { input: doc });
  if (d.exitCode !== 0) throw new SwarmStepError(s.name, 'docker stack deploy', lastLines(d.stderr || d.stdout, 5));
  await run.hooks.afterServiceDeploy?.({ service: s.name, tag });
  const timeoutS = opts.timeoutS ?? convergeTimeout(s, tasks, parallelism);
  const deadline = Date.now() + timeoutS * 1000;
  let last = '';
  let announcedRollback = false;
  // "update rolled back due to failure or early termination of task X": the rollback's cause,
  // only shown while the rollback runs (its final message is just "rollback completed").
  let cause = '';
  let count: TaskCount = { desired: 0, running: 0, behind: [] };
  let lastChange = Date.now();
  const stallMs = stallSeconds(s) * 1000;
  for (let i = 0; i < 100_000; i++) {
    const info = await inspectService(run, s.name);
    if (!info) throw new SwarmStepError(s.name, 'update', 'the service disappeared during the update');
    const list = await serviceTasks(run, info.id);
    count = countTasks(list, tag);
    const fresh = info.update && info.update.startedAt !== before?.update?.startedAt ? info.update : undefined;
    const line = `${s.name}: ${count.running}/${count.desired} task(s) on ${tag}${fresh ? ` (${fresh.state})` : ''}`;
    if (line !== last) { reporter().info(line); last = line; lastChange = Date.now(); }
    if (fresh) {
      // Swarm says completed once the last task was started; wait for it to run (healthy) too.
      if (fresh.state === 'completed' && count.running === count.desired) return { count, ms: Date.now() - t0, changed: true };
      if (fresh.state === 'completed' && Date.now() > deadline) return { count, ms: Date.now() - t0, changed: true };
      if (fresh.state.startsWith('rollback') && /task /.test(fresh.message)) cause = fresh.message;
      const why = () => rollbackReason({ ...fresh, message: cause || fresh.message }, list);
      if (fresh.state === 'rollback_started' && !announcedRollback) {
        announcedRollback = true;
        reporter().warning(`${s.name}: Swarm is rolling back: ${fresh.message}`);
      }
      if (fresh.state === 'rollback_completed') {
        throw new SwarmStepError(s.name, 'health check', `Swarm rolled the update back: ${why()}`, true);
      }
      if (fresh.state === 'paused' || fresh.state === 'rollback_paused') {
        throw new SwarmStepError(s.name, 'update', `Swarm ${fresh.state.replace('_', ' ')}: ${why()}`, fresh.state === 'rollback_paused');
      }
    } else if (count.desired > 0 && count.running === count.desired && (!before || info.version !== before.version || before.image.split('@')[0].endsWith(`:${tag}`))) {
      // A new service that converged, or an unchanged spec (nothing for Swarm to roll).
      return { count, ms: Date.now() - t0, changed: !!before && info.version !== before.version };
    }
    // A node that stopped answering holds the update until it is back: say so instead of waiting it out.
    if (Date.now() - lastChange > stallMs) {
      await readNodes(run).catch(() => undefined);
      if (run.downNodes.length) {
        throw new SwarmStepError(s.name, 'update', `stalled for ${Math.round((Date.now() - lastChange) / 1000)}s with node(s) down: ${run.downNodes.join(', ')}; ` +
          `${count.running}/${count.desired} task(s) on ${tag}${count.behind.length ? `, not yet on it: ${count.behind.join(', ')}` : ''}`);
      }
    }
    if (Date.now() > deadline) {
      await readNodes(run).catch(() => undefined);
      throw new SwarmStepError(s.name, 'update', `did not finish within ${timeoutS}s: ${count.running}/${count.desired} task(s) on ${tag}` +
        `${count.behind.length ? `, not yet on it: ${count.behind.join(', ')}` : ''}${run.downNodes.length ? `; nodes down: ${run.downNodes.join(', ')}` : ''}` +
        `${fresh ? `; Swarm says ${fresh.state}: ${fresh.message}` : ''}`);
    }
    if (run.signal.aborted) throw new SwarmStepError(s.name, 'update', 'cancelled');
    await sleep(POLL_MS, run.signal);
  }
  throw new SwarmStepError(s.name, 'update', 'gave up polling');
}

/** Stalled update: ask Swarm to roll the service back to its previous spec and wait (bounded). */
export async function askRollback(run: SwarmRun, s: ServicePlan, previousTag: string, timeoutS: number): Promise<TaskCount> {
  const info = await inspectService(run, s.name);
  if (!info) return { desired: 0, running: 0, behind: [] };
  await run.conn.check(serviceRollbackArgv(info.id), `rolling back ${s.name}`);
  const deadline = Date.now() + timeoutS * 1000;
  let count: TaskCount = { desired: 0, running: 0, behind: [] };
  while (Date.now() < deadline) {
    count = countTasks(await serviceTasks(run, info.id), previousTag);
    const now = await inspectService(run, s.name);
    if (now?.update?.state === 'rollback_completed' || (count.desired > 0 && count.running === count.desired)) return count;
    await sleep(POLL_MS, run.signal);
  }
  return count;
}

/** Removes a service this deploy created (first deploy failed): by id, nothing else. */
export async function removeService(run: SwarmRun, name: string): Promise<void> {
  const info = await inspectService(run, name);
  if (info) await run.conn.check(serviceRemoveArgv(info.id), `removing ${name}`);
}

export function describeCount(c: TaskCount, ms: number): string {
  return `${c.running}/${c.desired} in ${formatDuration(ms)}`;
}
