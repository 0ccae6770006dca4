// Names of the registry layer-cache images: <image>:cache-<branch>. A fresh runner pulls the
// branch's cache image, falling back to the default branch's, and builds with it as cache-from.
import { readFileSync } from 'node:fs';
import { git } from './labels.js';

/** A branch name as a tag suffix: tag characters only, lowercase, at most 128 chars with `cache-`. */
export function sanitizeBranch(branch: string): string {
  const s = branch.toLowerCase().replace(/^refs\/heads\//, '').replace(/[^a-z0-9_.-]+/g, '-').replace(/^[.-]+/, '').replace(/-+$/, '');
  return (s || 'unknown').slice(0, 128 - 'cache-'.length);
}

export function cacheTag(branch: string): string {
  return `cache-${sanitizeBranch(branch)}`;
}

/**
 * The cache tag of a stage before the build target: `cache-<branch>--<stage>` (BuildKit builds;
 * the target's own cache image keeps `cache-<branch>`). At most 128 characters.
 */
export function stageCacheTag(branch: string, stage: string): string {
  const suffix = `--${stage.toLowerCase().replace(/[^a-z0-9_.-]+/g, '-')}`.slice(0, 60);
  return cacheTag(branch).slice(0, 128 - suffix.length) + suffix;
}

/** The tags to try pulling, in order: own branch, then default branch(es); no duplicates. */
export function cacheCandidates(branch: string | undefined, defaults: string[]): string[] {
  const tags = [branch, ...defaults].filter((b): b is string => !!b).map(cacheTag);
  return [...new Set(tags)];
}

/** PR head branch, else the ref name, else the checkout's branch. */
export function resolveBranch(env: NodeJS.ProcessEnv, dir: string): string | undefined {
  if (env.GITHUB_HEAD_REF) return env.GITHUB_HEAD_REF;
  if (env.GITHUB_REF_NAME && env.GITHUB_REF_TYPE !== 'tag') return env.GITHUB_REF_NAME;
  const b = git(dir, ['rev-parse', '--abbrev-ref', 'HEAD']);
  return b && b !== 'HEAD' ? b : undefined;
}

/** The default branch from PALLET_DEFAULT_BRANCH or the event payload, else main and master. */
export function resolveDefaultBranches(env: NodeJS.ProcessEnv): string[] {
  if (env.PALLET_DEFAULT_BRANCH) return [env.PALLET_DEFAULT_BRANCH];
  if (env.GITHUB_EVENT_PATH) {
    try {
      const ev = JSON.parse(readFileSync(env.GITHUB_EVENT_PATH, 'utf8')) as { repository?: { default_branch?: string } };
      if (ev.repository?.default_branch) return [ev.repository.default_branch];
    } catch { /* no payload: fall through */ }
  }
  return ['main', 'master'];
}
