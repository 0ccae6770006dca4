// Release tasks (migrations) as one-off Swarm jobs on the app's network, before any service
// changes. Output is streamed to the log while the job runs; a failure stops the deploy with
// no service touched. The job service is removed (by id) whatever happens.
import { formatDuration, reporter } from '../util/reporter.js';
import { errorMessage } from '../errors.js';
import { jobCreateArgv, jobState, serviceLogsArgv, serviceRemoveArgv } from './commands.js';
import { serviceTasks } from './rollout.js';
import { SwarmStepError, type SwarmRun } from './types.js';

const POLL_MS = 2000;
/** Bound on one release task (a long migration is fine; a hung one is not). */
export const TASK_TIMEOUT_S = 30 * 60;

/** `<app>_task_<run>_<i>`: a valid service name (at most 63 characters). */
export function jobName(app: string, runId: string, index: number): string {
  return `${app}_task_${runId.replace(/[^A-Za-z0-9_-]/g, '-')}_${index}`.slice(0, 63);
}

async function printNewLines(run: SwarmRun, id: string, printed: number, prefix: string): Promise<number> {
  const r = await run.conn.run(serviceLogsArgv(id));
  const lines = `${r.stdout}${r.stderr}`.split('\n').filter((l) => l.trim());
  for (const l of lines.slice(printed)) reporter().info(`${prefix}${l}`);
  return Math.max(printed, lines.length);
}

export async function runSwarmTasks(run: SwarmRun): Promise<void> {
  const { plan } = run;
  for (const [i, command] of plan.tasks.entries()) {
    const t0 = Date.now();
    const what = `task '${command.join(' ')}'`;
    const name = jobName(plan.app, run.runId, i);
    const created = await run.conn.run(jobCreateArgv({ name, app: plan.app, image: plan.image, tag: run.target, network: plan.network, envFile: plan.envFile, command }, run.dockerConfig));
    if (created.exitCode !== 0) throw new SwarmStepError('manager', what, `could not create the job: ${(created.stderr || created.stdout).trim()}`);
    const id = created.stdout.trim().split('\n').pop()!.trim();
    let printed = 0;
    try {
      const deadline = Date.now() + TASK_TIMEOUT_S * 1000;
      for (;;) {
        const state = jobState(await serviceTasks(run, id));
        printed = await printNewLines(run, id, printed, '  | ');
        if (state.state === 'complete') break;
        if (state.state === 'failed') {
          throw new SwarmStepError(name, what, `${state.error}; no service was touched (the job's output is above)`);
        }
        if (Date.now() > deadline) throw new SwarmStepError(name, what, `did not finish within ${TASK_TIMEOUT_S}s; no service was touched`);
        if (run.signal.aborted) throw new SwarmStepError(name, what, 'cancelled; no service was touched');
        await new Promise((r) => setTimeout(r, POLL_MS));
      }
    } finally {
      try {
        await run.conn.check(serviceRemoveArgv(id), `removing the job ${name}`);
      } catch (e) {
        reporter().warning(`could not remove the job service ${name} (${id}): ${errorMessage(e)}; remove it with docker service rm ${id}`);
      }
    }
    reporter().info(`${what} done in ${formatDuration(Date.now() - t0)} (Swarm job ${name})`);
  }
}
