// deploy.backup in a deploy: the client image is made present on the task host with the pull,
// and right before the release tasks the database is dumped there with the target release's env
// files (the ones its migrations run with, so the database backed up is the one they change). A
// failed or empty dump stops the deploy in the tasks phase: nothing was restarted, nothing changed.
import { formatBytes, formatDuration, reporter } from '../util/reporter.js';
import { lastLines } from '../ssh/errors.js';
import { appendAuditArgv, auditRecord } from '../deploy/commands.js';
import { ensureImageOnHost, type RegistryLogin } from '../deploy/pull.js';
import { envFilesFor } from '../deploy/release-env.js';
import { StepError, type DeployRun } from '../deploy/types.js';
import type { BackupConfig } from '../config/types.js';
import type { HostConnection } from '../ssh/connection.js';
import type { CleanupLedger } from '../util/cleanup.js';
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
  await ensureClientImage(run.ledger, run.hosts.get(run.plan.taskHost)!.conn, b.image, login);
}

/**
 * Makes the PostgreSQL client image present on `conn` (kept when there, else pulled with `login`
 * when the image is on its registry; the credentials on stdin, removed after, see pullOnHost).
 * Throws a StepError naming the image and what to do.
 */
export async function ensureClientImage(ledger: CleanupLedger, conn: HostConnection, image: string, login?: RegistryLogin): Promise<void> {
  await ensureImageOnHost(ledger, conn, image, login, 'the backup client image', 'set deploy.backup.image to a PostgreSQL client image the host can pull');
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
  /** Taken by hand (`pallet db backup`): named `...-manual`, kept apart from the deploys' (its own `keep`). */
  manual?: boolean;
}

/**
 * Takes one backup on `conn` and appends its audit line (`backup`, the id, `success SIZE bytes
 * in MS ms`, or the failure). Throws a StepError with the client's last lines when it failed.
 */
export async function takeBackup(conn: HostConnection, app: string, b: BackupConfig, req: BackupRequest): Promise<BackupTaken> {
  const now = new Date();
  const id = backupId(now, req.manual ? 'manual' : req.tag);
  const meta = backupMeta({ app, kind: req.manual ? 'manual' : 'deploy', tag: req.tag, previous: req.previous, created: now.toISOString(), actor: req.actor, run: req.runId });
  const r = await conn.run(backupArgv({ app, image: b.image, urlEnv: b.url_env, envFiles: req.envFiles, id, keep: b.keep, meta }));
  // The client's warnings (a URL parameter left out, ...) are said on success too.
  const warnings = r.exitCode === 0 ? r.stderr.split('\n').filter((l) => l.trim()) : [];
  for (const w of warnings) reporter().warning(`${conn.name}: backup: ${w}`);
  const audit = (result: string) => conn.run(appendAuditArgv(app, auditRecord({ time: new Date(), actor: req.actor, app, command: 'backup', what: id, result, runId: req.runId })));
  if (r.exitCode !== 0) {
    const detail = (r.exitCode === 4 ? lastLines(r.stderr, 2) : explainDumpFailure(lastLines(r.stderr || r.stdout, 4), b)) || `exit ${r.exitCode}`;
    await audit(`failed: exit ${r.exitCode}: ${detail.split('\n')[0].slice(0, 200)}`);
    throw new StepError(conn.name, 'backup', detail);
  }
  const { size, ms, pruned } = parseBackup(r.stdout);
  if (pruned.length) reporter().info(`${conn.name}: removed the oldest ${req.manual ? 'manual ' : ''}backup${pruned.length > 1 ? 's' : ''} (deploy.backup.keep ${b.keep}): ${pruned.join(', ')}`);
  await audit(`success ${size} bytes in ${ms} ms`);
  return { host: conn.name, id, size, ms };
}

/** Pure: pg_dump's failure with what to do about the common causes added. */
export function explainDumpFailure(stderr: string, b: BackupConfig): string {
  const vars = b.url_env.join(' or ');
  if (/server version mismatch/.test(stderr)) return `${stderr} (deploy.backup.image must be a client of the server's major version or newer, e.g. postgres:17)`;
  if (/pallet: /.test(stderr)) return stderr;
  if (/password authentication failed|no password supplied/.test(stderr)) {
    return `${stderr} (check the user and password in ${vars}; characters like @ : / % # ? in the password must be percent-encoded, e.g. %40 for @)`;
  }
  if (/Connection refused|could not translate host name|timeout expired|No route to host/i.test(stderr)) {
    return `${stderr} (the database in ${vars} cannot be reached from the host: a container name resolves only on its own Docker network; use an address the host reaches)`;
  }
  if (/pull access denied|manifest unknown|no basic auth credentials|Unable to find image/.test(stderr)) {
    return `${stderr} (deploy.backup.image ${b.image} cannot be pulled on the host: give the registry login, or set deploy.backup.image to a PostgreSQL client image the host can pull)`;
  }
  return stderr;
}
