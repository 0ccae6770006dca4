import { CATALOG, KNOWN_SERVICES, resolveService, serviceAppEnv } from '../../src/cleanroom/catalog.js';
import { UserError } from '../../src/errors.js';

const ep = (host: string, port: number) => ({ host, port });

describe('service catalog', () => {
  test('knows the services DESIGN §1 names, each with an official default image', () => {
    expect([...KNOWN_SERVICES].sort()).toEqual(['elasticsearch', 'memcached', 'opensearch', 'postgis', 'postgres', 'rabbitmq', 'redis', 'smtp']);
    const images = Object.fromEntries(Object.entries(CATALOG).map(([k, v]) => [k, v.image]));
    expect(images).toMatchObject({
      postgres: 'postgres:16',
      postgis: 'postgis/postgis:16-3.4',
      redis: 'redis:7',
      memcached: 'memcached:1.6',
      rabbitmq: 'rabbitmq:3',
      smtp: 'axllent/mailpit',
    });
    expect(images.elasticsearch).toMatch(/^elasticsearch:8\./);
    expect(images.opensearch).toMatch(/^opensearchproject\/opensearch:2/);
  });

  test.each([
    ['postgres', 'pg-ab12', 5432, {
      DB_DEFAULT_URL: 'postgres://app:secret@pg-ab12:5432/app',
      DATABASE_URL: 'postgres://app:secret@pg-ab12:5432/app',
    }],
    ['postgis', 'postgis-ab12', 5432, {
      DB_DEFAULT_URL: 'postgis://app:secret@postgis-ab12:5432/app',
      DATABASE_URL: 'postgis://app:secret@postgis-ab12:5432/app',
    }],
    ['redis', 'redis-ab12', 6379, { REDIS_HOSTS: 'redis-ab12:6379', REDIS_DB_INDEX: '0', REDIS_URL: 'redis://redis-ab12:6379/0' }],
    ['memcached', 'mc-ab12', 11211, { MEMCACHE_HOSTS: 'mc-ab12:11211', MEMCACHE_PREFIX: 'shop' }],
    ['elasticsearch', 'es-ab12', 9200, { ELASTICSEARCH_URLS: 'http://es-ab12:9200', ELASTICSEARCH_INDEX_NAME: 'shop' }],
    ['opensearch', 'os-ab12', 9200, { ELASTICSEARCH_URLS: 'http://os-ab12:9200', ELASTICSEARCH_INDEX_NAME: 'shop' }],
    ['rabbitmq', 'mq-ab12', 5672, { AMQP_URLS: 'amqp://guest:guest@mq-ab12:5672//', BROKER_URL: 'amqp://guest:guest@mq-ab12:5672//' }],
    ['smtp', 'mail-ab12', 1025, { EMAIL_HOST: 'mail-ab12', EMAIL_PORT: '1025' }],
  ])('%s gives the app %o-style variables', (name, host, port, expected) => {
    const svc = resolveService({ name, env: {} });
    expect(svc.port).toBe(port);
    expect(serviceAppEnv(svc, ep(host, port), 'shop')).toEqual(expected);
  });

  test.each([
    ['postgres', { kind: 'postgres', port: 5432, user: 'app', database: 'app' }],
    ['redis', { kind: 'redis', port: 6379 }],
    ['memcached', { kind: 'memcached', port: 11211 }],
    ['elasticsearch', { kind: 'http', port: 9200, path: '/_cluster/health' }],
    ['opensearch', { kind: 'http', port: 9200, path: '/_cluster/health' }],
    ['rabbitmq', { kind: 'amqp', port: 5672 }],
    ['smtp', { kind: 'smtp', port: 1025 }],
  ])('%s is probed at protocol level', (name, probe) => {
    expect(resolveService({ name, env: {} }).probe).toEqual(probe);
  });

  test('search engines run single-node without security', () => {
    expect(resolveService({ name: 'elasticsearch', env: {} }).containerEnv).toMatchObject({ 'discovery.type': 'single-node', 'xpack.security.enabled': 'false' });
    expect(resolveService({ name: 'opensearch', env: {} }).containerEnv).toMatchObject({ 'discovery.type': 'single-node', DISABLE_SECURITY_PLUGIN: 'true' });
  });

  test('config overrides image, env and credentials; credentials reach the container and the URL', () => {
    const svc = resolveService({
      name: 'postgres',
      image: 'pallet-lab/postgres:15',
      env: { PGDATA: '/tmp/pg' },
      credentials: { user: 'shop', password: 's3cr:t/pw', database: 'shopdb' },
    });
    expect(svc.image).toBe('pallet-lab/postgres:15');
    expect(svc.containerEnv).toEqual({ POSTGRES_USER: 'shop', POSTGRES_PASSWORD: 's3cr:t/pw', POSTGRES_DB: 'shopdb', PGDATA: '/tmp/pg' });
    expect(serviceAppEnv(svc, ep('pg-1', 5432), 'x').DATABASE_URL).toBe('postgres://shop:s3cr%3At%2Fpw@pg-1:5432/shopdb');
    expect(svc.secrets).toEqual(['s3cr:t/pw']);
    expect(svc.probe).toEqual({ kind: 'postgres', port: 5432, user: 'shop', database: 'shopdb' });
  });

  test('custom services: image required, probes from config, NAME_HOST/NAME_PORT for the app', () => {
    const tcp = resolveService({ name: 'minio', image: 'minio/minio', env: { A: '1' }, port: 9000 });
    expect(tcp.probe).toEqual({ kind: 'tcp', port: 9000 });
    expect(tcp.containerEnv).toEqual({ A: '1' });
    expect(serviceAppEnv(tcp, ep('minio-1', 9000), 'x')).toEqual({ MINIO_HOST: 'minio-1', MINIO_PORT: '9000' });
    expect(resolveService({ name: 'api', image: 'x', env: {}, port: 80, ready: { http: { port: 80, path: 'ping' } } }).probe)
      .toEqual({ kind: 'http', port: 80, path: '/ping' });
    expect(resolveService({ name: 'q', image: 'x', env: {}, ready: { command: ['true'] } }).probe).toEqual({ kind: 'command', command: ['true'] });
    expect(resolveService({ name: 'side-car', image: 'x', env: {} }).probe).toEqual({ kind: 'none' });
    expect(resolveService({ name: 'q', image: 'x', env: {}, ready_timeout: 3 }).readyTimeoutS).toBe(3);
    expect(resolveService({ name: 'q', image: 'x', env: {} }).readyTimeoutS).toBe(120);
  });

  test('an unknown service without an image names the known ones', () => {
    let err: unknown;
    try { resolveService({ name: 'mongo', env: {} }, 2); } catch (e) { err = e; }
    expect(err).toBeInstanceOf(UserError);
    expect((err as Error).message).toContain("test.services[2]: unknown service 'mongo'");
    expect((err as Error).message).toContain('postgres, postgis, redis, memcached, elasticsearch, opensearch, rabbitmq, smtp');
    expect((err as UserError).hint).toContain('image');
  });

  test.each([
    [{ name: 'Bad_Name', env: {} }, /not a valid service name/],
    [{ name: 'x', image: 'i', env: {}, port: 70000 }, /test.services\[0\].port: '70000' is not a port/],
    [{ name: 'x', image: 'i', env: {}, ready: { tcp: 0 } }, /ready.tcp/],
    [{ name: 'x', image: 'i', env: {}, ready: {} as never }, /ready: expected/],
    [{ name: 'x', image: 'i', env: {}, ready_timeout: -1 }, /ready_timeout/],
  ])('rejects %o', (spec, msg) => {
    expect(() => resolveService(spec)).toThrow(msg);
  });
});
