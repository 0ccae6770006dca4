// Step 2 (with the pull, before any task): the release's env file on every host, from deploy.env
// (see env-file.ts for the format and the per-release layout), and which env files each
// container of a host gets.
import { reporter } from '../util/reporter.js';
import { lastLines } from '../ssh/errors.js';
import { parseReleaseEnv, releaseEnvAction, releaseEnvArgv, releaseEnvPath } from './env-file.js';
import { StepError, type DeployRun, type HostRecord } from './types.js';

/**
 * Writes (or keeps, or removes: see ReleaseEnvAction) the target release's env file on one host,
 * the content on stdin, and records which of the target and previous tags have one there.
 */
export async function prepareReleaseEnv(run: DeployRun, h: HostRecord): Promise<void> {
  const action = releaseEnvAction(run.mode, run.appEnv !== undefined);
  if (run.appEnv === undefined) {
    // Without deploy.env, preflight's listing says which releases have a file: no extra round
    // unless the target's file is there to remove (a release deployed with deploy.env before).
    const has = new Set((h.before.envTags ?? []).filter((t) => t === h.target || t === h.before.tag));
    if (action === 'remove' && has.has(h.target)) {
      const r = await h.conn.run(releaseEnvArgv(run.plan.app, h.target, '', 'remove'));
      if (r.exitCode !== 0) throw new StepError(h.label, 'removing the env file', lastLines(r.stderr || r.stdout) || `exit ${r.exitCode}`);
      has.delete(h.target);
    }
    h.releaseEnv = has;
    return;
  }
  const input = action === 'write' || action === 'fill' ? run.appEnv : undefined;
  const r = await h.conn.run(releaseEnvArgv(run.plan.app, h.target, h.before.tag, action), input === undefined ? {} : { input });
  if (r.exitCode !== 0) throw new StepError(h.label, 'writing the env file', lastLines(r.stderr || r.stdout) || `exit ${r.exitCode}`);
  const out = parseReleaseEnv(r.stdout);
  h.releaseEnv = new Set(out.tags);
  if (out.wrote) reporter().info(`${h.label}: wrote ${releaseEnvPath(run.plan.app, h.target)} (0600) from deploy.env`);
  else if (run.mode === 'rollback' && h.releaseEnv.has(h.target)) reporter().info(`${h.label}: ${h.target} starts with the env file it was deployed with`);
}

/**
 * The --env-file paths a container of release `tag` gets on host `label`: the release's file
 * (deploy.env), then the host's own deploy.env_file where it has one (it wins for names both define).
 */
export function envFilesFor(run: DeployRun, label: string, tag: string): { releaseEnvFile?: string; envFile?: string } {
  const h = run.hosts.get(label);
  const out: { releaseEnvFile?: string; envFile?: string } = {};
  if (h?.releaseEnv?.has(tag)) out.releaseEnvFile = releaseEnvPath(run.plan.app, tag);
  if (run.plan.envFile && h?.hostEnvFile !== false) out.envFile = run.plan.envFile;
  return out;
}
