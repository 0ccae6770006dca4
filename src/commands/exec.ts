// `exec`: a one-off container of the role's running tag on one host (--host, default the role's
// first), or on each of its hosts (--all-hosts, lines prefixed with the host). The tag is read
// from the role's live container (by label) on every host before anything runs. Exit code: the
// command's (several hosts: the first non-zero). Each run adds an audit line on its host.
import type { CommandResult, RunContext } from './context.js';
import { sessionOptions } from './context.js';
import { UserError, errorMessage } from '../errors.js';
import { CliReporter, reporter } from '../util/reporter.js';
import { planDeploy } from '../deploy/plan.js';
import { failures, forEachHost } from '../deploy/parallel.js';
import { runIdentity } from '../deploy/index.js';
import { appendAuditArgv } from '../deploy/commands.js';
import { openSession, prefixWidth, streamRemote } from '../ops/remote.js';
import { selectForExec } from '../ops/select.js';
import { liveContainersArgv, parseLiveContainer } from '../ops/live.js';
import { combinedExitCode, execArgv, execAuditLine } from '../ops/exec.js';
import { hostPrefix } from '../ops/logs.js';
import { execEnvFiles, existingFilesArgv, releaseEnvPath } from '../deploy/env-file.js';
import { TAG_PATTERN } from '../config/references.js';
import { inputLabel } from '../ssh/material.js';

export async function runExecCommand(ctx: RunContext): Promise<CommandResult> {
  const plan = planDeploy(ctx.config);
  const { ops } = ctx.inputs;
  const { role, hosts } = selectForExec(plan, { role: ops.role, host: ops.host, allHosts: ops.allHosts, where: ctx.where });
  if (!ops.args.length) {
    throw new UserError(`exec: no command given`, ctx.where === 'flag'
      ? "put it after --, e.g. 'pallet exec -- manage.py createsuperuser'"
      : `set ${inputLabel('args', ctx.where)} to the command, one argument per line`);
  }
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
    const mask = r instanceof CliReporter ? (s: string) => r.mask(s) : (s: string) => s;
    await forEachHost(hosts.map((t) => t.label), async (label) => {
      const conn = session.conns.get(label)!;
      const res = results.get(label)!;
      const argv = execArgv({ app: plan.app, image: plan.image, role: role.role, tag: res.tag, ...res.env, args: ops.args, interactive: ops.interactive });
      if (hosts.length === 1 && !ops.interactive) r.info(`${label}: ${role.role}@${res.tag} $ ${ops.args.join(' ')}`);
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
    r.summary.heading(`exec on ${plan.app} ${role.role}: ${ops.args.join(' ')}`)
      .table(['host', 'tag', 'exit code'], hosts.map((t) => { const x = results.get(t.label)!; return [t.label, x.tag, x.error ? `error: ${x.error}` : String(x.exitCode)]; }));
  }
  const code = combinedExitCode(codes);
  if (code !== 0 && hosts.length > 1) r.error(`exec failed on ${hosts.filter((t, i) => codes[i] !== 0).map((t) => t.label).join(', ')}`);
  return { exitCode: code, outputs: {} };
}
