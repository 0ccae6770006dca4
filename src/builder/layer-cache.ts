// The registry layer cache for BuildKit builds. Engine 20.10's BuildKit can import a registry
// cache only as "inline" cache metadata written into an image (BUILDKIT_INLINE_CACHE=1), and an
// image carries the cache of its own stage alone. So every named stage the target needs gets
// its own cache image, `<image>:cache-<branch>--<stage>`, built with --target=<stage> just before
// the target (BuildKit reuses those steps for the target at once), and the target's image is
// `<image>:cache-<branch>` as before. Every cache image found in the registry is passed as
// cache-from, so an empty engine rebuilds only what changed, in any stage.
import type Docker from 'dockerode';
import { reporter } from '../util/reporter.js';
import { errorMessage } from '../errors.js';
import { cacheCandidates, cacheTag, stageCacheTag } from './cache-tags.js';
import { stagesFor, type ParsedDockerfile } from './dockerfile.js';
import type { RegistryAuth } from './registry.js';

export interface LayerCachePlan {
  /** Named stages before the target, in build order, each with the cache tag this build gives it. */
  stages: { name: string; tag: string }[];
  /** The target's cache tag. */
  tag: string;
  /** Per stage (then the target), the tags to import from, best first: own branch, then default branch. */
  lookups: { stage?: string; tags: string[] }[];
  /** Unnamed stages the target needs: no cache image (a build can only target a named stage). */
  unnamed: number[];
}

/** The cache images of a BuildKit build (pure; tested). */
export function layerCachePlan(df: ParsedDockerfile, target: string | undefined, branch: string | undefined, defaults: string[]): LayerCachePlan {
  const branches = [...new Set([branch, ...defaults].filter((b): b is string => !!b))];
  const own = branch ?? branches[0] ?? 'main';
  const needed = stagesFor(df, target);
  const before = needed.slice(0, -1).filter((s) => s.instructions.length > 1);
  const named = before.filter((s): s is typeof s & { name: string } => !!s.name);
  return {
    stages: named.map((s) => ({ name: s.name, tag: stageCacheTag(own, s.name) })),
    tag: cacheTag(own),
    lookups: [
      ...named.map((s) => ({ stage: s.name, tags: branches.map((b) => stageCacheTag(b, s.name)) })),
      { tags: cacheCandidates(branch, defaults) },
    ],
    unnamed: before.filter((s) => !s.name).map((s) => s.index),
  };
}

/** A cache image the registry could not give: its reference, the error's first line, the HTTP status. */
export interface CacheMiss { ref: string; error: string; statusCode?: number }

/**
 * Pure: the info lines for cache images that were not there. Those the registry does not have (404,
 * manifest unknown) are normal before the first build of a branch: one line saying so, naming them.
 * Any other failure (auth, network) gets its own line with the error.
 */
export function cacheMissLines(misses: CacheMiss[]): string[] {
  const absent = misses.filter((m) => m.statusCode === 404 || /\b404\b|not found|manifest unknown|no such/i.test(m.error));
  const other = misses.filter((m) => !absent.includes(m));
  return [
    ...(absent.length ? [`layer cache: not in the registry yet: ${absent.map((m) => m.ref).join(', ')} (expected on a first build; this build pushes its cache for the next one)`] : []),
    ...other.map((m) => `layer cache: ${m.ref} not available (${m.error})`),
  ];
}

/**
 * The cache images that exist in the registry: for each lookup the first tag the registry
 * knows (`GET /distribution/<ref>/json` on the engine, with the credentials). A miss is normal.
 */
export async function findCacheImages(docker: Docker, image: string, plan: LayerCachePlan, auth?: RegistryAuth): Promise<string[]> {
  const misses: CacheMiss[] = [];
  const found = await Promise.all(plan.lookups.map(async (l) => {
    for (const t of l.tags) {
      const ref = `${image}:${t}`;
      try {
        await docker.getImage(ref).distribution({ authconfig: auth } as never);
        return ref;
      } catch (e) {
        misses.push({ ref, error: errorMessage(e).split('\n')[0], statusCode: (e as { statusCode?: number }).statusCode });
      }
    }
    return undefined;
  }));
  for (const line of cacheMissLines(misses)) reporter().info(line);
  const refs = found.filter((r): r is string => !!r);
  for (const r of refs) reporter().info(`layer cache: using ${r}`);
  return refs;
}
