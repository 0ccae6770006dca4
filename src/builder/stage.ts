// The build stage: wheelhouse, image, and (when credentials are given) the branch's cache
// image pushed right after the build, so that the next build of the branch on a fresh
// runner finds its layers even when this run's tests fail and the image is never pushed.
import type Docker from 'dockerode';
import type { RunContext } from '../commands/context.js';
import { resolveTag } from '../commands/context.js';
import { dockerClient, ensureEngine } from '../docker/client.js';
import { reporter } from '../util/reporter.js';
import { errorMessage } from '../errors.js';
import { buildWheelhouse, type WheelhouseReport } from './wheelhouse.js';
import { chooseWheelhouseCache } from './wheelhouse-cache.js';
import { buildImage, type ImageBuildReport } from './image.js';
import { pushTag, type PushResult } from './push.js';
import { registryAuth, registryHostOf } from './registry.js';
import { registryCachePlan } from './cache-tags.js';

export interface BuildReport {
  tag: string;
  wheelhouse?: WheelhouseReport;
  image: ImageBuildReport;
  cachePush?: PushResult;
  /** BuildKit: the cache images of the stages before the target. */
  stageCachePushes: PushResult[];
  phases: { name: string; ms: number }[];
}

export function authFromContext(ctx: RunContext) {
  const { inputs, config } = ctx;
  return registryAuth({ image: config.image, registry: inputs.registry, username: inputs.registryUsername, password: inputs.registryPassword });
}

export async function runBuildStage(ctx: RunContext, docker: Docker = dockerClient()): Promise<BuildReport> {
  await ensureEngine(docker);
  const { inputs, config } = ctx;
  const tag = resolveTag(inputs, ctx.env);
  const auth = authFromContext(ctx);
  const phases: BuildReport['phases'] = [];
  const timed = async <T>(name: string, fn: () => Promise<T>): Promise<T> => {
    const t = Date.now();
    try { return await fn(); } finally { phases.push({ name, ms: Date.now() - t }); }
  };

  const wheelhouse = config.build.wheelhouse
    ? await timed('wheelhouse', () => buildWheelhouse({
      config, docker, ledger: ctx.ledger, signal: ctx.signal,
      cache: inputs.cache ? chooseWheelhouseCache(ctx.env) : undefined,
      tmpDir: ctx.env.RUNNER_TEMP || undefined,
    }))
    : undefined;
  const layerCache = registryCachePlan({ cache: inputs.cache, hasAuth: !!auth, env: ctx.env, image: config.image, registry: inputs.registry || registryHostOf(config.image) });
  if (layerCache.note) reporter().info(layerCache.note);
  const image = await timed('image build', () => buildImage({ docker, config, tag, env: ctx.env, useCache: layerCache.pull, auth, signal: ctx.signal }));
  if (image.cacheImports.length) phases.splice(phases.length - 1, 0, { name: image.builder === 'buildkit' ? 'layer cache lookup' : 'layer cache pull', ms: image.pullCacheMs });

  let cachePush: PushResult | undefined;
  const stageCachePushes: PushResult[] = [];
  if (inputs.cache && auth && image.cacheTag) {
    const pushCache = async (cacheTag: string) => {
      try {
        return await pushTag({ docker, repo: config.image, tag: cacheTag, auth, registry: auth.serveraddress || registryHostOf(config.image), quiet: true, signal: ctx.signal, attempts: 2 });
      } catch (e) {
        // The build itself succeeded; a missing cache image only makes the next build slower.
        reporter().warning(`layer cache: could not push ${config.image}:${cacheTag} (${errorMessage(e)})`);
        return undefined;
      }
    };
    cachePush = await timed('cache image push', async () => {
      for (const t of image.stageCacheTags) {
        const pushed = await pushCache(t);
        if (pushed) stageCachePushes.push(pushed);
      }
      return pushCache(image.cacheTag!);
    });
  }
  return { tag, wheelhouse, image, cachePush, stageCachePushes, phases };
}
