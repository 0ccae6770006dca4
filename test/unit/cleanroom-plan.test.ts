import type { PalletConfig } from '../../src/config/types.js';
import { appEnvironment, networkEndpoint, newRunId, planShards, secretValues, testCommand, toEnvList } from '../../src/cleanroom/plan.js';
import { serviceContainerSpec } from '../../src/cleanroom/services.js';
import { describeExit, testContainerSpec } from '../../src/cleanroom/test-container.js';
import { serviceRows, shardRows } from '../../src/cleanroom/summary.js';

function config(test: Partial<PalletConfig['test']> = {}): PalletConfig {
  return {
    app: 'shop',
    image: 'reg/shop',
    build: { context: '/x', dockerfile: 'Dockerfile', args: {}, tags: [] },
    test: { command: ['test'], services: [], environment: {}, shards: 1, artifacts: [], timeout: 60, ...test },
    source: { file: '/x/pallet.yml', dir: '/x' },
  };
}

describe('shard plans', () => {
  const cfg = config({ services: [{ name: 'postgres', image: 'pallet-lab/postgres:15', env: {} }, { name: 'redis', env: {} }] });

  test('one shard: network pallet-<app>-<id>, labelled containers with a plain and a run-unique alias', () => {
    const [p] = planShards(cfg, { runId: 'ab12cd34', shards: 1 });
    expect(p.network).toEqual({
      name: 'pallet-shop-ab12cd34',
      labels: { 'pallet.run': 'ab12cd34', 'pallet.app': 'shop', 'pallet.shard': '0', 'pallet.role': 'network' },
    });
    expect(p.services.map((s) => [s.containerName, s.aliases, s.image])).toEqual([
      ['pallet-shop-ab12cd34-postgres', ['postgres', 'pg-ab12cd34'], 'pallet-lab/postgres:15'],
      ['pallet-shop-ab12cd34-redis', ['redis', 'redis-ab12cd34'], 'redis:7'],
    ]);
    expect(p.services[0].labels).toEqual({ 'pallet.run': 'ab12cd34', 'pallet.app': 'shop', 'pallet.shard': '0', 'pallet.role': 'service', 'pallet.service': 'postgres' });
    expect(networkEndpoint(p.services[0])).toEqual({ host: 'pg-ab12cd34', port: 5432 });
  });

  test('N shards: N isolated networks and container sets under one run label', () => {
    const plans = planShards(cfg, { runId: 'ab12cd34', shards: 3 });
    expect(plans.map((p) => [p.shardIndex, p.shardTotal, p.network.name])).toEqual([
      [0, 3, 'pallet-shop-ab12cd34-0'], [1, 3, 'pallet-shop-ab12cd34-1'], [2, 3, 'pallet-shop-ab12cd34-2'],
    ]);
    expect(new Set(plans.flatMap((p) => p.services.map((s) => s.containerName))).size).toBe(6);
    expect(new Set(plans.map((p) => p.labels['pallet.run']))).toEqual(new Set(['ab12cd34']));
  });

  test.each([0, -1, 1.5, 33])('shards=%p is refused', (n) => {
    expect(() => planShards(cfg, { runId: 'x', shards: n })).toThrow(/test.shards/);
  });

  test('a service listed twice is refused', () => {
    expect(() => planShards(config({ services: [{ name: 'redis', env: {} }, { name: 'redis', env: {} }] }), { runId: 'x', shards: 1 }))
      .toThrow(/'redis' is listed twice/);
  });

  test('publish mode binds a random port on 127.0.0.1 only', () => {
    const [p] = planShards(cfg, { runId: 'r1', shards: 1, publish: true });
    const spec = serviceContainerSpec(p.services[0], p.network.name);
    expect(spec.HostConfig?.PortBindings).toEqual({ '5432/tcp': [{ HostIp: '127.0.0.1', HostPort: '' }] });
    expect(spec.NetworkingConfig?.EndpointsConfig?.[p.network.name].Aliases).toEqual(['postgres', 'pg-r1']);
    const [q] = planShards(cfg, { runId: 'r1', shards: 1 });
    expect(serviceContainerSpec(q.services[0], q.network.name).HostConfig?.PortBindings).toBeUndefined();
  });

  test('run ids are short hex and differ', () => {
    const ids = new Set(Array.from({ length: 50 }, newRunId));
    expect(ids.size).toBe(50);
    for (const id of ids) expect(id).toMatch(/^[0-9a-f]{8}$/);
  });
});

describe('app environment', () => {
  const [p] = planShards(config({ services: [{ name: 'postgres', env: {} }, { name: 'memcached', env: {} }] }), { runId: 'r1', shards: 1 });
  const services = p.services.map((svc) => ({ svc, endpoint: networkEndpoint(svc) }));

  test('fixed variables, then services, then test.environment, then the shard', () => {
    const env = appEnvironment('shop', services, { SECRET_KEY: 'dummy', SITE_DOMAIN: 'example.test' }, { index: 1, total: 2 });
    expect(env).toEqual({
      ENVIRONMENT: 'test',
      SITE_DOMAIN: 'example.test',
      SITE_PROTOCOL: 'http',
      DB_DEFAULT_URL: 'postgres://app:secret@pg-r1:5432/app',
      DATABASE_URL: 'postgres://app:secret@pg-r1:5432/app',
      MEMCACHE_HOSTS: 'mc-r1:11211',
      MEMCACHE_PREFIX: 'shop',
      SECRET_KEY: 'dummy',
      SHARD_INDEX: '1',
      SHARD_TOTAL: '2',
    });
  });

  test('list variables from two services are joined with |', () => {
    const [q] = planShards(config({ services: [{ name: 'memcached', env: {} }] }), { runId: 'r2', shards: 1 });
    const env = appEnvironment('shop', [...services, { svc: q.services[0], endpoint: { host: 'mc-2', port: 11212 } }], {});
    expect(env.MEMCACHE_HOSTS).toBe('mc-r1:11211|mc-2:11212');
  });

  test('Docker Env list, test command, secrets worth masking', () => {
    expect(toEnvList({ A: '1', B: 'x=y' })).toEqual(['A=1', 'B=x=y']);
    expect(testCommand(['test'], ['--failfast', 'notes'])).toEqual(['test', '--failfast', 'notes']);
    expect(testCommand([], [])).toEqual(['test']);
    expect(secretValues(p.services, { SECRET_KEY: 'dummy', API_TOKEN: 'tok-123456', DEBUG: 'verylongvalue' })).toEqual(['tok-123456']);
  });
});

describe('test container and summary', () => {
  test('test container runs the image entrypoint with Cmd, env and test role label', () => {
    const spec = testContainerSpec({ image: 'reg/shop:build-7', name: 'n', cmd: ['test', '-v2'], env: { A: '1' }, labels: { 'pallet.run': 'r' }, network: 'net', timeoutS: 5 });
    expect(spec).toMatchObject({ Image: 'reg/shop:build-7', Cmd: ['test', '-v2'], Env: ['A=1'], Labels: { 'pallet.run': 'r', 'pallet.role': 'test' }, HostConfig: { NetworkMode: 'net' } });
    expect(spec.Entrypoint).toBeUndefined();
  });

  const ended = (exitCode: number, oomFlag: boolean, oomEvent: boolean, timedOut = false) => ({ exitCode, oomFlag, oomEvent, timedOut });
  test.each([
    ['flag only', ended(137, true, false), 'test container was killed: out of memory (exit 137)'],
    ['event only', ended(137, false, true), 'test container was killed: out of memory (exit 137)'],
    ['both', ended(137, true, true), 'test container was killed: out of memory (exit 137)'],
    ['event, a child killed', ended(1, false, true), 'test container ran out of memory: a process in it was killed (exit 1)'],
    ['neither, 137', ended(137, false, false), 'test container was killed (exit 137: SIGKILL)'],
    ['neither, 137, under a memory limit', { ...ended(137, false, false), memoryBytes: 48 * 1048576 }, 'test container was killed (exit 137: SIGKILL), most likely out of memory under its 48 MiB limit (the engine reported no OOM)'],
    ['neither, 1', ended(1, false, false), undefined],
    ['neither, 0', ended(0, false, false), undefined],
    ['timeout', ended(124, false, false, true), 'test container was stopped: it ran longer than test.timeout (30s)'],
    ['timeout with an OOM', ended(124, true, true, true), 'test container was stopped: it ran longer than test.timeout (30s)'],
  ])('describeExit: %s', (_case, o, text) => {
    expect(describeExit(o, 30)).toBe(text);
  });

  test('summary rows: each service once with its slowest readiness, one row per shard', () => {
    const result = {
      runId: 'r', passed: false, exitCode: 1,
      shards: [
        { shard: 0, services: [{ name: 'postgres', image: 'pg', readyMs: 1200 }], exitCode: 0, durationMs: 5000, passed: true, artifacts: [] },
        { shard: 1, services: [{ name: 'postgres', image: 'pg', readyMs: 2500 }], exitCode: 1, durationMs: 6000, passed: false, artifacts: [] },
      ],
    };
    expect(serviceRows(result)).toEqual([['postgres', 'pg', '2.5s']]);
    expect(shardRows(result)).toEqual([['1/2', 'postgres', '5.0s', 0, 'passed'], ['2/2', 'postgres', '6.0s', 1, 'FAILED']]);
  });
});
