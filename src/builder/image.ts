// Builds the application image on the local engine from the context tar. BuildKit when the
// engine has it (layer-cache.ts: one inline-cache image per stage, imported from the registry
// by BuildKit itself); the classic builder as the fallback, with <image>:cache-<branch> (or
// the default branch's) pulled first and passed as cache-from. Either way a fresh runner
// reuses the layers of the last build.
import type Docker from 'dockerode';
import { readFileSync } from 'node:fs';
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
import { parseDockerfile, type ParsedDockerfile } from './dockerfile.js';
import { buildkitOnlyUses, chooseBuilder, classicBuilderRefusal, heredocRefusal, type BuilderChoice, type BuilderKind, type EngineFacts } from './builder-choice.js';
import { runBuildkitBuild } from './buildkit-build.js';
import { mergeBuildSteps, type BuildkitStep } from './buildkit-progress.js';
import { cacheMissLines, findCacheImages, layerCachePlan, type CacheMiss } from './layer-cache.js';

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
  /** Which builder built it, and why. */
  builder: BuilderKind;
  builderReason: string;
  steps: BuildStreamResult['steps'];
  cachedSteps: number;
  ranSteps: number;
  /** The target's cache image used as cache-from, if any. */
  cacheFrom?: string;
  /** Every cache image used as cache-from (BuildKit: one per stage found in the registry). */
  cacheImports: string[];
  /** The cache tag this build gave the image (pushed later when credentials allow). */
  cacheTag?: string;
  /** BuildKit: the cache tags of the stages before the target (pushed with cacheTag). */
  stageCacheTags: string[];
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
    // Engines whose default is BuildKit (23.0+) build with the classic builder only when asked.
    version: '1',
  };
}

/** What the engine says about itself, for the builder choice. */
export async function engineFacts(docker: Docker): Promise<EngineFacts> {
  const v = await docker.version() as { ApiVersion?: string; Os?: string; Version?: string; Components?: { Name?: string }[] };
  return { apiVersion: v.ApiVersion ?? '0', os: v.Os ?? 'linux', version: v.Version, components: (v.Components ?? []).map((c) => c.Name ?? '') };
}

/** Pulls the first cache image that exists; a miss is normal (first build of a branch). */
export async function pullCacheImage(docker: Docker, image: string, tags: string[], auth?: RegistryAuth, signal?: AbortSignal): Promise<string | undefined> {
  const misses: CacheMiss[] = [];
  const report = () => { for (const line of cacheMissLines(misses)) reporter().info(line); };
  for (const t of tags) {
    const ref = `${image}:${t}`;
    try {
      const stream = await docker.pull(ref, { authconfig: auth, abortSignal: signal } as never) as unknown as NodeJS.ReadableStream;
      let failed: string | undefined;
      await followJson<{ error?: string }>(docker, stream, (ev) => { if (ev.error) failed = ev.error; }, { signal, idleMs: 5 * 60 * 1000 });
      if (failed) throw new Error(failed);
      report();
      reporter().info(`layer cache: pulled ${ref}`);
      return ref;
    } catch (e) {
      misses.push({ ref, error: errorMessage(e).split('\n')[0], statusCode: (e as { statusCode?: number }).statusCode });
    }
  }
  report();
  return undefined;
}

interface BuildInput {
  o: ImageBuildOptions;
  ref: string;
  dockerfile: string;
  dockerfileAbs: string;
  parsed: ParsedDockerfile;
  entries: string[];
  args: Record<string, string>;
  labels: Record<string, string>;
  choice: BuilderChoice;
  started: number;
}

/** Reads and parses the Dockerfile; a missing one is the user's to fix. */
function readDockerfile(abs: string, field: string): ParsedDockerfile {
  let text: string;
  try {
    text = readFileSync(abs, 'utf8');
  } catch (e) {
    throw new UserError(`${field}: cannot read ${abs} (${errorMessage(e)})`, 'set build.dockerfile to the Dockerfile, relative to build.context');
  }
  return parseDockerfile(text);
}

export async function buildImage(o: ImageBuildOptions): Promise<ImageBuildReport> {
  const started = Date.now();
  const { docker, config } = o;
  const b = config.build;
  const ref = `${config.image}:${o.tag}`;
  const dockerfile = relInside(b.context, path.resolve(b.context, b.dockerfile), `build.dockerfile ${b.dockerfile}`);
  const dockerfileAbs = path.join(b.context, dockerfile);
  const parsed = readDockerfile(dockerfileAbs, `build.dockerfile ${b.dockerfile}`);
  const engine = await engineFacts(docker);
  const choice = chooseBuilder(engine, o.env);
  // Refused before anything is built: the builder cannot build what the Dockerfile asks for.
  const refusal = choice.builder === 'classic'
    ? classicBuilderRefusal(dockerfileAbs, buildkitOnlyUses(parsed), choice)
    : heredocRefusal(dockerfileAbs, parsed, engine);
  if (refusal) throw new UserError(refusal.message, refusal.hint);
  reporter().info(`builder: ${choice.builder === 'buildkit' ? 'BuildKit' : 'classic builder'} (${choice.reason})`);

  const input: BuildInput = {
    o, ref, dockerfile, dockerfileAbs, parsed, choice, started,
    entries: contextEntries(b.context, dockerfile),
    args: buildArgs(b.args),
    labels: imageLabels({ app: config.app, tag: o.tag, created: new Date(), source: resolveSource(o.env, b.context) }),
  };
  return choice.builder === 'buildkit' ? buildWithBuildkit(input) : buildClassic(input);
}

function failBuild(err: NonNullable<BuildStreamResult['error']>, dockerfileAbs: string): never {
  const { title, body } = buildFailureAnnotation(err, path.basename(dockerfileAbs));
  reporter().error(body, { title, file: dockerfileAbs, ...(err.line ? { startLine: err.line } : {}) });
  // A step that failed for a reason outside the Dockerfile (no space left, ...) gets that reason's hint.
  throw new UserError(`${title}: ${err.message}`, classifyEngineError(err.message)?.hint ?? 'fix the failing Dockerfile step; its last output lines are above');
}

async function finish(i: BuildInput, result: Pick<ImageBuildReport, 'steps' | 'cachedSteps' | 'ranSteps' | 'cacheFrom' | 'cacheImports' | 'cacheTag' | 'stageCacheTags' | 'pullCacheMs'>): Promise<ImageBuildReport> {
  const { docker, config } = i.o;
  const info = await docker.getImage(i.ref).inspect();
  if (result.cacheTag) await docker.getImage(info.Id).tag({ repo: config.image, tag: result.cacheTag });
  reporter().info(`built ${i.ref} (${info.Id.slice(7, 19)}): ${result.cachedSteps} steps from cache, ${result.ranSteps} run`);
  return {
    ref: i.ref, imageId: info.Id, size: info.Size, builder: i.choice.builder, builderReason: i.choice.reason,
    contextFiles: i.entries.length, durationMs: Date.now() - i.started, ...result,
  };
}

async function buildClassic(i: BuildInput): Promise<ImageBuildReport> {
  const { docker, config } = i.o;
  const b = config.build;
  let cacheFrom: string | undefined;
  let ownCacheTag: string | undefined;
  const pullStarted = Date.now();
  if (i.o.useCache) {
    const branch = resolveBranch(i.o.env, b.context);
    const candidates = cacheCandidates(branch, resolveDefaultBranches(i.o.env));
    ownCacheTag = branch ? cacheTag(branch) : candidates[0];
    cacheFrom = await pullCacheImage(docker, config.image, candidates, i.o.auth, i.o.signal);
  }
  const pullCacheMs = Date.now() - pullStarted;
  const query = buildQuery({ ref: i.ref, dockerfile: i.dockerfile, target: b.target, args: i.args, labels: i.labels, cacheFrom: cacheFrom ? [cacheFrom] : [] });
  const parser = new BuildStreamParser();
  await reporter().group(`docker build ${i.ref} (classic builder, ${i.entries.length} files in context${cacheFrom ? `, cache from ${cacheFrom}` : ''})`, async () => {
    const stream = await docker.buildImage(contextTar(b.context, i.entries) as unknown as NodeJS.ReadableStream, { ...query, abortSignal: i.o.signal } as never) as unknown as NodeJS.ReadableStream;
    await followJson<BuildEvent>(docker, stream, (ev) => { for (const l of parser.push(ev)) reporter().info(l); }, { signal: i.o.signal, idleMs: 30 * 60 * 1000 });
  });
  const result = parser.result();
  if (result.error) failBuild(result.error, i.dockerfileAbs);
  return finish(i, {
    steps: result.steps, cachedSteps: result.cachedSteps, ranSteps: result.ranSteps,
    cacheFrom, cacheImports: cacheFrom ? [cacheFrom] : [], cacheTag: ownCacheTag, stageCacheTags: [], pullCacheMs,
  });
}

async function buildWithBuildkit(i: BuildInput): Promise<ImageBuildReport> {
  const { docker, config } = i.o;
  const b = config.build;
  const lookStarted = Date.now();
  const plan = i.o.useCache
    ? layerCachePlan(i.parsed, b.target, resolveBranch(i.o.env, b.context), resolveDefaultBranches(i.o.env))
    : undefined;
  const imports = plan ? await findCacheImages(docker, config.image, plan, i.o.auth) : [];
  const pullCacheMs = Date.now() - lookStarted;
  if (plan?.unnamed.length) {
    reporter().info(`layer cache: stage(s) ${plan.unnamed.join(', ')} have no name, so no cache image of their own (name them with FROM ... AS name)`);
  }
  const builds: BuildkitStep[][] = [];
  const stageRefs: string[] = [];
  const common = { dockerfile: i.dockerfile, args: i.args, cacheFrom: imports, inlineCache: !!plan };
  const run = (query: Parameters<typeof runBuildkitBuild>[0]['query']) => runBuildkitBuild({
    docker, context: contextTar(b.context, i.entries), query, dockerfile: i.parsed, auth: i.o.auth, signal: i.o.signal,
  });
  const title = `docker build ${i.ref} (BuildKit, ${i.entries.length} files in context${imports.length ? `, cache from ${imports.join(', ')}` : ''})`;
  const failed = await reporter().group(title, async () => {
    for (const s of plan?.stages ?? []) {
      const stageRef = `${config.image}:${s.tag}`;
      reporter().info(`stage ${s.name}: cache image ${stageRef}`);
      const r = await run({ ...common, ref: stageRef, target: s.name });
      builds.push(r.steps);
      if (r.error) return r.error;
      stageRefs.push(stageRef);
    }
    reporter().info(`target${b.target ? ` ${b.target}` : ''}: ${i.ref}`);
    const r = await run({ ...common, ref: i.ref, target: b.target, labels: i.labels });
    builds.push(r.steps);
    return r.error;
  });
  if (failed) {
    // Nothing of a failed build stays tagged: not even the stage cache images it made.
    for (const r of stageRefs) await docker.getImage(r).remove({ noprune: true }).catch(() => undefined);
    failBuild(failed, i.dockerfileAbs);
  }
  const merged = mergeBuildSteps(builds);
  return finish(i, {
    ...merged,
    cacheFrom: imports.find((r) => plan?.lookups.at(-1)?.tags.some((t) => r === `${config.image}:${t}`)),
    cacheImports: imports,
    cacheTag: plan?.tag,
    stageCacheTags: plan?.stages.map((s) => s.tag) ?? [],
    pullCacheMs,
  });
}
