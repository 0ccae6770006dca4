// `logs`: the role's live container logs (found by label) from every host of the role, or --host;
// several hosts merged in time order and prefixed with the host. On a Swarm: `docker service logs`
// of the role's service on the manager (every task's lines, Docker naming the task and node).
// --follow streams until Ctrl-C (or the containers stop) and leaves no ssh or docker process
// behind on either side.
import type { CommandResult, RunContext } from './context.js';
import { sessionOptions } from './context.js';
import { UserError, errorMessage } from '../errors.js';
import { reporter } from '../util/reporter.js';
import { planDeploy } from '../deploy/plan.js';
import { failures, forEachHost } from '../deploy/parallel.js';
import { collectLines, openSession, openSwarmManager, prefixWidth, streamRemote } from '../ops/remote.js';
import { selectForExec, selectForView, selectSwarmService } from '../ops/select.js';
import { cronOutputArgv } from '../cron/commands.js';
import { stateDir } from '../deploy/commands.js';
import { lastLines } from '../ssh/errors.js';
import { liveContainersArgv, parseLiveContainer, type LiveContainer } from '../ops/live.js';
import { hostPrefix, logsArgv, mergeByTime, type LogLine, type LogsOptions } from '../ops/logs.js';
import { planSwarm } from '../swarm/plan.js';
import { inspectService } from '../swarm/rollout.js';

export async function runLogsCommand(ctx: RunContext): Promise<CommandResult> {
  if (ctx.config.deploy?.swarm) return swarmLogs(ctx);
  if (ctx.inputs.ops.cron) return cronLogs(ctx, ctx.inputs.ops.cron);
  const plan = planDeploy(ctx.config);
  const { ops } = ctx.inputs;
  const { role, hosts } = selectForExec(plan, { role: ops.role, host: ops.host, allHosts: !ops.host, where: ctx.where });
  const session = await openSession(hosts, sessionOptions(ctx));
  const r = reporter();
  const opts = logsOptions(ctx);
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
      const outcomes = await forEachHost(labels, (label) => streamRemote(session.conns.get(label)!, logsArgv({ container: live.get(label)!.id }, opts), {
        signal: ctx.signal, prefix: several ? hostPrefix(label, width) : undefined,
      }), labels.length);
      if (!ctx.signal.aborted && outcomes.some((o) => !o.ok || o.value !== 0)) exitCode = 1;
    } else {
      const lines: LogLine[] = [];
      await forEachHost(labels, async (label) => {
        const got = await collectLines(session.conns.get(label)!, logsArgv({ container: live.get(label)!.id }, opts), ctx.signal);
        lines.push(...got.lines.map((text) => ({ host: label, text })));
      });
      for (const l of mergeByTime(lines)) process.stdout.write(`${hostPrefix(l.host, width)}${l.text}\n`);
    }
  } finally {
    await session.close();
  }
  return { exitCode, outputs: {} };
}

/** --cron JOB: the output of the job's last run on each host that runs it (or --host), prefixed with the host when several. */
async function cronLogs(ctx: RunContext, name: string): Promise<CommandResult> {
  const plan = planDeploy(ctx.config);
  const job = plan.cron.find((j) => j.name === name);
  if (!/^[a-z][a-z0-9_-]*$/.test(name)) throw new UserError(`logs: '${name}' is not a job name`, 'see the jobs with: pallet cron status');
  // A job deleted from pallet.yml keeps its last output on the hosts until the app is removed.
  if (!job) reporter().warning(`${name} is not in deploy.cron${plan.cron.length ? ` (there are: ${plan.cron.map((j) => j.name).join(', ')})` : ''}; looking for its last run on every host`);
  const hosts = ctx.inputs.ops.host
    ? selectForView(plan, { host: ctx.inputs.ops.host, where: ctx.where }).hosts
    : plan.hosts.filter((t) => !job || job.hosts.includes(t.label));
  const session = await openSession(hosts, sessionOptions(ctx));
  let exitCode = 0;
  try {
    const labels = hosts.map((t) => t.label);
    const width = prefixWidth(labels);
    const outcomes = await forEachHost(labels, async (label) => {
      const r = await session.conns.get(label)!.run(cronOutputArgv(stateDir(plan.app), name));
      if (r.exitCode !== 0) throw new Error(lastLines(r.stdout || r.stderr) || `exit ${r.exitCode}`);
      return r.stdout;
    });
    const found = outcomes.filter((o) => o.ok).length;
    for (const o of outcomes) {
      if (!o.ok) {
        // For a deleted job, hosts that never ran it are no failure; finding it nowhere is.
        if (job || !found) { reporter().warning(`${o.host}: ${errorMessage(o.error)}`); exitCode = 1; }
        continue;
      }
      for (const line of o.value.replace(/\n$/, '').split('\n')) process.stdout.write(`${labels.length > 1 ? hostPrefix(o.host, width) : ''}${line}\n`);
    }
  } finally {
    await session.close();
  }
  return { exitCode, outputs: {} };
}

function logsOptions(ctx: RunContext): LogsOptions {
  const { since, tail, follow } = ctx.inputs.ops;
  return { since, tail, follow };
}

/** Swarm: the service's logs through the manager; without --follow every task's lines sorted by time. */
async function swarmLogs(ctx: RunContext): Promise<CommandResult> {
  const plan = planSwarm(ctx.config);
  const { ops } = ctx.inputs;
  const service = selectSwarmService(plan, { role: ops.role, host: ops.host, where: ctx.where });
  const opts = logsOptions(ctx);
  const { session, conn } = await openSwarmManager(plan.manager, sessionOptions(ctx));
  let code: number;
  try {
    if (!(await inspectService({ conn }, service.name))) {
      throw new UserError(`logs: there is no service ${service.name} on the swarm of ${plan.manager.label}`, 'deploy the app first, or look at `pallet status`');
    }
    const argv = logsArgv({ service: service.name }, opts);
    if (opts.follow) {
      code = await streamRemote(conn, argv, { signal: ctx.signal });
    } else {
      const got = await collectLines(conn, argv, ctx.signal);
      for (const l of mergeByTime(got.lines.map((text) => ({ host: plan.manager.label, text })))) process.stdout.write(`${l.text}\n`);
      code = got.exitCode;
    }
  } finally {
    await session.close();
  }
  return { exitCode: code !== 0 && !ctx.signal.aborted ? 1 : 0, outputs: {} };
}
