// OCI and pallet labels and build args for the image (pure), and where their values come from.
import { execFileSync } from 'node:child_process';

export interface SourceInfo {
  revision?: string;
  /** https://github.com/owner/repo */
  source?: string;
}

export function imageLabels(o: { app: string; tag: string; created: Date; source: SourceInfo }): Record<string, string> {
  const labels: Record<string, string> = {
    'org.opencontainers.image.created': o.created.toISOString(),
    'org.opencontainers.image.version': o.tag,
    'pallet.app': o.app,
    'pallet.build': o.tag,
  };
  if (o.source.revision) labels['org.opencontainers.image.revision'] = o.source.revision;
  if (o.source.source) labels['org.opencontainers.image.source'] = o.source.source;
  return labels;
}

/** Build args as the engine wants them: strings only. */
export function buildArgs(args: Record<string, unknown>): Record<string, string> {
  return Object.fromEntries(Object.entries(args ?? {}).map(([k, v]) => [k, v === null || v === undefined ? '' : String(v)]));
}

/** Revision and repository URL from the runner's variables. */
export function sourceFromEnv(env: NodeJS.ProcessEnv): SourceInfo {
  const server = (env.GITHUB_SERVER_URL ?? '').replace(/\/$/, '');
  return {
    revision: env.GITHUB_SHA || undefined,
    source: server && env.GITHUB_REPOSITORY ? `${server}/${env.GITHUB_REPOSITORY}` : undefined,
  };
}

/** `git <args>` in dir, or undefined when it is not a git checkout (or git is missing). */
export function git(dir: string, args: string[]): string | undefined {
  try {
    return execFileSync('git', args, { cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 10000 }).trim() || undefined;
  } catch {
    return undefined;
  }
}

/** Runner variables first, git in the context second. */
export function resolveSource(env: NodeJS.ProcessEnv, dir: string): SourceInfo {
  const fromEnv = sourceFromEnv(env);
  return { revision: fromEnv.revision ?? git(dir, ['rev-parse', 'HEAD']), source: fromEnv.source };
}
