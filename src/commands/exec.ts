// `exec`: a one-off container of the role's running tag on one host (--host, default the role's
// first), or on each of its hosts (--all-hosts, lines prefixed with the host). The tag is read
// from the role's live container (by label) on every host before anything runs. Exit code: the
// command's (several hosts: the first non-zero). Each run adds an audit line on its host.
// On a Swarm: a one-off Swarm job of the role's service image on the app's overlay network (how
// release tasks run), its output from the job's logs, its exit code from the task; audited on the
// manager. -i is refused there (see swarmExec).
import type { CommandResult, RunContext } from './context.js';
import { sessionOptions } from './context.js';
import { UserError, errorMessage } from '../errors.js';
import { CliReporter, reporter, type Reporter } from '../util/reporter.js';
import { planDeploy } from '../deploy/plan.js';
import { failures, forEachHost } from '../deploy/parallel.js';
import { runIdentity } from '../deploy/index.js';
import { appendAuditArgv } from '../deploy/commands.js';
import { openSession, openSwarmManager, prefixWidth, streamRemote } from '../ops/remote.js';
import { selectForExec, selectSwarmService } from '../ops/select.js';
import { liveContainersArgv, parseLiveContainer } from '../ops/live.js';
import { combinedExitCode, execArgv, execAuditLine, managePyHint } from '../ops/exec.js';
import { shellQuote } from '../ssh/quote.js';
import { hostPrefix } from '../ops/logs.js';
import { execEnvFiles, existingFilesArgv, releaseEnvPath } from '../deploy/env-file.js';
import { TAG_PATTERN } from '../config/references.js';
import { inputLabel } from '../ssh/material.js';
import type { SshConnection } from '../ssh/connection.js';
import { planSwarm, type ServicePlan } from '../swarm/plan.js';
import { jobCreateArgv, runningTask, tagOf } from '../swarm/commands.js';
import { inspectService, serviceTasks } from '../swarm/rollout.js';
import { execJobName, runJob, type JobOutcome } from '../swarm/job.js';

function requireArgs(ctx: RunContext): void {
  if (ctx.inputs.ops.args.length) return;
  throw new UserError(`exec: no command given`, ctx.where === 'flag'
    ? "put it after --, e.g. 'pallet exec -- createsuperuser' (the image's entrypoint runs manage.py createsuperuser)"
    : `set ${inputLabel('args', ctx.where)} to the command, one argument per line`);
}

/** The reporter's masking of known secrets (audit lines hold the command). */
function secretMask(r: Reporter): (s: string) => string {
  return r instanceof CliReporter ? (s) => r.mask(s) : (s) => s;
}

export async function runExecCommand(ctx: RunContext): Promise<CommandResult> {
  if (ctx.config.deploy?.swarm) return swarmExec(ctx);
  const plan = planDeploy(ctx.config);
  const { ops } = ctx.inputs;
  const { role, hosts } = selectForExec(plan, { role: ops.role, host: ops.host, allHosts: ops.allHosts, where: ctx.where });
  requireArgs(ctx);
  if (ops.interactive && hosts.length > 1) throw new UserError('--interactive runs on one host: drop --all-hosts, or pick the host with --host');
  if (ops.interactive && !process.stdin.isTTY) throw new UserError('--interactive needs a terminal on this side (stdin is not a TTY)', 'run it from a terminal, or drop -i for a command that needs no input');
  const session = await openSession(hosts, sessionOptions(ctx));
  const me = runIdentity(ctx.env);
  const r = reporter();
  const results = new Map<string, { tag: string; env: { releaseEnvFile?: string; envFile?: string }; exitCode?: number; error?: string }>();
  try {
    // Every host's running tag first: a host without a live container stops the exec before it starts anywhere.
    const found = await forEachHost(hosts.map((t) => t.label), async (label) => {
      const live = parseLiveContainer((await session.conns.get(label)!.check(liveContainersArgv(plan.app, role.role), 'listing containers')).stdout);
      if (!live?.tag) throw new Error(`no running ${role.role} container of ${plan.app}`);
      // The env files the release runs with: its deploy.env file and the host's, where they exist.
      const candidates = [...(TAG_PATTERN.test(live.tag) ? [releaseEnvPath(plan.app, live.tag)] : []), ...(plan.envFile ? [plan.envFile] : [])];
      const existing = (await session.conns.get(label)!.check(existingFilesArgv(candidates), 'looking for the env files')).stdout.split('\n').filter(Boolean);
      results.set(label, { tag: live.tag, env: execEnvFiles(plan.app, live.tag, plan.envFile, !!ctx.config.deploy?.env, existing) });
    });
    const missing = failures(found);
    if (missing.length) {
      throw new UserError(`exec refused, nothing was run: ${missing.map((f) => `${f.host}: ${errorMessage(f.error)}`).join('; ')}`,
        'deploy the app first, or look at `pallet status`; exec runs the tag the role runs on that host');
    }
    const width = prefixWidth(hosts.map((t) => t.label));
    const mask = secretMask(r);
    await forEachHost(hosts.map((t) => t.label), async (label) => {
      const conn = session.conns.get(label)!;
      const res = results.get(label)!;
      const argv = execArgv({ app: plan.app, image: plan.image, role: role.role, tag: res.tag, ...res.env, args: ops.args, interactive: ops.interactive });
      if (hosts.length === 1 && !ops.interactive) r.info(`${label}: ${role.role}@${res.tag} $ ${mask(shellQuote(ops.args))}`);
      try {
        res.exitCode = await streamRemote(conn, argv, {
          tty: ops.interactive, signal: ctx.signal, prefix: hosts.length > 1 ? hostPrefix(label, width) : undefined,
        });
      } catch (e) {
        res.error = errorMessage(e);
      }
      const line = execAuditLine({ time: new Date(), actor: me.actor, app: plan.app, role: role.role, tag: res.tag, args: ops.args, exitCode: res.exitCode ?? 'error', runId: me.runId, interactive: ops.interactive }, mask);
      await conn.check(appendAuditArgv(plan.app, line), 'writing the audit log').catch((e) => r.warning(`${label}: ${errorMessage(e)}`));
    });
  } finally {
    await session.close();
  }
  const codes = hosts.map((t) => results.get(t.label)?.exitCode ?? 1);
  if (hosts.length > 1 || r.kind === 'actions') {
    r.summary.heading(`exec on ${plan.app} ${role.role}: ${secretMask(r)(shellQuote(ops.args))}`)
      .table(['host', 'tag', 'exit code'], hosts.map((t) => { const x = results.get(t.label)!; return [t.label, x.tag, x.error ? `error: ${x.error}` : String(x.exitCode)]; }));
  }
  const code = combinedExitCode(codes);
  const hint = managePyHint(ops.args, code);
  if (hint) r.warning(hint);
  if (code !== 0 && hosts.length > 1) r.error(`exec failed on ${hosts.filter((t, i) => codes[i] !== 0).map((t) => t.label).join(', ')}`);
  return { exitCode: code, outputs: {} };
}

/** What a Swarm exec runs: the service's spec image (pinned `repo:tag@sha256:...`), its tag, and the node of a running task. */
async function swarmExecTarget(conn: SshConnection, service: ServicePlan): Promise<{ image: string; tag: string; node: string }> {
  const info = await inspectService({ conn }, service.name);
  const task = info && runningTask(await serviceTasks({ conn }, info.id));
  if (!info || !task) {
    throw new UserError(`exec refused, nothing was run: ${info ? `${service.name} has no running task` : `there is no service ${service.name} on the swarm`}`,
      'deploy the app first, or look at `pallet status`; exec runs the image the role\'s service runs');
  }
  return { image: info.image, tag: tagOf(info.image), node: task.node };
}

/**
 * Swarm: the command runs as a one-off Swarm job, the way release tasks do: the image the role's
 * service runs, deploy.env_file, the app's overlay network, placed on a node that runs one of
 * the service's tasks (the image is there, the role's placement holds). Its output comes from the
 * job's logs, its exit code from the task; Ctrl-C removes the job (exit 130). -i is refused: a
 * job's task has no terminal, and the overlay network is not attachable for a `docker run -it`.
 */
async function swarmExec(ctx: RunContext): Promise<CommandResult> {
  const plan = planSwarm(ctx.config);
  const { ops } = ctx.inputs;
  const service = selectSwarmService(plan, { role: ops.role, host: ops.host, allHosts: ops.allHosts, where: ctx.where });
  requireArgs(ctx);
  if (ops.interactive) {
    throw new UserError(`${inputLabel('interactive', ctx.where)}: ${plan.app} runs on a Docker Swarm, where exec runs as a Swarm job: its task has no terminal to attach to, and the app's overlay network ${plan.network} is not attachable for a \`docker run -it\` beside the services`,
      "drop -i and give the input as arguments (e.g. pallet exec -- shell -c '...'), or run `docker exec -it` in a container of the service on its node (`pallet status` names the nodes)");
  }
  const { session, conn } = await openSwarmManager(plan.manager, sessionOptions(ctx));
  const r = reporter();
  const me = runIdentity(ctx.env);
  let target: { image: string; tag: string; node: string };
  let out: JobOutcome | undefined;
  let error: string | undefined;
  try {
    target = await swarmExecTarget(conn, service);
    const name = execJobName(plan.app, service.role);
    const create = jobCreateArgv({
      name, app: plan.app, image: plan.image, tag: target.tag, ref: target.image, kind: 'exec', network: plan.network, envFile: plan.envFile,
      constraints: [`node.hostname==${target.node}`], command: ops.args,
    });
    r.info(`${service.name}@${target.tag} on ${target.node} (Swarm job ${name}) $ ${secretMask(r)(shellQuote(ops.args))}`);
    try {
      out = await runJob(conn, create, { name, onLine: (l) => process.stdout.write(`${l}\n`), signal: ctx.signal });
    } catch (e) {
      error = errorMessage(e);
    }
    const exit = out?.exitCode ?? (out?.state === 'cancelled' ? 'cancelled' : 'error');
    const line = execAuditLine({ time: new Date(), actor: me.actor, app: plan.app, role: service.role, tag: target.tag, args: ops.args, exitCode: exit, runId: me.runId, interactive: false }, secretMask(r));
    await conn.check(appendAuditArgv(plan.app, line), 'writing the audit log').catch((e) => r.warning(`${plan.manager.label}: ${errorMessage(e)}`));
  } finally {
    await session.close();
  }
  // Without an exit code from the task: why (a rejected task says so in its error).
  const failure = error ?? (!out || out.exitCode !== undefined ? undefined
    : out.state === 'cancelled' ? 'cancelled; the job was removed' : out.state === 'timeout' ? 'gave up waiting for the job' : out.error ?? 'the task failed');
  if (failure) r.error(`exec on the swarm: ${failure}`);
  const code = out?.exitCode ?? (out?.state === 'cancelled' ? 130 : 1);
  const hint = managePyHint(ops.args, out?.exitCode);
  if (hint) r.warning(hint);
  if (r.kind === 'actions') {
    r.summary.heading(`exec on ${plan.app} ${service.role}: ${secretMask(r)(shellQuote(ops.args))}`)
      .table(['service', 'node', 'tag', 'exit code'], [[service.name, target.node, target.tag, failure ? `error: ${failure}` : String(code)]]);
  }
  return { exitCode: code, outputs: {} };
}
