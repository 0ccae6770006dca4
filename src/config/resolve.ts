// Turns a validated pallet.yml value into the resolved PalletConfig: defaults filled in, short
// forms expanded (service names, command strings), values coerced to strings, paths resolved.
// Only called once schema and semantic checks passed, so the shapes here are known to be right.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { AcmeConfig, AppEnvConfig, BackupConfig, ReviewConfig, BuildConfig, DeployConfig, PalletConfig, ProxyConfig, CronJobConfig, MaintenanceConfig, ReadyProbe, RoleConfig, ServiceSpec, StaticFilesConfig, TestConfig } from './types.js';
import { isCatalogService } from './services.js';
import type { KeyPath } from './problems.js';

/** Every default in one place (docs/pallet-yml.md lists the same values). */
export const DEFAULTS = {
  context: '.',
  dockerfile: 'Dockerfile',
  wheelhouseDir: 'wheelhouse',
  requirements: ['requirements.txt'],
  testCommand: ['test'],
  shards: 1,
  testTimeout: 1800,
  sshUser: 'deploy',
  sshPort: 22,
  envFile: (app: string) => `/etc/pallet/${app}.env`,
  tasks: [['deploy']],
  batch: 1,
  keep: 5,
  webCommand: 'serve',
  webPort: 8000,
  health: { path: '/health/', timeout: 60 },
  stable: 5,
  stopTimeout: 30,
  swarmPublish: 'host',
  stopSignal: 'SIGTERM',
  proxyImage: 'caddy:2',
  drainTimeout: 2,
  reviewMax: 5,
  reviewIdleDays: 7,
} as const;

/** `TERM` or `SIGTERM` -> `SIGTERM` (the spelling docker and the docs use). */
export function normalizeSignal(name: string): string {
  return name.startsWith('SIG') ? name : `SIG${name}`;
}

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** Reads the source text of a number scalar, so `VERSION: 1.10` becomes "1.10", not "1.1". */
export type ScalarText = (path: KeyPath) => string | undefined;

/** A command given as a string is split on whitespace (no shell quoting); a list is taken as is. */
export function toArgv(cmd: string | string[]): string[] {
  return Array.isArray(cmd) ? [...cmd] : cmd.trim().split(/\s+/);
}

function stringMap(v: Obj | undefined, at: KeyPath, text: ScalarText): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, val] of Object.entries(v ?? {})) {
    out[k] = typeof val === 'number' ? (text([...at, k]) ?? String(val)) : String(val);
  }
  return out;
}

function resolveBuild(b: Obj, dir: string, text: ScalarText): BuildConfig {
  const w = b.wheelhouse as Obj | undefined;
  return {
    context: path.resolve(dir, b.context ?? DEFAULTS.context),
    dockerfile: b.dockerfile ?? DEFAULTS.dockerfile,
    ...(b.target !== undefined ? { target: b.target } : {}),
    args: stringMap(b.args, ['build', 'args'], text),
    tags: [...(b.tags ?? [])],
    ...(w
      ? {
          wheelhouse: {
            requirements: [...(w.requirements ?? DEFAULTS.requirements)],
            builder: w.builder,
            dir: path.normalize(w.dir ?? DEFAULTS.wheelhouseDir).replace(/\/$/, ''),
            pip_args: [...(w.pip_args ?? [])],
          },
        }
      : {}),
  };
}

function resolveService(s: string | Obj, i: number, text: ScalarText, section: 'test' | 'review' = 'test'): ServiceSpec {
  if (typeof s === 'string') return { name: s, env: {} };
  const spec: ServiceSpec = { name: s.name, env: stringMap(s.env, [section, 'services', i, 'env'], text) };
  if (s.image !== undefined) spec.image = s.image;
  if (s.port !== undefined) spec.port = s.port;
  if (s.credentials !== undefined) spec.credentials = { ...s.credentials };
  if (s.ready_timeout !== undefined) spec.ready_timeout = s.ready_timeout;
  if (s.ready !== undefined) spec.ready = resolveProbe(s.ready);
  // A custom service is ready when its port accepts connections, unless told otherwise.
  else if (!isCatalogService(s.name) && s.port !== undefined) spec.ready = { tcp: s.port };
  return spec;
}

function resolveProbe(r: Obj): ReadyProbe {
  if (r.tcp !== undefined) return { tcp: r.tcp };
  if (r.http !== undefined) return { http: { port: r.http.port, path: r.http.path ?? '/' } };
  return { command: toArgv(r.command) };
}

function resolveTest(t: Obj, text: ScalarText): TestConfig {
  return {
    command: t.command !== undefined ? toArgv(t.command) : [...DEFAULTS.testCommand],
    services: (t.services ?? []).map((s: string | Obj, i: number) => resolveService(s, i, text)),
    environment: stringMap(t.environment, ['test', 'environment'], text),
    shards: t.shards ?? DEFAULTS.shards,
    artifacts: [...(t.artifacts ?? [])],
    timeout: t.timeout ?? DEFAULTS.testTimeout,
  };
}

/** A role is a web role (port, HTTP health check, `serve`) if it is named web or sets port or health. */
export function isWebRole(name: string, r: Obj): boolean {
  return name === 'web' || r.port !== undefined || r.health !== undefined;
}

function resolveRole(name: string, r: Obj): RoleConfig {
  const role: RoleConfig = {
    hosts: [...(r.hosts ?? [])],
    command: r.command ?? (isWebRole(name, r) ? DEFAULTS.webCommand : name),
    stop_timeout: r.stop_timeout ?? DEFAULTS.stopTimeout,
    stop_signal: normalizeSignal(r.stop_signal ?? DEFAULTS.stopSignal),
  };
  if (isWebRole(name, r)) {
    role.port = r.port ?? DEFAULTS.webPort;
    role.host_port = r.host_port ?? role.port;
    role.health = { path: r.health?.path ?? DEFAULTS.health.path, timeout: r.health?.timeout ?? DEFAULTS.health.timeout };
    if (r.health?.host !== undefined) role.health.host = r.health.host;
  } else {
    if (r.host_port !== undefined) role.host_port = r.host_port;
    role.stable = r.stable ?? DEFAULTS.stable;
  }
  if (isWebRole(name, r) && r.stable !== undefined) role.stable = r.stable;
  if (r.replicas !== undefined) role.replicas = r.replicas;
  if (r.placement !== undefined) role.placement = [...r.placement];
  return role;
}

/** deploy.cron: commands as argv, time zone UTC unless given. */
function resolveCron(cron: unknown): Record<string, CronJobConfig> {
  const out: Record<string, CronJobConfig> = {};
  for (const [name, j] of Object.entries((cron ?? {}) as Record<string, Obj>)) {
    out[name] = {
      schedule: String(j.schedule).trim().split(/\s+/).join(' '),
      command: toArgv(j.command as string | string[]),
      ...(Array.isArray(j.hosts) ? { hosts: j.hosts.map(String) } : {}),
      timezone: typeof j.timezone === 'string' ? j.timezone : 'UTC',
    };
  }
  return out;
}

function resolveTasks(tasks: unknown): string[][] {
  if (tasks === undefined) return DEFAULTS.tasks.map((t) => [...t]);
  if (typeof tasks === 'string') return [toArgv(tasks)];
  return (tasks as (string | string[])[]).map(toArgv);
}

/** deploy.maintenance: the page file read (relative to pallet.yml; checked by semantic-checks.ts). */
function resolveMaintenance(m: Obj, dir: string): MaintenanceConfig {
  return {
    during_tasks: m.during_tasks === true,
    ...(typeof m.page === 'string' ? { page: readFileSync(path.resolve(dir, m.page), 'utf8') } : {}),
    retry_after: typeof m.retry_after === 'number' ? m.retry_after : 60,
  };
}

/** Where the app finds its database URL, in the pallet contract's order (docs/contract.md). */
export const DEFAULT_URL_ENV = ['DB_DEFAULT_URL', 'DATABASE_URL'] as const;

/** deploy.backup: `true` or a mapping; defaults filled in. */
function resolveBackup(b: true | Obj): BackupConfig {
  const o: Obj = b === true ? {} : b;
  return { keep: o.keep ?? 7, image: o.image ?? 'postgres:17', url_env: o.url_env ? [o.url_env] : [...DEFAULT_URL_ENV] };
}

function resolveDeploy(d: Obj, app: string, text: ScalarText, dir: string): DeployConfig {
  const roles: Record<string, RoleConfig> = {};
  for (const [name, r] of Object.entries(d.roles as Obj)) roles[name] = resolveRole(name, r);
  return {
    ssh: {
      user: d.ssh?.user ?? DEFAULTS.sshUser,
      port: d.ssh?.port ?? DEFAULTS.sshPort,
      ...(d.ssh?.jump !== undefined ? { jump: d.ssh.jump } : {}),
    },
    ...(d.swarm !== undefined ? { swarm: { manager: d.swarm.manager, publish: d.swarm.publish ?? DEFAULTS.swarmPublish } } : {}),
    env_file: d.env_file ?? DEFAULTS.envFile(app),
    ...(d.env !== undefined ? { env: { clear: stringMap(d.env.clear, ['deploy', 'env', 'clear'], text), secret: [...(d.env.secret ?? [])] } } : {}),
    tasks: resolveTasks(d.tasks),
    ...(d.cron !== undefined ? { cron: resolveCron(d.cron) } : {}),
    ...(d.maintenance !== undefined ? { maintenance: resolveMaintenance(d.maintenance, dir) } : {}),
    ...(d.backup !== undefined && d.backup !== false ? { backup: resolveBackup(d.backup) } : {}),
    roles,
    rolling: { batch: d.rolling?.batch ?? DEFAULTS.batch },
    keep: d.keep ?? DEFAULTS.keep,
    require_tested: d.require_tested ?? true,
    ...(d.url !== undefined ? { url: d.url } : {}),
    proxy: resolveProxy(d.proxy, dir),
  };
}

/** deploy.proxy: absent or true = the proxy with defaults; false = published ports. */
function resolveProxy(p: unknown, dir: string): ProxyConfig | false {
  if (p === false) return false;
  const o = (typeof p === 'object' && p !== null ? p : {}) as Obj;
  const hosts: string[] = [...(o.hosts ?? [])];
  // With host names the proxy can get certificates; without, it can only route plain HTTP.
  const tls = o.tls ?? (hosts.length ? 'auto' : 'off');
  return {
    hosts,
    tls,
    image: o.image ?? DEFAULTS.proxyImage,
    drain_timeout: o.drain_timeout ?? DEFAULTS.drainTimeout,
    // Without TLS the proxy sits behind another load balancer, which is in the hosts' own network.
    trusted_proxies: [...(o.trusted_proxies ?? (tls === 'off' ? ['private_ranges'] : []))],
    ...(o.static ? { static: resolveStatic(o.static) } : {}),
    ...(o.acme ? { acme: resolveAcme(o.acme, dir) } : {}),
  };
}

/** deploy.proxy.acme: ca_root's file read (relative to pallet.yml; checked by semantic-checks.ts). */
function resolveAcme(a: Obj, dir: string): AcmeConfig {
  return {
    ...(typeof a.ca === 'string' ? { ca: a.ca } : {}),
    ...(typeof a.ca_root === 'string' ? { ca_root: readFileSync(path.resolve(dir, a.ca_root), 'utf8') } : {}),
    ...(typeof a.email === 'string' ? { email: a.email } : {}),
  };
}

/** deploy.proxy.static: true = Django's usual STATIC_ROOT /static and STATIC_URL /static/; a root without '/' at the end. */
function resolveStatic(s: unknown): StaticFilesConfig {
  const o = (typeof s === 'object' && s !== null ? s : {}) as Obj;
  const root = String(o.root ?? '/static');
  return { root: root.length > 1 ? root.replace(/\/$/, '') : root, url: String(o.url ?? '/static/') };
}

/** review: defaults filled in; tls from deploy.proxy unless given; services in their long form. */
function resolveReview(r: Obj, deploy: DeployConfig | undefined, text: ScalarText): ReviewConfig {
  const env: AppEnvConfig = { clear: stringMap(r.env?.clear, ['review', 'env', 'clear'], text), secret: [...(r.env?.secret ?? [])] };
  const proxyTls = deploy?.proxy ? deploy.proxy.tls : 'off';
  return {
    hosts: (r.hosts as unknown[]).map(String),
    host: String(r.host),
    tls: r.tls ?? proxyTls,
    services: (r.services ?? []).map((s: string | Obj, i: number) => resolveService(s, i, text, 'review')),
    env,
    max: r.max ?? DEFAULTS.reviewMax,
    evict_oldest: r.evict_oldest === true,
    idle_days: r.idle_days ?? DEFAULTS.reviewIdleDays,
  };
}

export function resolveConfig(data: Obj, file: string, text: ScalarText): PalletConfig {
  const dir = path.dirname(file);
  const config: PalletConfig = {
    app: data.app,
    image: data.image,
    build: resolveBuild(data.build ?? {}, dir, text),
    test: resolveTest(data.test ?? {}, text),
    source: { file, dir },
  };
  if (data.deploy !== undefined) config.deploy = resolveDeploy(data.deploy, data.app, text, dir);
  if (data.review !== undefined) config.review = resolveReview(data.review, config.deploy, text);
  return config;
}
