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

/** Whether this build pulls the registry layer cache, and the one line that says why not. */
export interface RegistryCachePlan {
  pull: boolean;
  /** Said once when the cache is off for a reason the user may not expect. */
  note?: string;
}

/**
 * The registry layer cache needs registry credentials outside GitHub Actions: a local build
 * without them does not try to pull (the pulls would only be refused), and says so once. In
 * Actions it still tries: a public image's cache can be pulled anonymously. Pure; tested.
 */
export function registryCachePlan(o: { cache: boolean; hasAuth: boolean; env: NodeJS.ProcessEnv; image: string; registry: string }): RegistryCachePlan {
  if (!o.cache) return { pull: false };
  if (o.hasAuth || o.env.GITHUB_ACTIONS === 'true') return { pull: true };
  return {
    pull: false,
    note: `layer cache: the registry cache (${o.image}:cache-<branch>) is off: no registry credentials for ${o.registry}, so this build uses this engine's local layers only; to use it, pass --registry-username and set PALLET_REGISTRY_PASSWORD`,
  };
}
