// `cron-status` (CLI: `pallet cron status`): per host, each deploy.cron job with its schedule, its
// next run, and its last run (start, exit code, duration, release); a failed run's last output
// lines follow the table. JSON with --json. Exit 1 only when a host could not be asked.
import type { CommandResult, RunContext } from './context.js';
import { sessionOptions } from './context.js';
import { errorMessage, UserError } from '../errors.js';
import { reporter } from '../util/reporter.js';
import { planDeploy } from '../deploy/plan.js';
import { stateDir } from '../deploy/commands.js';
import { forEachHost } from '../deploy/parallel.js';
import { lastLines } from '../ssh/errors.js';
import { openSession } from '../ops/remote.js';
import { selectForView } from '../ops/select.js';
import { cronStatusArgv, parseCronStatus } from '../cron/commands.js';
import { CRON_HEADER, cronRows, cronTable, type HostCron } from '../cron/status.js';

export async function runCronStatusCommand(ctx: RunContext): Promise<CommandResult> {
  if (ctx.config.deploy?.swarm) throw new UserError('cron status: deploy.cron runs on SSH hosts only; this app deploys to a Docker Swarm', 'see docs/targets.md');
  const plan = planDeploy(ctx.config);
  const sel = selectForView(plan, { host: ctx.inputs.ops.host, where: ctx.where });
  const session = await openSession(sel.hosts, sessionOptions(ctx));
  let hosts: HostCron[];
  try {
    const outcomes = await forEachHost(sel.hosts.map((t) => t.label), async (label) => {
      const r = await session.conns.get(label)!.run(cronStatusArgv(stateDir(plan.app), plan.app));
      if (r.exitCode !== 0) throw new Error(lastLines(r.stderr || r.stdout) || `exit ${r.exitCode}`);
      return parseCronStatus(r.stdout);
    });
    hosts = outcomes.map((o) => (o.ok ? { host: o.host, ...o.value } : { host: o.host, error: errorMessage(o.error) }));
  } finally {
    await session.close();
  }
  const rows = cronRows(plan.cron, hosts, new Date());
  if (ctx.inputs.ops.json) {
    process.stdout.write(`${JSON.stringify({ app: plan.app, jobs: rows, errors: hosts.filter((h) => h.error).map((h) => ({ host: h.host, error: h.error })) }, null, 2)}\n`);
  } else {
    const s = reporter().summary;
    s.heading(`Scheduled jobs of ${plan.app}`);
    if (rows.length) s.table(CRON_HEADER, cronTable(rows));
    else s.text('No scheduled jobs: deploy.cron is empty and no host holds any.');
    for (const r of rows.filter((x) => x.last && x.last.exit !== 0)) {
      reporter().warning(`${r.host}: ${r.job} exited ${r.last!.exit} at ${r.last!.start} (${r.last!.tag})${r.output.length ? `; its last lines:\n${r.output.map((l) => `  ${l}`).join('\n')}` : ''}\n(all of it: pallet logs --cron ${r.job} --host ${r.host})`);
    }
    for (const h of hosts.filter((x) => x.error)) reporter().warning(`${h.host}: ${h.error}`);
  }
  return { exitCode: hosts.some((h) => h.error) ? 1 : 0, outputs: {} };
}
