// The deploy benchmark's pure parts: phase times read from a deploy's log, the lower bound the
// proxy mode is held to, the rate-limited registry's nginx config, and the static part's order,
// log reading, medians and table.
import { lowerBoundMs, phaseTimes } from '../../bench/lib/deploy-bound.js';
import { limitedRegistryConfig } from '../../bench/lib/limited-registry.js';
import { armOrder, median, roundOf, staticPlaced, staticTable, summarize, type ArmRun } from '../../bench/lib/static-cost.js';

describe('phase times from a deploy log', () => {
  test('each top-level group lasts until the next; the last until the deploy returned; nested lines and unknown groups are ignored', () => {
    const log: [string, number][] = [
      ['▸ Preflight: 3 host(s)', 0],
      ['  h1: locked', 300],
      ['▸ Pulling 127.0.0.1:5000/app:v2', 1000],
      ['  ▸ Rolling restart (nested, not a phase)', 1500],
      ['▸ Proxy on every web host', 4000],
      ['▸ Tasks on h1', 4500],
      ['▸ Rolling restart', 7000],
      ['  web: starting the new version beside the old one on h1', 7100],
      ['▸ Something new', 25_000],
      ['▸ Finishing', 28_000],
    ];
    expect(phaseTimes(log.map((l) => l[0]), log.map((l) => l[1]), 29_000)).toEqual({
      preflight: 1000, pull: 3000, proxy: 500, tasks: 2500, rolling: 21_000, finish: 1000,
    });
  });

  test('a published-port deploy has no proxy phase', () => {
    const p = phaseTimes(['▸ Preflight: 1 host(s)', '▸ Pulling x', '▸ Tasks on h1', '▸ Rolling restart', '▸ Finishing'], [0, 10, 20, 30, 40], 50);
    expect(Object.keys(p)).toEqual(['preflight', 'pull', 'tasks', 'rolling', 'finish']);
    expect(p.rolling).toBe(10);
  });
});

describe('lower bound of a deploy', () => {
  test.each([
    ['one host', { pullMaxMs: 800, tasksMs: 2000, batches: 1, referenceMs: 7000 }, 9800],
    ['three hosts, batch 1', { pullMaxMs: 1200, tasksMs: 2000, batches: 3, referenceMs: 7000 }, 24_200],
    ['no tasks', { pullMaxMs: 0, tasksMs: 0, batches: 2, referenceMs: 6500 }, 13_000],
  ])('%s', (_n, p, want) => {
    expect(lowerBoundMs(p)).toBe(want);
  });
});

describe('rate-limited registry nginx config', () => {
  const conf = limitedRegistryConfig('172.23.0.1:41000', '172.23.0.2:5000', '8m', '/tmp/x');
  test('listens where asked, proxies to the registry with the limit per connection, no body size cap', () => {
    expect(conf).toContain('listen 172.23.0.1:41000;');
    expect(conf).toContain('proxy_pass http://172.23.0.2:5000;');
    expect(conf).toMatch(/limit_rate 8m;/);
    expect(conf).toContain('client_max_body_size 0;');
    expect(conf).toContain('proxy_set_header Host $http_host;');
  });
});

describe('the static part', () => {
  test('the arms alternate: static first in rounds 1, 3, ..., last in rounds 2, 4, ...', () => {
    expect([0, 1, 2, 3].map(armOrder)).toEqual([['static', 'nostatic'], ['nostatic', 'static'], ['static', 'nostatic'], ['nostatic', 'static']]);
  });

  test('median of odd and even counts, unsorted input left alone', () => {
    const xs = [3, 1, 2];
    expect(median(xs)).toBe(2);
    expect(xs).toEqual([3, 1, 2]);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([])).toBeNaN();
  });

  test('placement: from the line before the first host\'s static-files line to the last one, files and size of the first', () => {
    const log: [string, number][] = [
      ['▸ Pulling r/app:t3; the proxy and the static files on every web host', 1000],
      ['  [1/3] h1: pulled r/app:t3 in 0.4 s', 1400],
      ['  [3/3] h3: pulled r/app:t3 in 0.6 s', 1600],
      ['  h2: proxy ready', 1700],
      ['  h1: static files of t3: 12 files (211 KiB) under /static/, beside those of t2', 2100],
      ['  h3: static files of t3: 12 files (211 KiB) under /static/, beside those of t2', 2300],
      ['  h2: static files of t3: 12 files (211 KiB) under /static/, beside those of t2', 2500],
      ['▸ Tasks on h1', 2600],
    ];
    expect(staticPlaced(log.map((l) => l[0]), log.map((l) => l[1]))).toEqual({ hosts: 3, files: 12, kib: 211, ms: 800 });
    expect(staticPlaced(['▸ Pulling x', '  [1/1] h1: pulled x in 0.1 s'], [0, 100])).toEqual({ hosts: 0, files: 0, kib: 0, ms: 0 });
  });

  const run = (arm: 'static' | 'nostatic', wallMs: number, pullPhaseMs: number, position: number, placedMs = 0, finish = 300): ArmRun => ({
    arm, app: arm, position, wallMs, pullMaxMs: 500, pullPhaseMs, placed: { hosts: 3, files: 1, kib: 1, ms: placedMs }, phases: { pull: pullPhaseMs, finish },
  });

  test('ratios per round are with / without; the summary takes the median of each', () => {
    const rounds = [
      roundOf(0, 1.5, [run('static', 11_000, 2000, 0, 400, 800), run('nostatic', 10_000, 1600, 1)]),
      roundOf(1, 2.0, [run('nostatic', 10_000, 1500, 0), run('static', 10_500, 1800, 1, 300, 700)]),
      roundOf(2, 2.5, [run('static', 12_000, 2100, 0, 500, 900), run('nostatic', 10_000, 1400, 1)]),
    ];
    expect(rounds.map((r) => r.wallRatio)).toEqual([1.1, 1.05, 1.2]);
    // (pull phase + finish) with minus without: 2800 - 1900, 2500 - 1800, 3000 - 1700.
    expect(rounds.map((r) => r.stepsExtraMs)).toEqual([900, 700, 1300]);
    const m = summarize(rounds);
    expect(m.wallRatio).toBe(1.1);
    expect(m.wallMs).toEqual({ static: 11_000, nostatic: 10_000 });
    expect(m.pullPhaseRatio).toBeCloseTo(1.25);
    expect(m.placementMs).toBe(400);
    expect(m.finishMs).toEqual({ static: 800, nostatic: 300 });
    expect(m.stepsExtraMs).toBe(900);
    expect(m.stepsRatio).toBeCloseTo(1.09);
    const table = staticTable(rounds);
    expect(table).toHaveLength(5);
    expect(table[1]).toMatch(/^1 +static, without +1\.5 +11\.0s +10\.0s +1\.10 /);
    expect(table[1]).toMatch(/ \+0\.90s$/);
    expect(table[2]).toMatch(/^2 +without, static /);
    expect(table[4]).toMatch(/^med +11\.0s +10\.0s +1\.10 .* 0\.40s +0\.8s +0\.3s +\+0\.90s$/);
  });
});
