// The deploy benchmark's pure parts: phase times read from a deploy's log, the lower bound the
// proxy mode is held to, and the rate-limited registry's nginx config.
import { lowerBoundMs, phaseTimes } from '../../bench/lib/deploy-bound.js';
import { limitedRegistryConfig } from '../../bench/lib/limited-registry.js';

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
