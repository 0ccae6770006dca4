// Benchmark of the build stage on the lab (run: npx tsx bench/build.ts [--rounds N], default 3),
// the classic builder and BuildKit side by side in one run. Each round gives each builder its own
// copy of the example app, its own image repository (so its own registry cache images) and its own
// wheelhouse cache, and measures:
//   cold build            new app copy, empty wheelhouse cache, no layer cache of any kind
//   code-only rebuild     one .py file changed
//   empty-engine rebuild  the builder's images, its BuildKit cache records and the wheelhouse dir
//                         removed: layers come from the registry cache images, wheels from the
//                         wheelhouse cache
// The builders take turns within each scenario (classic first, then BuildKit first, ...), so that
// load from other work on the machine falls on both. Ratios are taken within a round (each
// builder's rebuild over its own cold build); the summary is the median over the rounds, with
// every round's ratio shown. Then the wheelhouse alone: miss, hit.
// BuildKit builds examples/django-app/Dockerfile; the classic builder cannot (RUN --mount,
// COPY --chmod), so it builds bench/lib/Dockerfile.classic, the same steps written without them.
// Cold means cold without pruning other work's cache: see bench/lib/build-cache.ts.
// Results go to bench/results/build.json, every build's log to bench/results/build.log.
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
const BUILDERS: BuilderKind[] = ['classic', 'buildkit'];

const roundsArg = process.argv.indexOf('--rounds');
const ROUNDS = roundsArg > 0 ? Math.max(1, Number(process.argv[roundsArg + 1]) || 1) : 3;
const lab = readLab();
const docker = new Docker();
const labAuth = { username: lab.registry.username, password: lab.registry.password, serveraddress: lab.registry.address };
const quiet: string[] = [];
setReporter(new CliReporter((l) => quiet.push(l), (l) => quiet.push(l)));

/** One builder's side of a round. */
interface Lane {
  builder: BuilderKind;
  image: string;
  appDir: string;
  cacheDir: string;
  ctx(tag: string): RunContext;
}

interface Row {
  round: number; builder: BuilderKind; scenario: Scenario; totalMs: number; ratioToCold: number;
  phases: { name: string; ms: number }[]; cachedSteps: number; ranSteps: number;
  wheelsBuilt: number; wheelhouse: string;
}

async function makeLane(builder: BuilderKind, base: string, rid: string): Promise<Lane> {
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
const pruneNotes: string[] = [];

async function timedBuild(round: number, lane: Lane, scenario: Scenario): Promise<Omit<Row, 'ratioToCold'>> {
  quiet.push(`===== round ${round}, ${lane.builder}: ${scenario} =====`);
  const t = Date.now();
  const r = await runBuildStage(lane.ctx(tagOf(scenario)));
  const totalMs = Date.now() - t;
  if (r.image.builder !== lane.builder) throw new Error(`${lane.builder} lane was built by ${r.image.builder} (${r.image.builderReason})`);
  return {
    round, builder: lane.builder, scenario, totalMs, phases: r.phases, cachedSteps: r.image.cachedSteps, ranSteps: r.image.ranSteps,
    wheelsBuilt: r.wheelhouse?.built.length ?? 0, wheelhouse: r.wheelhouse?.cache ?? '-',
  };
}

/** One round: its own base image and lanes, every scenario for both builders; cleans up after itself. */
async function runRound(round: number): Promise<Row[]> {
  const rid = runId();
  // The base image lives in the registry, as on a runner that pulled it: no build's push pays
  // for uploading the base layers (the first push to a fresh registry would, for one builder only).
  const base = await runBaseImage(docker, lab.images.django, `${lab.registry.address}/bench/base`, rid);
  const lanes = [await makeLane('classic', base, rid), await makeLane('buildkit', base, rid)];
  let bkBefore: Set<string> | undefined;
  try {
    await pushTag({ docker, repo: base.slice(0, base.lastIndexOf(':')), tag: rid, auth: labAuth, registry: lab.registry.address, quiet: true });
    const rows: Omit<Row, 'ratioToCold'>[] = [];
    for (const [i, scenario] of SCENARIOS.entries()) {
      // Alternate which builder goes first, so neither always runs right after the other's work.
      for (const lane of (i + round) % 2 ? [...lanes].reverse() : lanes) {
        if (scenario === 'cold build' && lane.builder === 'buildkit') bkBefore = new Set((await buildCacheRecords(docker)).map((r) => r.ID));
        if (scenario === 'code-only rebuild') appendFileSync(path.join(lane.appDir, 'notes', 'views.py'), `\n# bench change ${rid}\n`);
        if (scenario === 'empty-engine rebuild (registry cache)') {
          await removeRepoImages(docker, lane.image);
          await removeDir(path.join(lane.appDir, 'wheelhouse'));
          if (lane.builder === 'buildkit') {
            const p = await pruneRecordsSince(docker, bkBefore!);
            pruneNotes.push(`round ${round}: ${p.pruned} BuildKit cache records of the round pruned before the empty-engine rebuild${p.left ? ` (${p.left} in use, kept)` : ''}`);
          }
        }
        rows.push(await timedBuild(round, lane, scenario));
      }
    }
    const cold = (b: BuilderKind) => rows.find((r) => r.builder === b && r.scenario === 'cold build')!.totalMs;
    return rows.map((r) => ({ ...r, ratioToCold: +(r.totalMs / cold(r.builder)).toFixed(3) }));
  } finally {
    for (const l of lanes) {
      await removeRepoImages(docker, l.image);
      await removeDir(l.appDir);
      await removeDir(l.cacheDir);
    }
    if (bkBefore) await pruneRecordsSince(docker, bkBefore).catch(() => undefined);
    await docker.getImage(base).remove().catch(() => undefined);
  }
}

/** The wheelhouse alone: an empty cache (miss: every wheel built), then a fresh dir restored from it (hit). */
async function wheelhouseMissHit() {
  const lane = await makeLane('buildkit', lab.images.django, runId());
  try {
    const whCache = new LocalWheelhouseCache(path.join(lane.cacheDir, 'wh-only'));
    const c = lane.ctx('x');
    const wh: { scenario: string; ms: number; built: number; cache: string }[] = [];
    for (const scenario of ['wheelhouse miss', 'wheelhouse hit']) {
      await removeDir(path.join(lane.appDir, 'wheelhouse'));
      const t = Date.now();
      const r = await buildWheelhouse({ config: c.config, docker, ledger: c.ledger, cache: whCache });
      wh.push({ scenario, ms: Date.now() - t, built: r.built.length, cache: r.cache });
    }
    return wh.map((w) => ({ ...w, ratioToMiss: +(w.ms / wh[0].ms).toFixed(3) }));
  } finally {
    await removeDir(lane.appDir);
    await removeDir(lane.cacheDir);
  }
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

const rows: Row[] = [];
for (let round = 1; round <= ROUNDS; round++) rows.push(...await runRound(round));
const wheelhouse = await wheelhouseMissHit();

const of = (b: BuilderKind, s: Scenario) => rows.filter((r) => r.builder === b && r.scenario === s);
const summary = BUILDERS.flatMap((b) => SCENARIOS.map((s) => ({
  builder: b, scenario: s,
  medianMs: median(of(b, s).map((r) => r.totalMs)),
  medianRatioToCold: +median(of(b, s).map((r) => r.ratioToCold)).toFixed(3),
  ratiosToCold: of(b, s).map((r) => r.ratioToCold),
  cachedRun: [...new Set(of(b, s).map((r) => `${r.cachedSteps}/${r.ranSteps}`))].join(', '),
})));
const ratio = (b: BuilderKind, s: Scenario) => summary.find((x) => x.builder === b && x.scenario === s)!.medianRatioToCold;
const ratios = Object.fromEntries(BUILDERS.map((b) => [b, {
  codeOnly: ratio(b, 'code-only rebuild'), emptyEngine: ratio(b, 'empty-engine rebuild (registry cache)'),
}])) as Record<BuilderKind, { codeOnly: number; emptyEngine: number }>;
const results = {
  when: new Date().toISOString(),
  engine: (await docker.version()).Version,
  rounds: ROUNDS,
  summary,
  ratios,
  builds: rows,
  wheelhouse,
  notes: pruneNotes,
  targets: {
    buildkitCodeOnlyAtMost: TARGETS.codeOnly, buildkitCodeOnlyMet: ratios.buildkit.codeOnly <= TARGETS.codeOnly,
    buildkitEmptyEngineAtMost: TARGETS.emptyEngine, buildkitEmptyEngineMet: ratios.buildkit.emptyEngine <= TARGETS.emptyEngine,
    wheelhouseHitBuildsZero: wheelhouse[1].built === 0,
  },
};

const pad = (s: string | number, n: number) => String(s).padEnd(n);
const sec = (ms: number, d = 1) => `${(ms / 1000).toFixed(d)}s`;
const out = (l: string) => process.stdout.write(l + '\n');
const short: Record<string, string> = { wheelhouse: 'wh', 'layer cache lookup': 'lookup', 'layer cache pull': 'pull', 'image build': 'build', 'cache image push': 'push' };
out(`\nbuild benchmark (engine ${results.engine}, ${ROUNDS} round${ROUNDS > 1 ? 's' : ''})\n`);
out(`${pad('round', 7)}${pad('builder', 10)}${pad('scenario', 40)}${pad('total', 9)}${pad('x cold', 8)}${pad('cached/run', 12)}${pad('wheelhouse', 12)}phases`);
for (const r of rows) {
  out(`${pad(r.round, 7)}${pad(r.builder, 10)}${pad(r.scenario, 40)}${pad(sec(r.totalMs), 9)}${pad(r.ratioToCold, 8)}${pad(`${r.cachedSteps}/${r.ranSteps}`, 12)}${pad(`${r.wheelhouse} (${r.wheelsBuilt})`, 12)}${r.phases.map((p) => `${short[p.name] ?? p.name} ${sec(p.ms)}`).join(', ')}`);
}
out('');
out(`${pad('median (rounds)', 40)}${pad('classic', 26)}${pad('BuildKit', 26)}target (BuildKit)`);
const cell = (b: BuilderKind, s: Scenario) => {
  const x = summary.find((y) => y.builder === b && y.scenario === s)!;
  return s === 'cold build' ? sec(x.medianMs) : `${x.medianRatioToCold.toFixed(2)} (${x.ratiosToCold.map((v) => v.toFixed(2)).join(' ')})`;
};
const met = (v: number, t: number) => `<= ${t.toFixed(2)}: ${v <= t ? 'met' : 'NOT met'}`;
out(`${pad('cold build (time)', 40)}${pad(cell('classic', 'cold build'), 26)}${pad(cell('buildkit', 'cold build'), 26)}`);
out(`${pad('code-only rebuild / cold', 40)}${pad(cell('classic', 'code-only rebuild'), 26)}${pad(cell('buildkit', 'code-only rebuild'), 26)}${met(ratios.buildkit.codeOnly, TARGETS.codeOnly)}`);
out(`${pad('empty-engine rebuild / cold', 40)}${pad(cell('classic', 'empty-engine rebuild (registry cache)'), 26)}${pad(cell('buildkit', 'empty-engine rebuild (registry cache)'), 26)}${met(ratios.buildkit.emptyEngine, TARGETS.emptyEngine)}`);
out('');
out(`${pad('wheelhouse alone', 40)}${pad('time', 10)}${pad('x miss', 9)}wheels built`);
for (const w of wheelhouse) out(`${pad(`${w.scenario} (${w.cache})`, 40)}${pad(sec(w.ms, 2), 10)}${pad(w.ratioToMiss, 9)}${w.built}`);
out(`\nwheelhouse hit builds 0 wheels: ${results.targets.wheelhouseHitBuildsZero ? 'met' : 'NOT met'}`);
for (const n of pruneNotes) out(n);
const file = path.join(REPO_ROOT, 'bench', 'results', 'build.json');
mkdirSync(path.dirname(file), { recursive: true });
writeFileSync(file, JSON.stringify(results, null, 2) + '\n');
// Every build's log (step lines with their times), for a look at what a rebuild spends its time on.
writeFileSync(file.replace(/\.json$/, '.log'), quiet.join('\n') + '\n');
out(`written to ${path.relative(process.cwd(), file)} (build logs: ${path.relative(process.cwd(), file.replace(/\.json$/, '.log'))})`);
