// One-off Swarm jobs: release tasks (migrations) before any service changes, and `pallet exec`.
// A job is one task on the app's network, never restarted; its output is polled while it runs and
// handed on line by line, and the job service is removed (by id) whatever happens.
import { randomBytes } from 'node:crypto';
import { formatDuration, reporter } from '../util/reporter.js';
import { errorMessage } from '../errors.js';
import type { HostConnection } from '../ssh/connection.js';
import { jobCreateArgv, jobState, serviceLogsArgv, serviceRemoveArgv } from './commands.js';
import { serviceTasks } from './rollout.js';
import { SwarmStepError, type SwarmRun } from './types.js';

// How often Swarm is asked how a job or an update is doing: two short commands over the ssh master.
const POLL_MS = 1000;
/** Bound on one release task (a long migration is fine; a hung one is not). */
export const TASK_TIMEOUT_S = 30 * 60;

/** `<app>_task_<run>_<i>`: a valid service name (at most 63 characters). */
export function jobName(app: string, runId: string, index: number): string {
  return `${app}_task_${runId.replace(/[^A-Za-z0-9_-]/g, '-')}_${index}`.slice(0, 63);
}

/** `<app>_exec_<role>_<xxxxxx>`: recognisable in `docker service ls`, unique per exec, at most 63 characters. */
export function execJobName(app: string, role: string, id = randomBytes(3).toString('hex')): string {
  return `${app}_exec_${role}_${id}`.slice(0, 63);
}

export interface JobOutcome {
  /** complete/failed: what the task did; timeout and cancelled: the job was removed while it ran. */
  state: 'complete' | 'failed' | 'timeout' | 'cancelled';
  /** Swarm's error of a failed task, e.g. `task: non-zero exit (3)`. */
  error?: string;
  /** The command's exit code where the task says it (see jobState). */
  exitCode?: number;
}

export interface JobOptions {
  /** Named in messages. */
  name: string;
  /** Gets each new output line as it arrives (stdout and stderr together). */
  onLine: (line: string) => void;
  signal: AbortSignal;
  /** Seconds before the job is given up on (default: until it ends or `signal` aborts). */
  timeoutS?: number;
}

async function newLines(conn: HostConnection, id: string, seen: number, onLine: (l: string) => void): Promise<number> {
  const out = (await conn.run(serviceLogsArgv(id))).stdout;
  const lines = out ? out.replace(/\n$/, '').split('\n') : [];
  for (const l of lines.slice(seen)) onLine(l);
  return Math.max(seen, lines.length);
}

/**
 * Creates the job (`create`: a jobCreateArgv), polls its task every second, handing on its output,
 * and removes it when it ended, timed out or `signal` aborted. Throws when the job could not be
 * created; a failed task is an outcome, not an error.
 */
export async function runJob(conn: HostConnection, create: string[], o: JobOptions): Promise<JobOutcome> {
  const created = await conn.run(create);
  if (created.exitCode !== 0) throw new Error(`could not create the Swarm job ${o.name}: ${(created.stderr || created.stdout).trim()}`);
  const id = created.stdout.trim().split('\n').pop()!.trim();
  const deadline = o.timeoutS === undefined ? Infinity : Date.now() + o.timeoutS * 1000;
  let seen = 0;
  try {
    // Bounded by the poll count too (about 28 hours at 1 s).
    for (let i = 0; i < 100_000; i++) {
      const state = jobState(await serviceTasks({ conn }, id));
      seen = await newLines(conn, id, seen, o.onLine);
      if (state.state !== 'pending') return { ...state, state: state.state };
      if (Date.now() > deadline) return { state: 'timeout' };
      if (o.signal.aborted) return { state: 'cancelled' };
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
    return { state: 'timeout' };
  } finally {
    try {
      await conn.check(serviceRemoveArgv(id), `removing the job ${o.name}`);
    } catch (e) {
      reporter().warning(`could not remove the job service ${o.name} (${id}): ${errorMessage(e)}; remove it with docker service rm ${id}`);
    }
  }
}

export async function runSwarmTasks(run: SwarmRun): Promise<void> {
  const { plan } = run;
  for (const [i, command] of plan.tasks.entries()) {
    const t0 = Date.now();
    const what = `task '${command.join(' ')}'`;
    const name = jobName(plan.app, run.runId, i);
    const create = jobCreateArgv({ name, app: plan.app, image: plan.image, tag: run.target, ...(run.digest ? { ref: `${plan.image}:${run.target}@${run.digest}` } : {}), kind: 'task', network: plan.network, envFile: plan.envFile, command }, run.dockerConfig);
    let out: JobOutcome;
    try {
      out = await runJob(run.conn, create, { name, onLine: (l) => reporter().info(`  | ${l}`), signal: run.signal, timeoutS: TASK_TIMEOUT_S });
    } catch (e) {
      throw new SwarmStepError('manager', what, errorMessage(e));
    }
    if (out.state === 'failed') throw new SwarmStepError(name, what, `${out.error}; no service was touched (the job's output is above)`);
    if (out.state === 'timeout') throw new SwarmStepError(name, what, `did not finish within ${TASK_TIMEOUT_S}s; no service was touched`);
    if (out.state === 'cancelled') throw new SwarmStepError(name, what, 'cancelled; no service was touched');
    reporter().info(`${what} done in ${formatDuration(Date.now() - t0)} (Swarm job ${name})`);
  }
}
