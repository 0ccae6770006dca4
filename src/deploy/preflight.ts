// Step 1: connect to every host in parallel (host keys checked), check Docker and the env file,
// read TAG and REVERT, take the deploy lock. Any failure: give back the locks taken, change nothing.
import { UserError, errorMessage } from '../errors.js';
import { reporter } from '../util/reporter.js';
import type { HostConnection } from '../ssh/connection.js';
import { dockerVersionArgv, parseState } from './commands.js';
import { envFileCheckArgv, envFileHint, envFileProblem, envFileReport, parseEnvFileLint } from './host-commands.js';
import { acquireLock, releaseLock, type LockOptions } from './lock.js';
import { failures, forEachHost } from './parallel.js';
import type { DeployRun, HostRecord } from './types.js';

/**
 * The lint part of envFileCheckArgv's output on `label` (a host or the Swarm manager): lines
 * docker takes literally where people expect shell rules are logged as warnings; lines docker
 * refuses throw a UserError naming the file and each line (never a value).
 */
export function reportEnvFileLint(label: string, file: string, stdout: string, place: 'host' | 'manager'): void {
  const { errors, warnings } = envFileReport(file, parseEnvFileLint(stdout));
  for (const w of warnings) reporter().warning(`${label}: deploy.env_file ${w}`);
  if (errors.length) {
    throw new UserError(`${label}: deploy.env_file ${errors.join('; ')}`,
      `fix those lines in the env file on the ${place}: docker reads it literally, one NAME=value per line, no export, no quotes (docs/hosts.md §3)`);
  }
}

/** envFileProblem's word for a host without the env file (fine with deploy.env). */
const MISSING = 'does not exist';

export async function preflight(run: DeployRun, conns: HostConnection[], lock: Omit<LockOptions, 'app'>): Promise<void> {
  const { app } = run.plan;
  const outcomes = await forEachHost(conns.map((c) => c.name), async (label) => {
    const conn = conns.find((c) => c.name === label)!;
    await conn.open();
    const rec: HostRecord = {
      label, conn, before: { tag: '', revert: '' }, target: '', recorded: false, restartMs: 0, health: [], reverted: false, hostEnvFile: !!run.plan.envFile,
      roles: run.plan.roles.filter((r) => r.hosts.includes(label)).map((r) => r.role),
    };
    run.hosts.set(label, rec);
    // Independent round trips at once; the state comes with the lock, read under it (a deploy
    // that waited for another one sees what that one left).
    const [v, e] = await Promise.all([
      conn.run(dockerVersionArgv()),
      run.plan.envFile ? conn.run(envFileCheckArgv(run.plan.envFile)) : undefined,
      (async () => {
        rec.lock = await acquireLock(conn, run.ledger, { ...lock, app, retireWait: retireWait(run) });
        rec.before = parseState(rec.lock.state);
      })(),
    ]);
    if (v.exitCode !== 0) throw new UserError(`${label}: Docker does not answer (${v.stderr.trim() || `exit ${v.exitCode}`})`, `make sure dockerd runs on the host and user ${conn.target.user} may use it`);
    if (run.plan.envFile && e) {
      const problem = envFileProblem(e.exitCode, e.stdout);
      if (problem === MISSING && run.appEnv !== undefined) {
        // With deploy.env the host's own env file is optional: where there is one, it still applies.
        rec.hostEnvFile = false;
      } else if (problem) {
        throw new UserError(`${label}: deploy.env_file ${run.plan.envFile} ${problem}${problem.includes('readable') ? ` (${conn.target.user})` : ''}`,
          envFileHint(problem, run.plan.envFile, conn.target.user));
      }
      reportEnvFileLint(label, run.plan.envFile, e.stdout, 'host');
    }
    const { before, hostEnvFile } = rec;
    const env = run.appEnv === undefined ? '' : hostEnvFile ? `, deploy.env + ${run.plan.envFile}` : ', deploy.env only (no host env file)';
    reporter().info(`${label}: docker ${v.stdout.trim()}, running ${before.tag || '(nothing yet)'}${env}, lock taken`);
  });
  const failed = failures(outcomes);
  if (failed.length === 0) return;
  await releaseAll(run);
  const lines = failed.map((f) => errorMessage(f.error));
  const hint = failed.map((f) => (f.error instanceof UserError ? f.error.hint : undefined)).find(Boolean);
  throw new UserError(`preflight failed, nothing was changed: ${lines.join('; ')}`, hint);
}

/**
 * Seconds a deploy waits for the previous deploy's containers to stop in the background: the
 * longest drain + stop_timeout of this config, plus 10 s for Docker itself.
 */
export function retireWait(run: DeployRun): number {
  return (run.plan.proxy?.drainTimeout ?? 0) + Math.max(0, ...run.plan.roles.map((r) => r.stopTimeout)) + 10;
}

/** Releases every lock this run holds (best effort, each host on its own). */
export async function releaseAll(run: DeployRun): Promise<void> {
  await forEachHost([...run.hosts.keys()], async (label) => {
    const h = run.hosts.get(label)!;
    if (!h.lock || h.lost) return;
    try {
      await releaseLock(h.conn, run.ledger, run.plan.app, h.lock);
      h.lock = undefined;
    } catch (e) {
      reporter().warning(`${label}: could not release the deploy lock now (${errorMessage(e)}); it is retried at cleanup`);
    }
  });
}
