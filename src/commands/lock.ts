// `lock-status` and `lock-release` (`pallet lock status|release`): the deploy lock on every host
// (or --host); on a Swarm, the one on the manager, where Swarm deploys take it. Release removes a lock of the same run without more ado and another run's only
// with --force; each removal names the holder and adds an audit line on that host.
import type { CommandResult, RunContext } from './context.js';
import { sessionOptions } from './context.js';
import { errorMessage } from '../errors.js';
import { reporter } from '../util/reporter.js';
import { planDeploy } from '../deploy/plan.js';
import { forEachHost } from '../deploy/parallel.js';
import { runIdentity } from '../deploy/index.js';
import { appendAuditArgv, auditRecord } from '../deploy/commands.js';
import { openSession } from '../ops/remote.js';
import { selectForView, swarmManager } from '../ops/select.js';
import { planSwarm } from '../swarm/plan.js';
import type { SshTarget } from '../ssh/host.js';
import { isOwnLock, lockRetiring, lockStatusArgv, parseLockStatus, parseRelease, releaseIfOwnerArgv } from '../ops/lock.js';

interface LockRow { host: string; holder?: string; action: string; ok: boolean }

/** The hosts that keep the app's deploy lock: the fleet's (or --host), or a Swarm's manager. */
function lockHosts(ctx: RunContext): SshTarget[] {
  const flags = { host: ctx.inputs.ops.host, where: ctx.where };
  return ctx.config.deploy?.swarm ? [swarmManager(planSwarm(ctx.config), flags)] : selectForView(planDeploy(ctx.config), flags).hosts;
}

export async function runLockCommand(ctx: RunContext, release: boolean): Promise<CommandResult> {
  const app = ctx.config.app;
  const hosts = lockHosts(ctx);
  const me = runIdentity(ctx.env);
  const force = ctx.inputs.ops.force;
  const session = await openSession(hosts, sessionOptions(ctx));
  const r = reporter();
  let rows: LockRow[];
  try {
    const outcomes = await forEachHost(hosts.map((t) => t.label), async (label): Promise<LockRow> => {
      const conn = session.conns.get(label)!;
      const status = (await conn.check(lockStatusArgv(app), 'reading the deploy lock')).stdout;
      const holder = parseLockStatus(status);
      const held = lockRetiring(status) ? 'held (the host is stopping the previous containers)' : 'held';
      if (!release) return { host: label, holder, action: holder === undefined ? 'free' : held, ok: true };
      if (holder === undefined) return { host: label, action: 'free, nothing to release', ok: true };
      const own = isOwnLock(holder, me);
      if (!own && !force) {
        r.error(`${label}: the deploy lock of ${app} is held by ${holder || 'an unknown owner'}, another run: not released (a deploy may still be running; add --force if it crashed)`);
        return { host: label, holder, action: 'kept (held by another run; --force removes it)', ok: false };
      }
      const rr = await conn.run(releaseIfOwnerArgv(app, holder));
      const out = parseRelease(rr.exitCode, rr.stdout);
      if (out.kind === 'changed') {
        r.error(`${label}: the lock changed hands while releasing it (now held by ${out.owner || 'an unknown owner'}); nothing was removed`);
        return { host: label, holder: out.owner, action: 'kept (changed hands)', ok: false };
      }
      if (out.kind === 'free') return { host: label, action: 'free, nothing to release', ok: true };
      const how = own ? 'released' : 'released with --force';
      r.info(`${label}: removed the deploy lock of ${app} held by ${holder || 'an unknown owner'}${own ? '' : ' (--force)'}`);
      const line = auditRecord({ time: new Date(), actor: me.actor, app, command: 'lock-release', what: `holder: ${holder || '(unknown)'}`, result: how, runId: me.runId });
      await conn.check(appendAuditArgv(app, line), 'writing the audit log');
      return { host: label, holder, action: how, ok: true };
    });
    rows = outcomes.map((o) => (o.ok ? o.value : { host: o.host, action: `error: ${errorMessage(o.error)}`, ok: false }));
  } finally {
    await session.close();
  }
  if (ctx.inputs.ops.json) {
    process.stdout.write(`${JSON.stringify({ app, hosts: rows.map((x) => ({ host: x.host, holder: x.holder ?? null, action: x.action, ok: x.ok })) }, null, 2)}\n`);
  } else {
    r.summary.heading(`Deploy lock of ${app}`).table(['host', 'holder', release ? 'release' : 'lock'], rows.map((x) => [x.host, x.holder ?? '-', x.action]));
  }
  return { exitCode: rows.every((x) => x.ok) ? 0 : 1, outputs: {} };
}
