// `pallet db backups | backup | restore ID | download ID` (action commands db-backups, db-backup,
// db-restore, db-download): the app's PostgreSQL backups on the host that runs its release tasks
// (the first host of the first role; --host picks another). Backup and restore run under the
// app's deploy lock; restore also locks every host and puts the maintenance page up on the web
// hosts while pg_restore runs (one transaction: a failure changes nothing), then takes it down.
import { closeSync, existsSync, mkdirSync, openSync, readSync, rmSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline/promises';
import type { CommandResult, RunContext } from './context.js';
import { sessionOptions } from './context.js';
import { UserError, errorMessage } from '../errors.js';
import { formatBytes, formatDuration, reporter } from '../util/reporter.js';
import { planDeploy, type DeployPlan } from '../deploy/plan.js';
import { appendAuditArgv, auditRecord, parseState, readStateArgv } from '../deploy/commands.js';
import { releaseEnvPath } from '../deploy/env-file.js';
import { retireWaitSeconds, withLockEvery } from '../deploy/lock.js';
import { runIdentity } from '../deploy/index.js';
import { lastLines } from '../ssh/errors.js';
import type { SshConnection } from '../ssh/connection.js';
import { openSession, type OpsSession } from '../ops/remote.js';
import { findHost } from '../ops/select.js';
import { maintenanceAnswer, setMaintenance } from '../deploy/proxy/maintenance.js';
import { BACKUP_ID, listBackupsArgv, parseBackups, readBackupArgv, restoreArgv, type BackupEntry } from '../backup/commands.js';
import { ensureClientImage, takeBackup } from '../backup/deploy.js';
import type { BackupConfig } from '../config/types.js';
import { DEFAULT_URL_ENV } from '../config/resolve.js';
import { StepError } from '../deploy/types.js';
import { registryLogin } from './deploy.js';

export type DbCommand = 'db-backups' | 'db-backup' | 'db-restore' | 'db-download';

/** deploy.backup's settings, or its defaults when the app has none (the db commands work without it). */
function backupSettings(plan: DeployPlan): BackupConfig {
  return plan.backup ?? { keep: 7, image: 'postgres:17', url_env: [...DEFAULT_URL_ENV] };
}

/** A failed step of a db command is the user's to fix (database, image, settings), said without a stack trace. */
async function asUserError<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (e instanceof StepError) throw new UserError(e.message);
    throw e;
  }
}

export async function runDbCommand(ctx: RunContext, cmd: DbCommand): Promise<CommandResult> {
  if (ctx.config.deploy?.swarm) throw new UserError(`${cmd}: backups are taken on SSH hosts; this app deploys to a Docker Swarm`, 'see docs/backups.md');
  const plan = planDeploy(ctx.config);
  const host = ctx.inputs.ops.host ? findHost(plan, ctx.inputs.ops.host, undefined, ctx.where === 'flag' ? '--host' : "input 'host'") : plan.hosts.find((t) => t.label === plan.taskHost)!;
  const id = ctx.inputs.ops.backup;
  if (cmd === 'db-restore' || cmd === 'db-download') {
    const label = ctx.where === 'flag' ? `pallet ${cmd.replace('-', ' ')} ID` : "input 'backup'";
    if (!id) throw new UserError(`${cmd}: which backup? ${label} names it`, 'list them with pallet db backups');
    if (!BACKUP_ID.test(id)) throw new UserError(`${cmd}: '${id}' is not a backup id (like 20261203T181500Z-build-42)`, 'list them with pallet db backups');
  }
  if (cmd === 'db-restore') await confirmRestore(ctx, plan, id!, host.label);
  const targets = cmd === 'db-restore' ? plan.hosts : [host];
  const session = await openSession(targets, sessionOptions(ctx));
  try {
    const conn = session.conns.get(host.label)!;
    switch (cmd) {
      case 'db-backups': return await listBackups(ctx, plan, conn);
      case 'db-backup': return await manualBackup(ctx, plan, conn);
      case 'db-restore': return await restoreBackup(ctx, plan, session, conn, id!);
      case 'db-download': return await downloadBackup(ctx, plan, conn, id!);
    }
  } finally {
    await session.close();
  }
}

async function listBackups(ctx: RunContext, plan: DeployPlan, conn: SshConnection): Promise<CommandResult> {
  const r = await conn.check(listBackupsArgv(plan.app), 'listing the backups');
  const entries = parseBackups(r.stdout);
  if (ctx.inputs.ops.json) {
    process.stdout.write(`${JSON.stringify({ app: plan.app, host: conn.name, backups: entries }, null, 2)}\n`);
    return { exitCode: 0, outputs: {} };
  }
  const s = reporter().summary;
  s.heading(`Backups of ${plan.app} on ${conn.name}`);
  if (!entries.length) s.text(`No backups yet: deploy.backup takes one before the release tasks of every deploy; pallet db backup takes one now.`);
  else s.table(['backup', 'before release', 'live then', 'size', 'took', 'by'], entries.map(backupRow));
  return { exitCode: 0, outputs: {} };
}

function backupRow(e: BackupEntry): string[] {
  const ms = Number(e.meta.ms);
  return [e.id, e.meta.tag ?? '-', e.meta.previous || '(none)', formatBytes(e.size), Number.isFinite(ms) ? formatDuration(ms) : '-', e.meta.actor ?? '-'];
}

/** The env files a container of the live release gets on `conn` (as a deploy's tasks would), and that release. */
async function liveRelease(plan: DeployPlan, conn: SshConnection): Promise<{ tag: string; envFiles: string[] }> {
  const state = parseState((await conn.check(readStateArgv(plan.app), 'reading the live release')).stdout);
  if (!state.tag) throw new UserError(`${conn.name}: ${plan.app} is not deployed there yet, so there is no environment to read ${backupSettings(plan).url_env.join(' or ')} from`, 'deploy first, or pick the host with --host');
  return { tag: state.tag, envFiles: [...(state.envTags?.includes(state.tag) ? [releaseEnvPath(plan.app, state.tag)] : []), ...(plan.envFile ? [plan.envFile] : [])] };
}

function withLocks<T>(ctx: RunContext, plan: DeployPlan, conns: SshConnection[], what: string, fn: () => Promise<T>): Promise<T> {
  const { runId, actor } = runIdentity(ctx.env);
  const retireWait = retireWaitSeconds(plan.proxy?.drainTimeout, plan.roles.map((r) => r.stopTimeout));
  return withLockEvery(conns, ctx.ledger, { app: plan.app, runId, actor, timeout: 0, breakStale: false, signal: ctx.signal, retireWait }, what, `run pallet ${what} again`, fn);
}

async function manualBackup(ctx: RunContext, plan: DeployPlan, conn: SshConnection): Promise<CommandResult> {
  const { runId, actor } = runIdentity(ctx.env);
  const b = backupSettings(plan);
  const taken = await withLocks(ctx, plan, [conn], 'db backup', async () => {
    const live = await liveRelease(plan, conn);
    await asUserError(() => ensureClientImage(ctx.ledger, conn, b.image, registryLogin(ctx)));
    return asUserError(() => takeBackup(conn, plan.app, b, { tag: live.tag, previous: live.tag, actor, runId, envFiles: live.envFiles, manual: true }));
  });
  reporter().summary.heading(`Backup of ${plan.app}`).table(['backup', 'host', 'size', 'took'], [[taken.id, taken.host, formatBytes(taken.size), formatDuration(taken.ms)]]);
  return { exitCode: 0, outputs: { backup: taken.id } };
}

async function confirmRestore(ctx: RunContext, plan: DeployPlan, id: string, host: string): Promise<void> {
  if (ctx.inputs.ops.yes) return;
  const what = `restore replaces the database of ${plan.app} (the one ${backupSettings(plan).url_env.join(' or ')} names on ${host}) with backup ${id}; writes made since it was taken are lost`;
  if (ctx.where === 'flag' && process.stdin.isTTY && process.stderr.isTTY) {
    const rl = createInterface({ input: process.stdin, output: process.stderr });
    try {
      const answer = (await rl.question(`${what}.\nType the app's name (${plan.app}) to go on: `)).trim();
      if (answer === plan.app) return;
      throw new UserError(`restore not confirmed: you typed '${answer}', not '${plan.app}'; nothing was changed`, 'run it again and type the app name, or pass --yes');
    } finally {
      rl.close();
    }
  }
  throw new UserError(`${what}; nothing was changed`, `run it again with ${ctx.where === 'flag' ? '--yes' : "input 'yes: true'"} to confirm`);
}

async function restoreBackup(ctx: RunContext, plan: DeployPlan, session: OpsSession, conn: SshConnection, id: string): Promise<CommandResult> {
  const { runId, actor } = runIdentity(ctx.env);
  const b = backupSettings(plan);
  const entry = parseBackups((await conn.check(listBackupsArgv(plan.app), 'listing the backups')).stdout).find((e) => e.id === id);
  if (!entry) {
    // Not this app's: the restore script says whose it is (or that there is none) before it runs anything.
    refusal(conn, plan.app, id, await conn.run(restoreArgv({ app: plan.app, image: b.image, urlEnv: b.url_env, envFiles: [], id })));
  }
  await asUserError(() => ensureClientImage(ctx.ledger, conn, b.image, registryLogin(ctx)));
  const conns = [...session.conns.values()];
  const t0 = Date.now();
  await withLocks(ctx, plan, conns, 'db restore', async () => {
    const live = await liveRelease(plan, conn);
    const page = plan.proxy ? maintenanceAnswer(plan, `Restoring the database. Back in a few minutes.`) : undefined;
    if (page) await setMaintenance(plan, session.conns, page);
    else reporter().warning(`${plan.app} runs without the proxy: requests reach the app while the database is restored`);
    const audit = (result: string) => conn.run(appendAuditArgv(plan.app, auditRecord({ time: new Date(), actor, app: plan.app, command: 'restore', what: id, result, runId })));
    try {
      const r = await conn.run(restoreArgv({ app: plan.app, image: b.image, urlEnv: b.url_env, envFiles: live.envFiles, id }));
      refusal(conn, plan.app, id, r);
      if (r.exitCode !== 0) {
        await audit(`failed: exit ${r.exitCode}`);
        throw new UserError(`restore of ${id} failed on ${conn.name}; pg_restore ran in one transaction, so the database is as it was: ${lastLines(r.stderr || r.stdout, 5)}`);
      }
      await audit(`success in ${Date.now() - t0} ms`);
    } finally {
      if (page) {
        await setMaintenance(plan, session.conns, undefined).catch((e: unknown) => reporter().warning(`could not take the maintenance page down (${errorMessage(e)}): run pallet maintenance off`));
      }
    }
  });
  const before = entry?.meta.previous;
  reporter().summary.heading(`Restore of ${plan.app}`).table(['backup', 'host', 'taken while live', 'took'], [[id, conn.name, before || '(none)', formatDuration(Date.now() - t0)]]);
  if (before && entry?.meta.tag !== before) {
    reporter().info(`the backup was taken while ${before} was live, before ${entry?.meta.tag} was deployed; if that release's code no longer matches the restored schema, go back to it with: pallet rollback --tag ${before}`);
  }
  return { exitCode: 0, outputs: { backup: id } };
}

/** Throws the UserError for restoreArgv's refusals (another app's backup: exit 5; none: exit 6). */
function refusal(conn: SshConnection, app: string, id: string, r: { exitCode: number; stdout: string }): void {
  if (r.exitCode === 5) throw new UserError(`restore refused, nothing was changed: backup ${id} belongs to app ${/^OTHER-APP (.*)$/m.exec(r.stdout)?.[1] ?? '?'}, not ${app}`, `restore it with that app's pallet.yml, or pick one of ${app}'s (pallet db backups)`);
  if (r.exitCode === 6) throw new UserError(`restore refused, nothing was changed: ${conn.name} has no backup ${id} of ${app}`, 'list them with pallet db backups');
}

async function downloadBackup(ctx: RunContext, plan: DeployPlan, conn: SshConnection, id: string): Promise<CommandResult> {
  const out = path.resolve(ctx.inputs.workingDirectory, ctx.inputs.ops.output ?? `${plan.app}-${id}.dump`);
  mkdirSync(path.dirname(out), { recursive: true });
  if (existsSync(out)) throw new UserError(`${out} exists; nothing was downloaded`, 'remove it, or name another file with --output');
  const fd = openSync(out, 'wx+', 0o600);
  let ok = false;
  try {
    const child = conn.spawn(readBackupArgv(plan.app, id), { stdio: ['ignore', fd, 'pipe'] });
    let err = '';
    child.stderr?.on('data', (d: Buffer) => { err += d.toString(); });
    const code = await new Promise<number>((resolve) => child.on('close', (c) => resolve(c ?? 1)));
    if (code === 6) throw new UserError(`${conn.name} has no backup ${id} of ${plan.app}`, 'list them with pallet db backups');
    if (code !== 0) throw new UserError(`download of ${id} from ${conn.name} failed (exit ${code}): ${lastLines(err) || 'no output'}`);
    const head = Buffer.alloc(5);
    readSync(fd, head, 0, 5, 0);
    if (head.toString() !== 'PGDMP') throw new UserError(`the download of ${id} is not a pg_dump archive`, 'take a new backup with pallet db backup');
    ok = true;
  } finally {
    closeSync(fd);
    if (!ok) rmSync(out, { force: true });
  }
  reporter().info(`${out}: backup ${id} of ${plan.app} (0600); restore it by hand with: pg_restore --clean --if-exists --no-owner --no-privileges --single-transaction --exit-on-error --dbname \"$DATABASE_URL\" ${path.basename(out)}`);
  return { exitCode: 0, outputs: { backup: id, 'backup-path': out } };
}
