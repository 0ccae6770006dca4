// `proxy-status` (CLI: `pallet proxy status`): per host, the proxy container's state and every
// route it holds (all apps sharing the proxy), with each route's live container. Tables in the
// terminal and the job summary, JSON with --json. Exit 1 only when a host could not be asked.
import type { CommandResult, RunContext } from './context.js';
import { sessionOptions } from './context.js';
import { errorMessage, UserError } from '../errors.js';
import { reporter } from '../util/reporter.js';
import { planDeploy } from '../deploy/plan.js';
import { forEachHost } from '../deploy/parallel.js';
import { lastLines } from '../ssh/errors.js';
import { openSession } from '../ops/remote.js';
import { selectForView } from '../ops/select.js';
import { parseProxyStatus, proxyStatusArgv } from '../deploy/proxy/commands.js';
import { PROXY_HEADER, ROUTE_HEADER, proxyProblems, proxyRows, routeRows, type HostProxyStatus } from '../deploy/proxy/status.js';

export async function runProxyStatusCommand(ctx: RunContext): Promise<CommandResult> {
  if (ctx.config.deploy?.swarm) {
    throw new UserError('proxy status: this app deploys to a Docker Swarm, which publishes its ports itself (there is no per-host proxy)', 'see the services with: pallet status');
  }
  const plan = planDeploy(ctx.config);
  const sel = selectForView(plan, { role: ctx.inputs.ops.role, host: ctx.inputs.ops.host, where: ctx.where });
  // The proxy runs on the hosts of web roles; with --host, that host alone.
  const web = sel.roles.filter((r) => r.web);
  const targets = ctx.inputs.ops.host ? sel.hosts : sel.hosts.filter((t) => web.some((r) => r.hosts.includes(t.label)));
  if (!plan.proxy) reporter().warning(`${plan.app} runs without the proxy (deploy.proxy: false); other apps on these hosts may still use it`);
  const session = await openSession(targets, sessionOptions(ctx));
  let hosts: HostProxyStatus[];
  try {
    const outcomes = await forEachHost(targets.map((t) => t.label), async (label) => {
      const r = await session.conns.get(label)!.run(proxyStatusArgv());
      if (r.exitCode !== 0) throw new Error(`docker does not answer: ${lastLines(r.stderr || r.stdout) || `exit ${r.exitCode}`}`);
      return r.stdout;
    });
    hosts = outcomes.map((o) => (o.ok
      ? { host: o.host, ...parseProxyStatus(o.value) }
      : { host: o.host, state: '', image: '', startedAt: '', restarts: 0, routes: [], error: errorMessage(o.error) }));
  } finally {
    await session.close();
  }
  const problems = proxyProblems(hosts, undefined, plan.proxy?.image);
  if (ctx.inputs.ops.json) {
    process.stdout.write(`${JSON.stringify({ app: plan.app, hosts, problems }, null, 2)}\n`);
  } else {
    const s = reporter().summary;
    s.heading(`Proxy on the hosts of ${plan.app}`);
    s.table(PROXY_HEADER, proxyRows(hosts));
    const routes = routeRows(hosts);
    if (routes.length) s.table(ROUTE_HEADER, routes);
    else s.text('No routes: no app has deployed behind the proxy on these hosts yet.');
    for (const p of problems) reporter().warning(p);
  }
  return { exitCode: hosts.some((h) => h.error) ? 1 : 0, outputs: {} };
}
