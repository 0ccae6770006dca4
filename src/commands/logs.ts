// `logs`: the role's live container logs (found by label) from every host of the role, or --host;
// several hosts merged in time order and prefixed with the host. --follow streams until Ctrl-C
// (or the containers stop) and leaves no ssh or docker process behind on either side.
import type { CommandResult, RunContext } from './context.js';
import { sessionOptions } from './context.js';
import { UserError, errorMessage } from '../errors.js';
import { reporter } from '../util/reporter.js';
import { planDeploy } from '../deploy/plan.js';
import { failures, forEachHost } from '../deploy/parallel.js';
import { openSession, prefixWidth, streamRemote } from '../ops/remote.js';
import { selectForExec } from '../ops/select.js';
import { liveContainersArgv, parseLiveContainer, type LiveContainer } from '../ops/live.js';
import { hostPrefix, logsArgv, mergeByTime, type LogLine } from '../ops/logs.js';

export async function runLogsCommand(ctx: RunContext): Promise<CommandResult> {
  const plan = planDeploy(ctx.config);
  const { ops } = ctx.inputs;
  const { role, hosts } = selectForExec(plan, { role: ops.role, host: ops.host, allHosts: !ops.host, where: ctx.where });
  const session = await openSession(hosts, sessionOptions(ctx));
  const r = reporter();
  const opts = { since: ops.since, tail: ops.tail, follow: ops.follow };
  let exitCode = 0;
  try {
    const live = new Map<string, LiveContainer>();
    const found = await forEachHost(hosts.map((t) => t.label), async (label) => {
      const c = parseLiveContainer((await session.conns.get(label)!.check(liveContainersArgv(plan.app, role.role), 'listing containers')).stdout);
      if (c) live.set(label, c);
      else r.warning(`${label}: no running ${role.role} container of ${plan.app}`);
    });
    for (const f of failures(found)) { r.warning(`${f.host}: ${errorMessage(f.error)}`); exitCode = 1; }
    const labels = hosts.map((t) => t.label).filter((l) => live.has(l));
    if (!labels.length) throw new UserError(`logs: no running ${role.role} container of ${plan.app} on ${hosts.map((t) => t.label).join(', ')}`, 'look at `pallet status`');
    const width = prefixWidth(labels);
    const several = labels.length > 1;
    if (opts.follow || !several) {
      // Streamed as lines arrive (one host: untouched).
      const outcomes = await forEachHost(labels, (label) => streamRemote(session.conns.get(label)!, logsArgv(live.get(label)!.id, opts), {
        signal: ctx.signal, prefix: several ? hostPrefix(label, width) : undefined,
      }), labels.length);
      if (!ctx.signal.aborted && outcomes.some((o) => !o.ok || o.value !== 0)) exitCode = 1;
    } else {
      const lines: LogLine[] = [];
      await forEachHost(labels, async (label) => {
        await streamRemote(session.conns.get(label)!, logsArgv(live.get(label)!.id, opts), {
          signal: ctx.signal, prefix: '', out: (text) => lines.push({ host: label, text }), err: (text) => lines.push({ host: label, text }),
        });
      });
      for (const l of mergeByTime(lines)) process.stdout.write(`${hostPrefix(l.host, width)}${l.text}\n`);
    }
  } finally {
    await session.close();
  }
  return { exitCode, outputs: {} };
}
