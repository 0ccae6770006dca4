// deploy.cron in a deploy or rollback (the executor; the commands are in ./commands.ts): in the
// pull phase every host gets its next job definitions (those of the jobs it runs, none where it
// runs none, so a job deleted from pallet.yml or moved to another host stops here); finish swaps
// them in together with TAG (CRON_SWAP), or drops them after a failure.
import { errorMessage } from '../errors.js';
import { lastLines } from '../ssh/errors.js';
import { reporter } from '../util/reporter.js';
import { stateDir } from '../deploy/commands.js';
import { failures, forEachHost } from '../deploy/parallel.js';
import { StepError, type DeployRun } from '../deploy/types.js';
import { PREPARE_NO_CRON, prepareCronArgv, type HostCronJob } from './commands.js';

/** The jobs host `label` runs, as prepareCronArgv takes them (pure). */
export function hostCronJobs(run: Pick<DeployRun, 'plan'>, label: string): HostCronJob[] {
  const { plan } = run;
  return plan.cron.filter((j) => j.hosts.includes(label)).map((j) => ({
    name: j.name, schedule: j.schedule, when: j.when, timezone: j.timezone, image: plan.image,
    ...(plan.envFile ? { envFile: plan.envFile } : {}),
    options: ['-v', `${stateDir(plan.app)}/storage:/storage`], command: j.command,
  }));
}

/** On every host: its next job definitions and the crontab line. Throws a StepError naming the first host that failed. */
export async function prepareCronJobs(run: DeployRun): Promise<void> {
  const outcomes = await forEachHost([...run.hosts.keys()], async (label) => {
    const jobs = hostCronJobs(run, label);
    const r = await run.hosts.get(label)!.conn.run(prepareCronArgv(stateDir(run.plan.app), run.plan.app, jobs));
    if (r.exitCode === PREPARE_NO_CRON) throw new StepError(label, 'cron', `${lastLines(r.stdout || r.stderr)} (see docs/cron.md)`);
    if (r.exitCode !== 0) throw new StepError(label, 'cron', lastLines(r.stdout || r.stderr, 2) || `exit ${r.exitCode}`);
    if (jobs.length) reporter().info(`${label}: cron: ${jobs.map((j) => `${j.name} (${run.plan.cron.find((c) => c.name === j.name)!.schedule}, ${j.timezone})`).join(', ')}, with the release that goes live`);
  });
  const f = failures(outcomes)[0];
  if (f) throw f.error instanceof StepError ? f.error : new StepError(f.host, 'cron', errorMessage(f.error));
}
