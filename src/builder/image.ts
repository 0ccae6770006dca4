// Builds the application image on the local engine (classic builder) from the context tar,
// with the registry layer cache: <image>:cache-<branch> (or the default branch's) is pulled
// first and passed as cache-from, so a fresh runner reuses the layers of the last build.
import type Docker from 'dockerode';
import path from 'node:path';
import type { PalletConfig } from '../config/types.js';
import { reporter } from '../util/reporter.js';
import { UserError, errorMessage } from '../errors.js';
import { followJson } from '../docker/json-stream.js';
import { classifyEngineError } from '../docker/engine-errors.js';
import { contextEntries, contextTar } from './context.js';
import { buildArgs, imageLabels, resolveSource } from './labels.js';
import { BuildStreamParser, buildFailureAnnotation, type BuildEvent, type BuildStreamResult } from './build-stream.js';
import { cacheCandidates, cacheTag, resolveBranch, resolveDefaultBranches } from './cache-tags.js';
import type { RegistryAuth } from './registry.js';
import { relInside } from './requirements.js';

export interface ImageBuildOptions {
  docker: Docker;
  config: PalletConfig;
  tag: string;
  env: NodeJS.ProcessEnv;
  /** Use the registry layer cache (pull cache-<branch> before, tag it after). */
  useCache: boolean;
  auth?: RegistryAuth;
  signal?: AbortSignal;
}

export interface ImageBuildReport {
  ref: string;
  imageId: string;
  size: number;
  steps: BuildStreamResult['steps'];
  cachedSteps: number;
  ranSteps: number;
  /** The cache image that was pulled and used as cache-from, if any. */
  cacheFrom?: string;
  /** The cache tag this build was given (pushed later when credentials allow). */
  cacheTag?: string;
  contextFiles: number;
  durationMs: number;
  pullCacheMs: number;
}

/** The engine's build query (pure; tested). cachefrom must be a JSON array string. */
export function buildQuery(o: { ref: string; dockerfile: string; target?: string; args: Record<string, string>; labels: Record<string, string>; cacheFrom: string[] }) {
  return {
    t: o.ref,
    dockerfile: o.dockerfile,
    ...(o.target ? { target: o.target } : {}),
    buildargs: o.args,
    labels: o.labels,
    ...(o.cacheFrom.length ? { cachefrom: JSON.stringify(o.cacheFrom) } : {}),
    rm: true,
    forcerm: true,
    pull: false,
  };
}

/** Pulls the first cache image that exists; a miss is normal (first build of a branch). */
export async function pullCacheImage(docker: Docker, image: string, tags: string[], auth?: RegistryAuth, signal?: AbortSignal): Promise<string | undefined> {
  for (const t of tags) {
    const ref = `${image}:${t}`;
    try {
      const stream = await docker.pull(ref, { authconfig: auth, abortSignal: signal } as never) as unknown as NodeJS.ReadableStream;
      let failed: string | undefined;
      await followJson<{ error?: string }>(docker, stream, (ev) => { if (ev.error) failed = ev.error; }, { signal, idleMs: 5 * 60 * 1000 });
      if (failed) throw new Error(failed);
      reporter().info(`layer cache: pulled ${ref}`);
      return ref;
    } catch (e) {
      reporter().info(`layer cache: ${ref} not available (${errorMessage(e).split('\n')[0]})`);
    }
  }
  return undefined;
}

export async function buildImage(o: ImageBuildOptions): Promise<ImageBuildReport> {
  const started = Date.now();
  const { docker, config } = o;
  const b = config.build;
  const ref = `${config.image}:${o.tag}`;
  const dockerfile = relInside(b.context, path.resolve(b.context, b.dockerfile), `build.dockerfile ${b.dockerfile}`);

  let cacheFrom: string | undefined;
  let ownCacheTag: string | undefined;
  const pullStarted = Date.now();
  if (o.useCache) {
    const branch = resolveBranch(o.env, b.context);
    const candidates = cacheCandidates(branch, resolveDefaultBranches(o.env));
    ownCacheTag = branch ? cacheTag(branch) : candidates[0];
    cacheFrom = await pullCacheImage(docker, config.image, candidates, o.auth, o.signal);
  }
  const pullCacheMs = Date.now() - pullStarted;

  const entries = contextEntries(b.context, dockerfile);
  const query = buildQuery({
    ref, dockerfile, target: b.target, args: buildArgs(b.args),
    labels: imageLabels({ app: config.app, tag: o.tag, created: new Date(), source: resolveSource(o.env, b.context) }),
    cacheFrom: cacheFrom ? [cacheFrom] : [],
  });
  const parser = new BuildStreamParser();
  await reporter().group(`docker build ${ref} (${entries.length} files in context${cacheFrom ? `, cache from ${cacheFrom}` : ''})`, async () => {
    const stream = await docker.buildImage(contextTar(b.context, entries) as unknown as NodeJS.ReadableStream, { ...query, abortSignal: o.signal } as never) as unknown as NodeJS.ReadableStream;
    await followJson<BuildEvent>(docker, stream, (ev) => { for (const l of parser.push(ev)) reporter().info(l); }, { signal: o.signal, idleMs: 30 * 60 * 1000 });
  });
  const result = parser.result();
  if (result.error) {
    const { title, body } = buildFailureAnnotation(result.error);
    reporter().error(body, { title, file: path.join(b.context, dockerfile) });
    // A step that failed for a reason outside the Dockerfile (no space left, ...) gets that reason's hint.
    throw new UserError(`${title}: ${result.error.message}`, classifyEngineError(result.error.message)?.hint ?? 'fix the failing Dockerfile step; its last output lines are above');
  }
  const info = await docker.getImage(ref).inspect();
  if (ownCacheTag) await docker.getImage(info.Id).tag({ repo: config.image, tag: ownCacheTag });
  reporter().info(`built ${ref} (${info.Id.slice(7, 19)}): ${result.cachedSteps} steps from cache, ${result.ranSteps} run`);
  return {
    ref, imageId: info.Id, size: info.Size, steps: result.steps, cachedSteps: result.cachedSteps, ranSteps: result.ranSteps,
    cacheFrom, cacheTag: ownCacheTag, contextFiles: entries.length, durationMs: Date.now() - started, pullCacheMs,
  };
}
