// Step 4: release tasks (migrations) once, on the first host, with the host's
// env files (deploy.env's, then the host's), before any restart. A failure here means no host restarts.
import { formatDuration, reporter } from '../util/reporter.js';
import { lastLines } from '../ssh/errors.js';
import { taskArgv } from './commands.js';
import { envFilesFor } from './release-env.js';
import { StepError, type DeployRun } from './types.js';

export async function runTasks(run: DeployRun): Promise<void> {
  const label = run.plan.taskHost;
  const h = run.hosts.get(label)!;
  for (const [i, command] of run.plan.tasks.entries()) {
    const t0 = Date.now();
    const name = `${run.plan.app}-task-${run.runId.replace(/[^A-Za-z0-9_.-]/g, '-')}-${i}`.slice(0, 120);
    const r = await h.conn.run(taskArgv({ app: run.plan.app, image: run.plan.image, tag: h.target, ...envFilesFor(run, label, h.target), command, name, network: run.plan.network }));
    if (r.exitCode !== 0) {
      throw new StepError(label, `task '${command.join(' ')}'`, `exit ${r.exitCode}: ${lastLines(r.stderr || r.stdout, 5)}`);
    }
    reporter().info(`${label}: task '${command.join(' ')}' done in ${formatDuration(Date.now() - t0)}`);
  }
}
