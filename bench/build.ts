// Benchmark of the build stage on the lab (run: npx tsx bench/build.ts). One run measures:
//   cold build            new app copy, empty wheelhouse cache, no layer cache for its image
//   code-only rebuild     one .py file changed
//   empty-engine rebuild  every local image of the repo and the wheelhouse dir removed: layers
//                         come from the registry cache image, wheels from the wheelhouse cache
//   wheelhouse miss / hit the wheelhouse alone, from an empty cache and then from the cache
// and prints times and ratios; results go to bench/results/build.json.
import Docker from 'dockerode';
import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { readLab, REPO_ROOT } from '../test/helpers/lab.js';
import { copyExampleApp, fixtureContext, removeDir, removeRepoImages, runId } from './lib/build-fixture.js';
import { runBuildStage, type BuildReport } from '../src/builder/stage.js';
import { buildWheelhouse } from '../src/builder/wheelhouse.js';
import { LocalWheelhouseCache } from '../src/builder/wheelhouse-cache.js';
import { CliReporter, setReporter } from '../src/util/reporter.js';

const lab = readLab();
const docker = new Docker();
const rid = runId();
const image = `${lab.registry.address}/bench/build-${rid}`;
const quiet: string[] = [];
setReporter(new CliReporter((l) => quiet.push(l), (l) => quiet.push(l)));

const appDir = await copyExampleApp('pallet-bench-');
const cacheDir = await mkdtemp(path.join(os.tmpdir(), 'pallet-bench-cache-'));
const ctx = (tag: string) => fixtureContext({ dir: appDir, image, lab, tag, env: { PALLET_CACHE_DIR: cacheDir } });

interface Row { scenario: string; totalMs: number; imageBuildMs: number; cachedSteps: number; ranSteps: number; wheelsBuilt: number; wheelhouse: string }
const rows: Row[] = [];
async function timedBuild(scenario: string, tag: string): Promise<BuildReport> {
  const t = Date.now();
  const r = await runBuildStage(ctx(tag));
  rows.push({
    scenario, totalMs: Date.now() - t, imageBuildMs: r.phases.find((p) => p.name === 'image build')?.ms ?? 0,
    cachedSteps: r.image.cachedSteps, ranSteps: r.image.ranSteps, wheelsBuilt: r.wheelhouse?.built.length ?? 0, wheelhouse: r.wheelhouse?.cache ?? '-',
  });
  return r;
}

try {
  await timedBuild('cold build', 'build-1');
  appendFileSync(path.join(appDir, 'notes', 'views.py'), `\n# bench change ${rid}\n`);
  await timedBuild('code-only rebuild', 'build-2');
  await removeRepoImages(docker, image);
  await removeDir(path.join(appDir, 'wheelhouse'));
  await timedBuild('empty-engine rebuild (registry cache)', 'build-3');

  // The wheelhouse alone: an empty cache (miss: every wheel built), then a fresh dir restored from it (hit).
  const whCache = new LocalWheelhouseCache(path.join(cacheDir, 'wh-only'));
  const config = ctx('x').config;
  const wh: { scenario: string; ms: number; built: number; cache: string }[] = [];
  for (const scenario of ['wheelhouse miss', 'wheelhouse hit']) {
    await removeDir(path.join(appDir, 'wheelhouse'));
    const t = Date.now();
    const r = await buildWheelhouse({ config, docker, ledger: ctx('x').ledger, cache: whCache });
    wh.push({ scenario, ms: Date.now() - t, built: r.built.length, cache: r.cache });
  }

  const cold = rows[0].totalMs;
  const results = {
    when: new Date().toISOString(),
    engine: (await docker.version()).Version,
    image,
    builds: rows.map((r) => ({ ...r, ratioToCold: +(r.totalMs / cold).toFixed(3) })),
    wheelhouse: wh.map((w) => ({ ...w, ratioToMiss: +(w.ms / wh[0].ms).toFixed(3) })),
    targets: {
      codeOnlyAtMost10PercentOfCold: rows[1].totalMs <= 0.1 * cold,
      wheelhouseHitBuildsZero: wh[1].built === 0,
    },
  };
  const pad = (s: string | number, n: number) => String(s).padEnd(n);
  const out = (l: string) => process.stdout.write(l + '\n');
  out(`\nbuild benchmark (${results.engine}, ${image})\n`);
  out(`${pad('scenario', 40)}${pad('total', 10)}${pad('image', 10)}${pad('x cold', 9)}${pad('steps cached/run', 18)}${pad('wheelhouse', 11)}wheels built`);
  for (const r of results.builds) {
    out(`${pad(r.scenario, 40)}${pad((r.totalMs / 1000).toFixed(1) + 's', 10)}${pad((r.imageBuildMs / 1000).toFixed(1) + 's', 10)}${pad(r.ratioToCold, 9)}${pad(`${r.cachedSteps}/${r.ranSteps}`, 18)}${pad(r.wheelhouse, 11)}${r.wheelsBuilt}`);
  }
  out('');
  out(`${pad('wheelhouse alone', 40)}${pad('time', 10)}${pad('x miss', 9)}wheels built`);
  for (const w of results.wheelhouse) out(`${pad(`${w.scenario} (${w.cache})`, 40)}${pad((w.ms / 1000).toFixed(2) + 's', 10)}${pad(w.ratioToMiss, 9)}${w.built}`);
  out(`\ntargets: code-only <= 10% of cold: ${results.targets.codeOnlyAtMost10PercentOfCold ? 'met' : 'NOT met'}; wheelhouse hit builds 0 wheels: ${results.targets.wheelhouseHitBuildsZero ? 'met' : 'NOT met'}`);
  const file = path.join(REPO_ROOT, 'bench', 'results', 'build.json');
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, JSON.stringify(results, null, 2) + '\n');
  out(`written to ${path.relative(process.cwd(), file)}`);
} finally {
  await removeRepoImages(docker, image);
  await removeDir(appDir);
  await removeDir(cacheDir);
}
