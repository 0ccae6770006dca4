// `maintenance-on` / `maintenance-off` (CLI: `pallet maintenance on|off [--message TEXT]`): every
// web host's proxy answers the app's requests with 503, Retry-After and the maintenance page
// (deploy.maintenance.page, or the built-in one with --message), without stopping a container;
// off routes them to the running containers again. Under the deploy lock of every host (refused,
// nothing changed, while a deploy holds one); audited on each host.
import type { CommandResult, RunContext } from './context.js';
import { sessionOptions } from './context.js';
import { UserError } from '../errors.js';
import { reporter } from '../util/reporter.js';
import { planDeploy } from '../deploy/plan.js';
import { appendAuditArgv, auditRecord } from '../deploy/commands.js';
import { retireWaitSeconds, withLockEvery } from '../deploy/lock.js';
import { runIdentity } from '../deploy/index.js';
import { openSession } from '../ops/remote.js';
import { selectForView } from '../ops/select.js';
import { maintenanceAnswer, setMaintenance } from '../deploy/proxy/maintenance.js';

export async function runMaintenanceCommand(ctx: RunContext, on: boolean): Promise<CommandResult> {
  const plan = ctx.config.deploy?.swarm ? undefined : planDeploy(ctx.config);
  if (!plan?.proxy) {
    throw new UserError(`maintenance: ${ctx.config.deploy?.swarm ? 'this app deploys to a Docker Swarm' : 'this app runs without the proxy (deploy.proxy: false)'}, and the page is answered by the per-host proxy`, 'see docs/targets.md');
  }
  const web = plan.roles.filter((r) => r.behindProxy);
  const sel = selectForView(plan, { host: ctx.inputs.ops.host, where: ctx.where });
  const targets = sel.hosts.filter((t) => web.some((r) => r.hosts.includes(t.label)));
  if (!targets.length) throw new UserError(`maintenance: no web role of ${plan.app} runs on ${sel.hosts.map((t) => t.label).join(', ')}`, 'pick a web host with --host, or leave it out');
  const { runId, actor } = runIdentity(ctx.env);
  const session = await openSession(targets, sessionOptions(ctx));
  try {
    const conns = [...session.conns.values()];
    // Right after a deploy the hosts may still stop its previous containers: that is waited for.
    const retireWait = retireWaitSeconds(plan.proxy.drainTimeout, plan.roles.map((r) => r.stopTimeout));
    await withLockEvery(conns, ctx.ledger, { app: plan.app, runId, actor, timeout: 0, breakStale: false, signal: ctx.signal, retireWait }, `maintenance ${on ? 'on' : 'off'}`, `run pallet maintenance ${on ? 'on' : 'off'} again`, async () => {
      const done = await setMaintenance(plan, session.conns, on ? maintenanceAnswer(plan, ctx.inputs.ops.message) : undefined);
      const line = (host: string) => auditRecord({ time: new Date(), actor, app: plan.app, command: 'maintenance', what: on ? 'on' : 'off', result: 'success', runId });
      await Promise.all(done.filter((d) => d.roles.length).map((d) => session.conns.get(d.host)!.check(appendAuditArgv(plan.app, line(d.host)), 'writing the audit line')));
      const r = reporter();
      r.summary.heading(`Maintenance ${on ? 'on' : 'off'}: ${plan.app}`).table(['host', 'roles', 'not deployed yet'],
        done.map((d) => [d.host, d.roles.join(', ') || '-', d.notDeployed.join(', ') || '-']));
      if (on) r.info(`every request to ${plan.proxy!.hosts.join(', ') || 'the app'} gets 503 with Retry-After: ${maintenanceAnswer(plan).retryAfter}; end it with: pallet maintenance off`);
    });
  } finally {
    await session.close();
  }
  return { exitCode: 0, outputs: {} };
}
