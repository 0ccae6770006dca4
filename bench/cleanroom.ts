// Cleanroom start-up benchmark: time from the start of a run to the first line of test output,
// with each lab service alone and with postgres + redis + memcached together. Services start in
// parallel, so three together should cost about as much as the slowest alone (target <= 1.2x).
//   npx tsx bench/cleanroom.ts [--rounds N]        results: bench/results/cleanroom.json
import '../src/util/esm-shim.js';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runCleanroom } from '../src/cleanroom/run.js';
import { CleanupLedger } from '../src/util/cleanup.js';
import { CliReporter, setReporter } from '../src/util/reporter.js';
import { REPO_ROOT } from '../test/helpers/lab.js';
import { labMissing, labServiceImages, leftovers, testConfig } from '../test/helpers/cleanroom-lab.js';
import '../src/cleanup-handlers.js';

const TARGET_RATIO = 1.2;
const rounds = Number(process.argv[process.argv.indexOf('--rounds') + 1]) || 3;
const images = labServiceImages();
const scenarios: { name: string; services: (keyof typeof images)[] }[] = [
  { name: 'postgres', services: ['postgres'] },
  { name: 'redis', services: ['redis'] },
  { name: 'memcached', services: ['memcached'] },
  { name: 'postgres+redis+memcached', services: ['postgres', 'redis', 'memcached'] },
];

async function timeToFirstLine(services: (keyof typeof images)[]): Promise<{ ms: number; runId: string }> {
  const config = testConfig('bench-cleanroom', { services: services.map((s) => ({ name: s, image: images[s], env: {} })) });
  const t0 = performance.now();
  let first: number | undefined;
  const result = await runCleanroom(config, new CleanupLedger(), new AbortController().signal, {
    image: images.postgres,
    command: ['sh', '-c', 'echo first line of test output'],
    workdir: os.tmpdir(),
    shards: 1,
    onLine: () => { first ??= performance.now(); },
  });
  if (!result.passed || first === undefined) throw new Error(`bench run ${result.runId} failed (exit ${result.exitCode})`);
  const left = await leftovers([`pallet.run=${result.runId}`]);
  if (left.containers.length || left.networks.length) throw new Error(`run ${result.runId} left ${JSON.stringify(left)}`);
  return { ms: first - t0, runId: result.runId };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main(): Promise<number> {
  const missing = await labMissing(Object.values(images));
  if (missing) {
    process.stderr.write(`bench/cleanroom: ${missing}\n`);
    return 2;
  }
  setReporter(new CliReporter(() => undefined, (l) => process.stderr.write(l + '\n')));
  // One warm-up run so the first measured scenario does not pay for cold caches alone.
  await timeToFirstLine(['redis']);
  const samples: Record<string, number[]> = Object.fromEntries(scenarios.map((s) => [s.name, []]));
  // Interleaved rounds: load on the shared machine affects every scenario alike.
  for (let r = 0; r < rounds; r++) {
    for (const s of scenarios) samples[s.name].push((await timeToFirstLine(s.services)).ms);
  }
  const rows = scenarios.map((s) => ({ scenario: s.name, services: s.services.length, median_ms: Math.round(median(samples[s.name])), samples_ms: samples[s.name].map(Math.round) }));
  const slowestAlone = Math.max(...rows.filter((r) => r.services === 1).map((r) => r.median_ms));
  const together = rows.find((r) => r.services === 3)!.median_ms;
  const ratio = Number((together / slowestAlone).toFixed(2));

  const w = [26, 9, 11, 30];
  const line = (c: (string | number)[]) => c.map((x, i) => String(x).padEnd(w[i])).join(' ').trimEnd();
  process.stdout.write([
    `cleanroom: time from run start to first test output line (median of ${rounds} rounds, lab images)`,
    line(['scenario', 'services', 'median ms', 'samples ms']),
    line(w.map((n) => '-'.repeat(n))),
    ...rows.map((r) => line([r.scenario, r.services, r.median_ms, r.samples_ms.join(' ')])),
    '',
    `3 services / slowest alone = ${together} / ${slowestAlone} = ${ratio} (target <= ${TARGET_RATIO}: ${ratio <= TARGET_RATIO ? 'met' : 'NOT met'})`,
  ].join('\n') + '\n');

  const out = path.join(REPO_ROOT, 'bench', 'results', 'cleanroom.json');
  mkdirSync(path.dirname(out), { recursive: true });
  writeFileSync(out, JSON.stringify({
    benchmark: 'cleanroom-time-to-first-output',
    date: new Date().toISOString(),
    machine: { cpus: os.cpus().length, platform: `${os.platform()} ${os.release()}` },
    rounds,
    images,
    scenarios: rows,
    ratio_three_over_slowest_alone: ratio,
    target: TARGET_RATIO,
    met: ratio <= TARGET_RATIO,
  }, null, 2) + '\n');
  process.stdout.write(`results: ${path.relative(REPO_ROOT, out)}\n`);
  return 0;
}

main().then((code) => process.exit(code), (e) => {
  process.stderr.write(`bench/cleanroom failed: ${(e as Error).stack ?? e}\n`);
  process.exit(1);
});
