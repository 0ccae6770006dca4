// deploy.backup in a deploy: the client image is made present on the task host with the pull,
// and right before the release tasks the database is dumped there with the target release's env
// files (the ones its migrations run with, so the database backed up is the one they change). A
// failed or empty dump stops the deploy in the tasks phase: nothing was restarted, nothing changed.
import { formatBytes, formatDuration, reporter } from '../util/reporter.js';
import { lastLines } from '../ssh/errors.js';
import { appendAuditArgv, auditRecord, imageDigestsArgv, pullArgv } from '../deploy/commands.js';
import { pullOnHost, registryOf, type RegistryLogin } from '../deploy/pull.js';
import { envFilesFor } from '../deploy/release-env.js';
import { StepError, type DeployRun } from '../deploy/types.js';
import type { BackupConfig } from '../config/types.js';
import type { HostConnection } from '../ssh/connection.js';
import { backupArgv, backupId, backupMeta, parseBackup } from './commands.js';

/** One backup taken: where, its id, its size (bytes) and how long the dump took (ms). */
export interface BackupTaken {
  host: string;
  id: string;
  size: number;
  ms: number;
}

/**
 * Makes deploy.backup.image present on the task host: kept when there, else pulled (with the
 * deploy's registry login when the image is on that registry). Throws a StepError naming the image.
 */
export async function pullBackupImage(run: DeployRun, login?: RegistryLogin): Promise<void> {
  const b = run.plan.backup;
  if (!b) return;
  const h = run.hosts.get(run.plan.taskHost)!;
  if ((await h.conn.run(imageDigestsArgv(b.image))).exitCode === 0) return;
  const same = login && registryOf(b.image) === login.registry ? login : undefined;
  const r = await pullOnHost(run, h, (dir) => pullArgv(b.image, dir), same, false);
  if (r.exitCode !== 0) {
    throw new StepError(h.label, `pull of the backup client image ${b.image}`, `${lastLines(r.stderr || r.stdout, 3)} (set deploy.backup.image to a PostgreSQL client image the host can pull)`);
  }
}

/**
 * Dumps the app's database on the task host before release `tag` (see takeBackup), writes the
 * audit line and says what it took. Throws a StepError when the dump failed or is empty.
 */
export async function backupBeforeTasks(run: DeployRun): Promise<BackupTaken | undefined> {
  const b = run.plan.backup;
  if (!b) return undefined;
  const label = run.plan.taskHost;
  const h = run.hosts.get(label)!;
  const files = envFilesFor(run, label, h.target);
  const taken = await takeBackup(h.conn, run.plan.app, b, {
    tag: h.target, previous: h.before.tag, actor: run.actor, runId: run.runId,
    envFiles: [files.releaseEnvFile, files.envFile].filter((f): f is string => !!f),
  });
  reporter().info(`${label}: backup ${taken.id} (${formatBytes(taken.size)}) in ${formatDuration(taken.ms)}`);
  return taken;
}

export interface BackupRequest {
  /** The release the backup precedes (its id ends with it). */
  tag: string;
  /** The release live when it was taken ('' = none). */
  previous: string;
  actor: string;
  runId: string;
  /** --env-file paths of the client container: where the URL variable is found. */
  envFiles: string[];
}

/**
 * Takes one backup on `conn` and appends its audit line (`backup`, the id, `success SIZE bytes
 * in MS ms`, or the failure). Throws a StepError with the client's last lines when it failed.
 */
export async function takeBackup(conn: HostConnection, app: string, b: BackupConfig, req: BackupRequest): Promise<BackupTaken> {
  const now = new Date();
  const id = backupId(now, req.tag);
  const meta = backupMeta({ app, tag: req.tag, previous: req.previous, created: now.toISOString(), actor: req.actor, run: req.runId });
  const r = await conn.run(backupArgv({ app, image: b.image, urlEnv: b.url_env, envFiles: req.envFiles, id, keep: b.keep, meta }));
  const audit = (result: string) => conn.run(appendAuditArgv(app, auditRecord({ time: new Date(), actor: req.actor, app, command: 'backup', what: id, result, runId: req.runId })));
  if (r.exitCode !== 0) {
    const detail = r.exitCode === 4 ? lastLines(r.stderr, 2) : explainDumpFailure(lastLines(r.stderr || r.stdout, 4), b);
    await audit(`failed: exit ${r.exitCode}`);
    throw new StepError(conn.name, 'backup', detail || `exit ${r.exitCode}`);
  }
  const { size, ms } = parseBackup(r.stdout);
  await audit(`success ${size} bytes in ${ms} ms`);
  return { host: conn.name, id, size, ms };
}

/** Pure: pg_dump's failure with what to do about the common causes added. */
export function explainDumpFailure(stderr: string, b: BackupConfig): string {
  if (/server version mismatch/.test(stderr)) return `${stderr} (deploy.backup.image must be a client of the server's major version or newer, e.g. postgres:17)`;
  if (/pallet: /.test(stderr)) return stderr;
  if (/Connection refused|could not translate host name|timeout expired|No route to host/i.test(stderr)) {
    return `${stderr} (the database in ${b.url_env} cannot be reached from the host; the deploy stopped before the release tasks)`;
  }
  return stderr;
}
