// Benchmark of the build stage on the lab (run: npx tsx bench/build.ts), the classic builder and
// BuildKit side by side in one run. For each builder, on its own copy of the example app, its own
// image repository (so its own registry cache images) and its own wheelhouse cache:
//   cold build            new app copy, empty wheelhouse cache, no layer cache of any kind
//   code-only rebuild     one .py file changed
//   empty-engine rebuild  the builder's images, its BuildKit cache records and the wheelhouse dir
//                         removed: layers come from the registry cache images, wheels from the
//                         wheelhouse cache
// The builders take turns within each scenario (classic first, then BuildKit first, ...), so
// that load from other work on the machine falls on both. Then the wheelhouse alone: miss, hit.
// BuildKit builds examples/django-app/Dockerfile; the classic builder cannot (RUN --mount,
// COPY --chmod), so it builds bench/lib/Dockerfile.classic, the same steps written without them.
// Cold means cold without pruning other work's cache: see bench/lib/build-cache.ts.
// Prints the times, the ratios to each builder's cold build and the targets; results go to
// bench/results/build.json.
import Docker from 'dockerode';
import { appendFileSync, copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { readLab, REPO_ROOT } from '../test/helpers/lab.js';
import { copyExampleApp, fixtureContext, removeDir, removeRepoImages, runId } from './lib/build-fixture.js';
import { buildCacheRecords, pruneRecordsSince, runBaseImage } from './lib/build-cache.js';
import { runBuildStage } from '../src/builder/stage.js';
import { pushTag } from '../src/builder/push.js';
import { buildWheelhouse } from '../src/builder/wheelhouse.js';
import { LocalWheelhouseCache } from '../src/builder/wheelhouse-cache.js';
import type { BuilderKind } from '../src/builder/builder-choice.js';
import type { RunContext } from '../src/commands/context.js';
import { CliReporter, setReporter } from '../src/util/reporter.js';

const TARGETS = { codeOnly: 0.08, emptyEngine: 0.20 };
const SCENARIOS = ['cold build', 'code-only rebuild', 'empty-engine rebuild (registry cache)'] as const;
type Scenario = typeof SCENARIOS[number];

const lab = readLab();
const docker = new Docker();
const rid = runId();
const quiet: string[] = [];
setReporter(new CliReporter((l) => quiet.push(l), (l) => quiet.push(l)));

/** One builder's side of the run. */
interface Lane {
  builder: BuilderKind;
  image: string;
  appDir: string;
  cacheDir: string;
  ctx(tag: string): RunContext;
}

interface Row {
  builder: BuilderKind; scenario: Scenario; totalMs: number; imageBuildMs: number;
  phases: { name: string; ms: number }[]; cachedSteps: number; ranSteps: number;
  ran: string[]; cacheImports: number; wheelsBuilt: number; wheelhouse: string;
}

async function makeLane(builder: BuilderKind, base: string): Promise<Lane> {
  const appDir = await copyExampleApp(`pallet-bench-${builder}-`);
  const cacheDir = await mkdtemp(path.join(os.tmpdir(), `pallet-bench-${builder}-cache-`));
  const image = `${lab.registry.address}/bench/build-${builder}-${rid}`;
  if (builder === 'classic') copyFileSync(path.join(REPO_ROOT, 'bench', 'lib', 'Dockerfile.classic'), path.join(appDir, 'Dockerfile.classic'));
  return {
    builder, image, appDir, cacheDir,
    ctx(tag) {
      const env = { PALLET_CACHE_DIR: cacheDir, DOCKER_BUILDKIT: builder === 'classic' ? '0' : '1' };
      const c = fixtureContext({ dir: appDir, image, lab, tag, env });
      c.config.build.args = { ...c.config.build.args, BASE_IMAGE: base };
      if (builder === 'classic') c.config.build.dockerfile = 'Dockerfile.classic';
      return c;
    },
  };
}

const tagOf = (s: Scenario) => `build-${SCENARIOS.indexOf(s) + 1}`;
let bkBefore: Set<string> | undefined;
const pruneNotes: string[] = [];

/** Brings a lane to the state the scenario starts from. */
async function prepare(lane: Lane, scenario: Scenario): Promise<void> {
  if (scenario === 'cold build' && lane.builder === 'buildkit') bkBefore = new Set((await buildCacheRecords(docker)).map((r) => r.ID));
  if (scenario === 'code-only rebuild') appendFileSync(path.join(lane.appDir, 'notes', 'views.py'), `\n# bench change ${rid}\n`);
  if (scenario === 'empty-engine rebuild (registry cache)') {
    await removeRepoImages(docker, lane.image);
    await removeDir(path.join(lane.appDir, 'wheelhouse'));
    if (lane.builder === 'buildkit') {
      const p = await pruneRecordsSince(docker, bkBefore!);
      pruneNotes.push(`BuildKit cache records of this run pruned: ${p.pruned}${p.left ? ` (${p.left} in use, kept)` : ''}`);
    }
  }
}

async function timedBuild(lane: Lane, scenario: Scenario): Promise<Row> {
  quiet.push(`===== ${lane.builder}: ${scenario} =====`);
  const t = Date.now();
  const r = await runBuildStage(lane.ctx(tagOf(scenario)));
  const totalMs = Date.now() - t;
  if (r.image.builder !== lane.builder) throw new Error(`${lane.builder} lane was built by ${r.image.builder} (${r.image.builderReason})`);
  return {
    builder: lane.builder, scenario, totalMs, imageBuildMs: r.phases.find((p) => p.name === 'image build')?.ms ?? 0,
    phases: r.phases, cachedSteps: r.image.cachedSteps, ranSteps: r.image.ranSteps,
    ran: r.image.steps.filter((s) => !s.cached).map((s) => s.instruction.slice(0, 60)),
    cacheImports: r.image.cacheImports.length, wheelsBuilt: r.wheelhouse?.built.length ?? 0, wheelhouse: r.wheelhouse?.cache ?? '-',
  };
}

// The base image lives in the registry, as on a runner that pulled it: no build's push pays
// for uploading the base layers (the first push to a fresh registry would, for one builder only).
const base = await runBaseImage(docker, lab.images.django, `${lab.registry.address}/bench/base`, rid);
const labAuth = { username: lab.registry.username, password: lab.registry.password, serveraddress: lab.registry.address };
const lanes = [await makeLane('classic', base), await makeLane('buildkit', base)];
try {
  await pushTag({ docker, repo: base.slice(0, base.lastIndexOf(':')), tag: rid, auth: labAuth, registry: lab.registry.address, quiet: true });
  const rows: Row[] = [];
  for (const [i, scenario] of SCENARIOS.entries()) {
    // Alternate which builder goes first, so neither always runs right after the other's work.
    for (const lane of i % 2 ? [...lanes].reverse() : lanes) {
      await prepare(lane, scenario);
      rows.push(await timedBuild(lane, scenario));
    }
  }

  // The wheelhouse alone: an empty cache (miss: every wheel built), then a fresh dir restored from it (hit).
  const bk = lanes[1];
  const whCache = new LocalWheelhouseCache(path.join(bk.cacheDir, 'wh-only'));
  const whCtx = bk.ctx('x');
  const wh: { scenario: string; ms: number; built: number; cache: string }[] = [];
  for (const scenario of ['wheelhouse miss', 'wheelhouse hit']) {
    await removeDir(path.join(bk.appDir, 'wheelhouse'));
    const t = Date.now();
    const r = await buildWheelhouse({ config: whCtx.config, docker, ledger: whCtx.ledger, cache: whCache });
    wh.push({ scenario, ms: Date.now() - t, built: r.built.length, cache: r.cache });
  }

  const row = (b: BuilderKind, s: Scenario) => rows.find((r) => r.builder === b && r.scenario === s)!;
  const ratio = (b: BuilderKind, s: Scenario) => +(row(b, s).totalMs / row(b, 'cold build').totalMs).toFixed(3);
  const ratios = Object.fromEntries(lanes.map((l) => [l.builder, {
    codeOnly: ratio(l.builder, 'code-only rebuild'),
    emptyEngine: ratio(l.builder, 'empty-engine rebuild (registry cache)'),
  }])) as Record<BuilderKind, { codeOnly: number; emptyEngine: number }>;
  const results = {
    when: new Date().toISOString(),
    engine: (await docker.version()).Version,
    images: Object.fromEntries(lanes.map((l) => [l.builder, l.image])),
    base,
    order: rows.map((r) => `${r.scenario}: ${r.builder}`),
    builds: rows.map((r) => ({ ...r, ratioToCold: ratio(r.builder, r.scenario) })),
    ratios,
    wheelhouse: wh.map((w) => ({ ...w, ratioToMiss: +(w.ms / wh[0].ms).toFixed(3) })),
    notes: pruneNotes,
    targets: {
      buildkitCodeOnlyAtMost: TARGETS.codeOnly, buildkitCodeOnlyMet: ratios.buildkit.codeOnly <= TARGETS.codeOnly,
      buildkitEmptyEngineAtMost: TARGETS.emptyEngine, buildkitEmptyEngineMet: ratios.buildkit.emptyEngine <= TARGETS.emptyEngine,
      wheelhouseHitBuildsZero: wh[1].built === 0,
    },
  };

  const pad = (s: string | number, n: number) => String(s).padEnd(n);
  const sec = (ms: number, d = 1) => `${(ms / 1000).toFixed(d)}s`;
  const out = (l: string) => process.stdout.write(l + '\n');
  const short = (n: string) => ({ wheelhouse: 'wh', 'layer cache lookup': 'lookup', 'layer cache pull': 'pull', 'image build': 'build', 'cache image push': 'push' } as Record<string, string>)[n] ?? n;
  out(`\nbuild benchmark (engine ${results.engine}, run ${rid}, base ${base})\n`);
  out(`${pad('builder', 10)}${pad('scenario', 40)}${pad('total', 9)}${pad('x cold', 8)}${pad('cached/run', 12)}${pad('wheelhouse', 12)}phases`);
  for (const r of results.builds) {
    out(`${pad(r.builder, 10)}${pad(r.scenario, 40)}${pad(sec(r.totalMs), 9)}${pad(r.ratioToCold, 8)}${pad(`${r.cachedSteps}/${r.ranSteps}`, 12)}${pad(`${r.wheelhouse} (${r.wheelsBuilt})`, 12)}${r.phases.map((p) => `${short(p.name)} ${sec(p.ms)}`).join(', ')}`);
  }
  out('');
  out(`${pad('ratio to cold (same builder)', 40)}${pad('classic', 10)}${pad('BuildKit', 10)}target (BuildKit)`);
  const met = (v: number, t: number) => `<= ${t.toFixed(2)}: ${v <= t ? 'met' : 'NOT met'}`;
  out(`${pad('code-only rebuild', 40)}${pad(ratios.classic.codeOnly.toFixed(2), 10)}${pad(ratios.buildkit.codeOnly.toFixed(2), 10)}${met(ratios.buildkit.codeOnly, TARGETS.codeOnly)}`);
  out(`${pad('empty-engine rebuild (registry cache)', 40)}${pad(ratios.classic.emptyEngine.toFixed(2), 10)}${pad(ratios.buildkit.emptyEngine.toFixed(2), 10)}${met(ratios.buildkit.emptyEngine, TARGETS.emptyEngine)}`);
  out('');
  out(`${pad('wheelhouse alone', 40)}${pad('time', 10)}${pad('x miss', 9)}wheels built`);
  for (const w of results.wheelhouse) out(`${pad(`${w.scenario} (${w.cache})`, 40)}${pad(sec(w.ms, 2), 10)}${pad(w.ratioToMiss, 9)}${w.built}`);
  out(`\nwheelhouse hit builds 0 wheels: ${results.targets.wheelhouseHitBuildsZero ? 'met' : 'NOT met'}`);
  for (const n of pruneNotes) out(n);
  const file = path.join(REPO_ROOT, 'bench', 'results', 'build.json');
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, JSON.stringify(results, null, 2) + '\n');
  // Every build's log (step lines with their times), for a look at what a rebuild spends its time on.
  writeFileSync(file.replace(/\.json$/, '.log'), quiet.join('\n') + '\n');
  out(`written to ${path.relative(process.cwd(), file)} (build logs: ${path.relative(process.cwd(), file.replace(/\.json$/, '.log'))})`);
} finally {
  for (const l of lanes) {
    await removeRepoImages(docker, l.image);
    await removeDir(l.appDir);
    await removeDir(l.cacheDir);
  }
  if (bkBefore) await pruneRecordsSince(docker, bkBefore).catch(() => undefined);
  await docker.getImage(base).remove().catch(() => undefined);
}
