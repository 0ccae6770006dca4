// `status`: per host and role the running container (tag, state, health, restarts, uptime), TAG,
// REVERT, the deploy lock and the last audit lines. Tables in the terminal and the job summary,
// JSON with --json. Exit 1 only when a host could not be asked.
import type { CommandResult, RunContext } from './context.js';
import { sessionOptions } from './context.js';
import { errorMessage } from '../errors.js';
import { reporter } from '../util/reporter.js';
import { planDeploy } from '../deploy/plan.js';
import { forEachHost } from '../deploy/parallel.js';
import { lastLines } from '../ssh/errors.js';
import { openSession } from '../ops/remote.js';
import { selectForView } from '../ops/select.js';
import {
  CONTAINER_HEADER, STATE_HEADER, containerRows, parseStatus, stateRows, statusArgv, statusProblems, type HostStatus,
} from '../ops/status.js';

export async function runStatusCommand(ctx: RunContext): Promise<CommandResult> {
  const plan = planDeploy(ctx.config);
  const sel = selectForView(plan, { role: ctx.inputs.ops.role, host: ctx.inputs.ops.host, where: ctx.where });
  const roleNames = ctx.inputs.ops.role ? sel.roles.map((r) => r.role) : undefined;
  const session = await openSession(sel.hosts, sessionOptions(ctx));
  let hosts: HostStatus[];
  try {
    const outcomes = await forEachHost(sel.hosts.map((t) => t.label), async (label) => {
      const r = await session.conns.get(label)!.run(statusArgv(plan.app));
      if (r.exitCode !== 0) throw new Error(`docker does not answer: ${lastLines(r.stderr || r.stdout) || `exit ${r.exitCode}`}`);
      return r.stdout;
    });
    hosts = outcomes.map((o) => {
      const roles = plan.roles.filter((r) => r.hosts.includes(o.host)).map((r) => r.role);
      return o.ok ? parseStatus(o.host, roles, o.value) : { host: o.host, roles, tag: '', revert: '', containers: [], audit: [], error: errorMessage(o.error) };
    });
  } finally {
    await session.close();
  }
  const problems = statusProblems(hosts, roleNames);
  if (ctx.inputs.ops.json) {
    process.stdout.write(`${JSON.stringify({ app: plan.app, image: plan.image, hosts, problems }, null, 2)}\n`);
  } else {
    const s = reporter().summary;
    s.heading(`Status of ${plan.app} (${plan.image})`);
    s.table(CONTAINER_HEADER, containerRows(hosts, roleNames));
    s.table(STATE_HEADER, stateRows(hosts));
    const audit = hosts.flatMap((h) => h.audit.map((l) => `${h.host}: ${l.split('\t').join('  ')}`));
    if (audit.length) { s.text('Last audit lines:'); s.list(audit); }
    for (const p of problems) reporter().warning(p);
  }
  return { exitCode: hosts.some((h) => h.error) ? 1 : 0, outputs: {} };
}
