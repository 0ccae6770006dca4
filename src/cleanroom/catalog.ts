// The services a cleanroom run knows by name: which image, which credentials, which port, how to
// tell it is ready, and which environment variables the app gets to find it (docs/contract.md: the
// original pallet names and the Django-ecosystem names, both). Pure data and functions.
import type { ReadyProbe, ServiceSpec } from '../config/types.js';
import { UserError } from '../errors.js';

export interface Credentials {
  user: string;
  password: string;
  database: string;
}

/** A readiness check, resolved to what the prober does (protocol-level, never a fixed sleep). */
export type ProbeSpec =
  | { kind: 'postgres'; port: number; user: string; database: string }
  | { kind: 'redis'; port: number }
  | { kind: 'memcached'; port: number }
  | { kind: 'http'; port: number; path: string }
  | { kind: 'amqp'; port: number }
  | { kind: 'smtp'; port: number }
  | { kind: 'tcp'; port: number }
  | { kind: 'command'; command: string[] }
  | { kind: 'none' };

/** Where the app reaches a service: an alias on the run network, or 127.0.0.1 and a published port. */
export interface Endpoint {
  host: string;
  port: number;
}

export interface EnvContext {
  app: string;
  creds: Credentials;
}

export interface CatalogEntry {
  image: string;
  port: number;
  /** Short name used in the run-unique network alias (`pg-<id>`). */
  aliasPrefix: string;
  credentials: Credentials;
  /** Environment of the service container itself (credentials, single-node mode, ...). */
  containerEnv(creds: Credentials): Record<string, string>;
  /** What the app is given to find the service. */
  appEnv(ep: Endpoint, ctx: EnvContext): Record<string, string>;
  probe(port: number, creds: Credentials): ProbeSpec;
  /**
   * The same readiness check as a command run inside the service's own container (`docker exec`),
   * for services started on a deploy host (review apps), where pallet has only a shell. Unset: the
   * service needs `ready: {command: [...]}` there.
   */
  hostProbe?(port: number, creds: Credentials): string[];
}

const NO_CREDS: Credentials = { user: '', password: '', database: '' };
const enc = encodeURIComponent;

function postgresLike(scheme: 'postgres' | 'postgis', image: string): CatalogEntry {
  return {
    image,
    port: 5432,
    aliasPrefix: scheme === 'postgres' ? 'pg' : 'postgis',
    credentials: { user: 'app', password: 'secret', database: 'app' },
    containerEnv: (c) => ({ POSTGRES_USER: c.user, POSTGRES_PASSWORD: c.password, POSTGRES_DB: c.database }),
    appEnv: (ep, { creds: c }) => {
      const url = `${scheme}://${enc(c.user)}:${enc(c.password)}@${ep.host}:${ep.port}/${enc(c.database)}`;
      return { DB_DEFAULT_URL: url, DATABASE_URL: url };
    },
    probe: (port, c) => ({ kind: 'postgres', port, user: c.user, database: c.database }),
    // Over TCP: the image's first-start initdb runs a server on the Unix socket only.
    hostProbe: (port, c) => ['pg_isready', '-q', '-h', '127.0.0.1', '-p', String(port), '-U', c.user, '-d', c.database],
  };
}

function searchEngine(image: string, env: Record<string, string>): CatalogEntry {
  return {
    image,
    port: 9200,
    aliasPrefix: image.startsWith('opensearch') ? 'os' : 'es',
    credentials: NO_CREDS,
    containerEnv: () => env,
    appEnv: (ep, { app }) => ({ ELASTICSEARCH_URLS: `http://${ep.host}:${ep.port}`, ELASTICSEARCH_INDEX_NAME: app }),
    probe: (port) => ({ kind: 'http', port, path: '/_cluster/health' }),
    hostProbe: (port) => ['curl', '-fsS', '-o', '/dev/null', `http://127.0.0.1:${port}/_cluster/health`],
  };
}

export const CATALOG: Readonly<Record<string, CatalogEntry>> = {
  postgres: postgresLike('postgres', 'postgres:16'),
  postgis: postgresLike('postgis', 'postgis/postgis:16-3.4'),
  redis: {
    image: 'redis:7',
    port: 6379,
    aliasPrefix: 'redis',
    credentials: NO_CREDS,
    containerEnv: () => ({}),
    appEnv: (ep) => ({
      REDIS_HOSTS: `${ep.host}:${ep.port}`,
      REDIS_DB_INDEX: '0',
      REDIS_URL: `redis://${ep.host}:${ep.port}/0`,
    }),
    probe: (port) => ({ kind: 'redis', port }),
    hostProbe: (port) => ['redis-cli', '-p', String(port), 'ping'],
  },
  memcached: {
    image: 'memcached:1.6',
    port: 11211,
    aliasPrefix: 'mc',
    credentials: NO_CREDS,
    containerEnv: () => ({}),
    appEnv: (ep, { app }) => ({ MEMCACHE_HOSTS: `${ep.host}:${ep.port}`, MEMCACHE_PREFIX: app }),
    probe: (port) => ({ kind: 'memcached', port }),
  },
  elasticsearch: searchEngine('elasticsearch:8.13.4', {
    'discovery.type': 'single-node',
    'xpack.security.enabled': 'false',
    ES_JAVA_OPTS: '-Xms512m -Xmx512m',
  }),
  opensearch: searchEngine('opensearchproject/opensearch:2', {
    'discovery.type': 'single-node',
    DISABLE_SECURITY_PLUGIN: 'true',
    DISABLE_INSTALL_DEMO_CONFIG: 'true',
    OPENSEARCH_JAVA_OPTS: '-Xms512m -Xmx512m',
  }),
  rabbitmq: {
    image: 'rabbitmq:3',
    port: 5672,
    aliasPrefix: 'mq',
    credentials: { user: 'guest', password: 'guest', database: '/' },
    containerEnv: (c) => ({ RABBITMQ_DEFAULT_USER: c.user, RABBITMQ_DEFAULT_PASS: c.password, RABBITMQ_DEFAULT_VHOST: c.database }),
    appEnv: (ep, { creds: c }) => {
      // The default vhost `/` is written `//` as Celery/kombu expect (docs/contract.md).
      const vhost = c.database === '/' ? '/' : enc(c.database);
      const url = `amqp://${enc(c.user)}:${enc(c.password)}@${ep.host}:${ep.port}/${vhost}`;
      return { AMQP_URLS: url, BROKER_URL: url };
    },
    probe: (port) => ({ kind: 'amqp', port }),
    hostProbe: () => ['rabbitmq-diagnostics', '-q', 'check_port_connectivity'],
  },
  smtp: {
    image: 'axllent/mailpit',
    port: 1025,
    aliasPrefix: 'mail',
    credentials: NO_CREDS,
    containerEnv: () => ({}),
    appEnv: (ep) => ({ EMAIL_HOST: ep.host, EMAIL_PORT: String(ep.port) }),
    probe: (port) => ({ kind: 'smtp', port }),
    hostProbe: () => ['/mailpit', 'readyz'],
  },
};

export const KNOWN_SERVICES: readonly string[] = Object.freeze(Object.keys(CATALOG));

/** Variables that hold lists: two services giving the same one are joined with `|` (the variables: docs/contract.md). */
export const LIST_VARIABLES = new Set(['MEMCACHE_HOSTS', 'ELASTICSEARCH_URLS', 'AMQP_URLS']);

export const DEFAULT_READY_TIMEOUT_S = 120;

/** A service from the config, merged with its catalog entry: everything a run needs to start it. */
export interface ResolvedService {
  name: string;
  /** Catalog key, or undefined for a custom service. */
  catalog?: string;
  image: string;
  port?: number;
  aliasPrefix: string;
  creds: Credentials;
  containerEnv: Record<string, string>;
  probe: ProbeSpec;
  readyTimeoutS: number;
  /** Passwords the user set in the config: masked in every log. */
  secrets: string[];
}

const SERVICE_NAME = /^[a-z0-9][a-z0-9-]{0,30}$/;

export function probeFromConfig(ready: ReadyProbe, where: string): ProbeSpec {
  if ('tcp' in ready) return { kind: 'tcp', port: port(ready.tcp, `${where}.ready.tcp`) };
  if ('http' in ready) {
    const p = ready.http?.path ?? '/';
    return { kind: 'http', port: port(ready.http?.port, `${where}.ready.http.port`), path: p.startsWith('/') ? p : `/${p}` };
  }
  if ('command' in ready && Array.isArray(ready.command) && ready.command.length > 0) {
    return { kind: 'command', command: ready.command.map(String) };
  }
  throw new UserError(`${where}.ready: expected {tcp: PORT}, {http: {port, path}} or {command: [...]}`, 'see docs for the readiness probes');
}

function port(v: unknown, where: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > 65535) throw new UserError(`${where}: '${String(v)}' is not a port number (1-65535)`);
  return n;
}

/** Merges a `test.services` entry with the catalog; custom services need an image. */
export function resolveService(spec: ServiceSpec, index = 0): ResolvedService {
  const where = `test.services[${index}]`;
  const name = String(spec?.name ?? '');
  if (!SERVICE_NAME.test(name)) {
    throw new UserError(`${where}.name: '${name}' is not a valid service name`, 'use lower-case letters, digits and -, e.g. postgres or my-cache');
  }
  const readyTimeoutS = spec.ready_timeout ?? DEFAULT_READY_TIMEOUT_S;
  if (!(typeof readyTimeoutS === 'number' && readyTimeoutS > 0)) {
    throw new UserError(`${where}.ready_timeout: expected a number of seconds > 0, got '${String(readyTimeoutS)}'`);
  }
  const userEnv = Object.fromEntries(Object.entries(spec.env ?? {}).map(([k, v]) => [k, String(v)]));
  const entry = CATALOG[name];
  if (!entry) {
    if (!spec.image) {
      throw new UserError(
        `${where}: unknown service '${name}' (known: ${KNOWN_SERVICES.join(', ')})`,
        `use one of the known names, or give a custom service an image: {name: ${name}, image: IMAGE, port: PORT, ready: {tcp: PORT}}`,
      );
    }
    const p = spec.port === undefined ? undefined : port(spec.port, `${where}.port`);
    const probe: ProbeSpec = spec.ready ? probeFromConfig(spec.ready, where) : p ? { kind: 'tcp', port: p } : { kind: 'none' };
    return { name, image: spec.image, port: p, aliasPrefix: name, creds: NO_CREDS, containerEnv: userEnv, probe, readyTimeoutS, secrets: [] };
  }
  const creds: Credentials = { ...entry.credentials, ...stripUndefined(spec.credentials ?? {}) };
  const p = spec.port === undefined ? entry.port : port(spec.port, `${where}.port`);
  const secrets = spec.credentials?.password && spec.credentials.password !== entry.credentials.password ? [spec.credentials.password] : [];
  return {
    name,
    catalog: name,
    image: spec.image ?? entry.image,
    port: p,
    aliasPrefix: entry.aliasPrefix,
    creds,
    containerEnv: { ...entry.containerEnv(creds), ...userEnv },
    probe: spec.ready ? probeFromConfig(spec.ready, where) : entry.probe(p, creds),
    readyTimeoutS,
    secrets,
  };
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined && v !== null && v !== '')) as Partial<T>;
}

/** Environment a service gives the app. Custom services give <NAME>_HOST and <NAME>_PORT. */
export function serviceAppEnv(svc: ResolvedService, ep: Endpoint, app: string): Record<string, string> {
  if (svc.catalog) return CATALOG[svc.catalog].appEnv(ep, { app, creds: svc.creds });
  const key = svc.name.toUpperCase().replace(/-/g, '_');
  return svc.port ? { [`${key}_HOST`]: ep.host, [`${key}_PORT`]: String(ep.port) } : { [`${key}_HOST`]: ep.host };
}
