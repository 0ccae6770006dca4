// The wheelhouse stage: every Python dependency compiled to a wheel in the builder image and
// written to <context>/<wheelhouse.dir> for the Dockerfile to install from. A full cache hit
// runs no builder at all; a partial hit (restore key) rebuilds only what changed.
import type Docker from 'dockerode';
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { PalletConfig } from '../config/types.js';
import type { CleanupLedger } from '../util/cleanup.js';
import { reporter } from '../util/reporter.js';
import { UserError } from '../errors.js';
import { collectRequirements } from './requirements.js';
import { hashTree, sha256 } from './source-hash.js';
import { wheelhouseKeys } from './wheelhouse-key.js';
import {
  builtWheelsFromPipOutput, findWheel, isCurrent, planLocalPackages, projectName, readManifest, writeManifest,
  type WheelhouseManifest,
} from './wheelhouse-manifest.js';
import type { WheelhouseCache } from './wheelhouse-cache.js';
import { inspectBuilder, invokingUser, pipWheelSpec, stageSources, WHEELHOUSE_MOUNT } from './wheelhouse-builder.js';
import { runOneOff } from '../docker/run-container.js';

export type WheelhouseCacheResult = 'hit' | 'partial' | 'miss';

export interface WheelhouseReport {
  dir: string;
  key: string;
  /** hit: nothing built; partial: restored from a restore key, some rebuilt; miss: built from scratch. */
  cache: WheelhouseCacheResult;
  matchedKey?: string;
  backend: string;
  /** Wheel files built in this run. */
  built: string[];
  /** Wheel files taken from the cache or the existing wheelhouse. */
  reused: string[];
  wheels: number;
  durationMs: number;
}

export interface WheelhouseOptions {
  config: PalletConfig;
  docker: Docker;
  ledger: CleanupLedger;
  /** undefined: no cache (the `cache` input is false). */
  cache?: WheelhouseCache;
  signal?: AbortSignal;
  tmpDir?: string;
}

const listWheels = (dir: string) => (existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.whl')).sort() : []);

function readIf(file: string): string | undefined {
  try { return readFileSync(file, 'utf8'); } catch { return undefined; }
}

function localProjectName(dir: string): string {
  return projectName({
    pyproject: readIf(path.join(dir, 'pyproject.toml')),
    setupCfg: readIf(path.join(dir, 'setup.cfg')),
    setupPy: readIf(path.join(dir, 'setup.py')),
  }, path.basename(dir));
}

export async function buildWheelhouse(o: WheelhouseOptions): Promise<WheelhouseReport> {
  const started = Date.now();
  const wh = o.config.build.wheelhouse;
  if (!wh) throw new Error('buildWheelhouse called without build.wheelhouse');
  if (!wh.requirements?.length) throw new UserError('build.wheelhouse.requirements is empty', 'list at least one requirements file, e.g. [requirements.txt]');
  if (!wh.builder) throw new UserError('build.wheelhouse.builder is not set', 'name an image with Python and a compiler, e.g. python:3.12-bookworm');
  const context = o.config.build.context;
  const dir = path.resolve(context, wh.dir || 'wheelhouse');
  const pipArgs = wh.pip_args ?? [];

  const reqs = collectRequirements(context, wh.requirements);
  const builder = await inspectBuilder(o.docker, wh.builder);
  const rel = (abs: string) => path.relative(context, abs).split(path.sep).join('/');
  const sourceHashes = Object.fromEntries(reqs.localPackages.map((p) => [p.rel, hashTree(p.path)]));
  const keys = wheelhouseKeys({
    app: o.config.app,
    platform: builder.platform,
    builderImageId: builder.id,
    pipArgs,
    requirementFiles: Object.fromEntries(reqs.files.map((f) => [rel(f), sha256(readFileSync(f))])),
    localPackages: sourceHashes,
  });
  const report = (cache: WheelhouseCacheResult, built: string[], matchedKey?: string): WheelhouseReport => {
    const wheels = listWheels(dir);
    return {
      dir, key: keys.key, cache, matchedKey, backend: o.cache?.where ?? 'none (cache disabled)',
      built, reused: wheels.filter((w) => !built.includes(w)), wheels: wheels.length, durationMs: Date.now() - started,
    };
  };
  const exists = (w: string) => existsSync(path.join(dir, w));

  // Already current in place (a developer's second run): nothing to restore or build.
  if (isCurrent(readManifest(dir), keys.key, exists)) {
    reporter().info(`wheelhouse: cache hit (key ${keys.key}, already in ${rel(dir)}), 0 wheels built`);
    return report('hit', [], keys.key);
  }

  let matched: string | undefined;
  if (o.cache) {
    matched = await o.cache.restore(dir, keys.key, keys.restoreKeys);
    if (matched === keys.key && isCurrent(readManifest(dir), keys.key, exists)) {
      reporter().info(`wheelhouse: cache hit (key ${keys.key}, from ${o.cache.where}), 0 wheels built`);
      return report('hit', [], matched);
    }
  }

  mkdirSync(dir, { recursive: true });
  const manifest = readManifest(dir);
  const plan = planLocalPackages(manifest, keys.toolchain, sourceHashes, exists);
  for (const stale of plan.stale) await rm(path.join(dir, stale), { force: true });
  const reuseByPath = new Map([...plan.reuse].map(([r, wheel]) => [path.resolve(context, r), `${WHEELHOUSE_MOUNT}/${wheel}`]));

  const staging = await mkdtemp(path.join(o.tmpDir ?? os.tmpdir(), 'pallet-wheel-src-'));
  o.ledger.add({ kind: 'path', path: staging });
  let output: string;
  try {
    await stageSources({ context, staging, requirementFiles: reqs.files, buildPackages: plan.build, reuse: reuseByPath });
    const spec = pipWheelSpec({
      builder: wh.builder, staging, wheelhouse: dir, requirements: wh.requirements.map((r) => rel(path.resolve(context, r))), pipArgs, user: invokingUser(),
    });
    const tail: string[] = [];
    const res = await reporter().group(`pip wheel in ${wh.builder}`, () => runOneOff(o.docker, o.ledger, spec, (line) => {
      reporter().info(line);
      tail.push(line);
      if (tail.length > 20) tail.shift();
    }, o.signal));
    output = res.output;
    if (res.exitCode !== 0) {
      reporter().error(tail.join('\n'), { title: `pip wheel failed (exit ${res.exitCode})` });
      throw new UserError(`wheelhouse: pip wheel failed with exit code ${res.exitCode} in ${wh.builder}`,
        'see the pip output above; check build.wheelhouse.requirements and pip_args');
    }
  } finally {
    await rm(staging, { recursive: true, force: true });
    o.ledger.done({ kind: 'path', path: staging });
  }

  const built = builtWheelsFromPipOutput(output);
  const wheels = listWheels(dir);
  const packages: WheelhouseManifest['packages'] = {};
  for (const p of reqs.localPackages) {
    const wheel = plan.reuse.get(p.rel) ?? findWheel(localProjectName(p.path), wheels);
    if (wheel) packages[p.rel] = { sourceHash: sourceHashes[p.rel], wheel };
    else reporter().warning(`wheelhouse: no wheel found for local package ${p.rel}; it will be rebuilt next time`);
  }
  writeManifest(dir, { version: 1, key: keys.key, toolchain: keys.toolchain, packages, wheels });
  if (o.cache) await o.cache.save(dir, keys.key);

  const names = built.map((w) => w.split('-')[0]).join(', ') || 'none';
  const r = report(matched ? 'partial' : 'miss', built, matched);
  reporter().info(matched
    ? `wheelhouse: partial hit (key ${matched}): reused ${r.reused.length}, built ${built.length}: ${names}`
    : `wheelhouse: cache miss (key ${keys.key}): built ${built.length}: ${names}`);
  return r;
}
