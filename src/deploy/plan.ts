// Pure: pallet.yml's deploy section -> the ordered plan a deploy follows: which hosts, which
// roles in which order (web first, then worker, beat, the rest), and the restart batches.
import { UserError } from '../errors.js';
import type { AcmeConfig, BackupConfig, DeployConfig, PalletConfig, RoleConfig } from '../config/types.js';
import { parseHost, type SshTarget } from '../ssh/host.js';
import { expandTrustedProxies } from './proxy/caddy.js';
import { expandSchedule, type ExpandedSchedule } from '../cron/schedule.js';

export interface RolePlan {
  role: string;
  command: string[];
  /** Web roles publish a port and are health-checked over HTTP; others must stay running. */
  web: boolean;
  port?: number;
  hostPort?: number;
  healthPath: string;
  healthTimeout: number;
  /** Sent as the Host header of web health checks (health.host, else the first proxy host name that is not a wildcard; else the address the check connects to). */
  healthHost?: string;
  /** Runs behind the host's proxy (a web role with deploy.proxy on): new beside old, then a route switch. */
  behindProxy: boolean;
  stable: number;
  stopTimeout: number;
  /** Signal sent first when a container of this role is stopped, e.g. SIGTERM. */
  stopSignal: string;
  /** Host labels (as written in the config), in order. */
  hosts: string[];
  /** Hosts restarted together, in order. */
  batches: string[][];
}

export interface DeployPlan {
  app: string;
  image: string;
  /** Every distinct host, in the order first seen across the ordered roles. */
  hosts: SshTarget[];
  /** Tasks run here (the first host of the first role). */
  taskHost: string;
  tasks: string[][];
  envFile?: string;
  roles: RolePlan[];
  keep: number;
  /** The per-host proxy, when web roles run behind it. */
  proxy?: ProxyPlan;
  /** deploy.cron: scheduled jobs, each with the hosts (labels) that run it. */
  cron: CronJobPlan[];
  /** deploy.maintenance (proxy mode only): the page, and whether a deploy shows it while its tasks run. */
  maintenance?: { duringTasks: boolean; page?: string; retryAfter: number };
  /** deploy.backup: a dump on the task host before the release tasks (src/backup/deploy.ts). */
  backup?: BackupConfig;
  /** Every container of the app (tasks, every role) joins this network: a review app's, where its services are. */
  network?: string;
}

/** One deploy.cron job as the hosts' tick runs it. */
export interface CronJobPlan {
  name: string;
  /** As written (five fields), for messages and `pallet cron status`. */
  schedule: string;
  timezone: string;
  /** Entrypoint arguments of the one-off container. */
  command: string[];
  /** Host labels that run it. */
  hosts: string[];
  /** What the tick matches each minute. */
  when: ExpandedSchedule;
}

/** deploy.proxy as the rollout uses it. */
export interface ProxyPlan {
  image: string;
  hosts: string[];
  tls: 'auto' | 'internal' | 'off';
  /** Most seconds the previous containers get to finish requests in flight after the last switch. */
  drainTimeout: number;
  /** CIDR ranges whose X-Forwarded-* headers the proxy trusts (`private_ranges` expanded). */
  trustedProxies: string[];
  /** The proxy serves the files the image holds in `root` under the URL path `url` (deploy.proxy.static). */
  static?: { root: string; url: string };
  /** deploy.proxy.acme: the ACME CA of `tls: auto`; `caRoot` is the PEM the proxy trusts for its HTTPS. */
  acme?: { ca?: string; caRoot?: string; email?: string };
}

const ROLE_ORDER = ['web', 'worker', 'beat'];

/** Role names in restart order: web, worker, beat, then the others in config order. */
export function orderRoles(names: string[]): string[] {
  const rank = (n: string) => (ROLE_ORDER.includes(n) ? ROLE_ORDER.indexOf(n) : ROLE_ORDER.length);
  return names.map((n, i) => ({ n, i })).sort((a, b) => rank(a.n) - rank(b.n) || a.i - b.i).map((x) => x.n);
}

/** How many hosts restart at once: a number, or a percentage of the role's hosts (at least 1). */
export function batchSize(hostCount: number, batch: number | string | undefined): number {
  if (hostCount <= 0) return 0;
  if (batch === undefined || batch === '') return 1;
  const bad = () => new UserError(`deploy.rolling.batch: '${batch}' is not a host count or a percentage`, 'use a whole number like 1 or a percentage like 25%');
  if (typeof batch === 'number') {
    if (!Number.isInteger(batch) || batch < 1) throw bad();
    return Math.min(batch, hostCount);
  }
  const pct = /^(\d+(?:\.\d+)?)%$/.exec(batch.trim());
  if (pct) {
    const p = Number(pct[1]);
    if (p <= 0 || p > 100) throw bad();
    return Math.max(1, Math.floor((hostCount * p) / 100));
  }
  if (/^\d+$/.test(batch.trim()) && Number(batch) >= 1) return Math.min(Number(batch), hostCount);
  throw bad();
}

export function chunk<T>(items: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

function splitCommand(cmd: string | string[] | undefined, role: string): string[] {
  if (Array.isArray(cmd)) return cmd.map(String);
  const c = (cmd ?? (role === 'web' ? 'serve' : role)).trim();
  return c.split(/\s+/).filter(Boolean);
}

function rolePlan(name: string, r: RoleConfig, deploy: DeployConfig, hostKey: (h: string) => string, proxy: ProxyPlan | undefined): RolePlan {
  if (!Array.isArray(r.hosts) || r.hosts.length === 0) {
    throw new UserError(`deploy.roles.${name}.hosts: at least one host is needed`, 'list the hosts of this role, e.g. hosts: [app1.example.com]');
  }
  const web = name === 'web' || r.port !== undefined || r.health !== undefined;
  const hosts = [...new Set(r.hosts.map((h) => hostKey(String(h))))];
  const port = web ? r.port ?? 8000 : undefined;
  // A wildcard (*.example.com) is no name to send: the first concrete proxy host name is.
  const healthHost = r.health?.host ?? (web && proxy ? proxy.hosts.find((h) => !h.startsWith('*.')) : undefined);
  return {
    role: name,
    command: splitCommand(r.command as string | string[] | undefined, name),
    web,
    port,
    hostPort: web ? r.host_port ?? port : undefined,
    healthPath: r.health?.path ?? '/health/',
    healthTimeout: r.health?.timeout ?? 60,
    ...(healthHost ? { healthHost } : {}),
    behindProxy: web && proxy !== undefined,
    stable: r.stable ?? 5,
    stopTimeout: r.stop_timeout ?? 30,
    stopSignal: r.stop_signal ?? 'SIGTERM',
    hosts,
    batches: chunk(hosts, batchSize(hosts.length, deploy.rolling?.batch)),
  };
}

function proxyAcme(a: AcmeConfig | undefined): { acme?: ProxyPlan['acme'] } {
  if (!a) return {};
  return { acme: { ...(a.ca ? { ca: a.ca } : {}), ...(a.ca_root ? { caRoot: a.ca_root } : {}), ...(a.email ? { email: a.email } : {}) } };
}

export function planDeploy(config: PalletConfig): DeployPlan {
  const deploy = config.deploy;
  if (!deploy || !deploy.roles || Object.keys(deploy.roles).length === 0) {
    throw new UserError(`${config.source.file}: deploy.roles is missing`, 'add a deploy section with at least one role, e.g. roles: { web: { hosts: [app1] } }');
  }
  const defaults = { user: deploy.ssh?.user ?? 'root', port: deploy.ssh?.port ?? 22 };
  const targets = new Map<string, SshTarget>();
  // One connection per distinct user@host:port, whatever spelling the roles used.
  const hostKey = (h: string) => {
    const t = parseHost(h, defaults);
    const key = `${t.user}@${t.host}:${t.port}`;
    if (!targets.has(key)) targets.set(key, { ...t, label: t.label });
    return targets.get(key)!.label;
  };
  const proxy: ProxyPlan | undefined = deploy.proxy
    ? { image: deploy.proxy.image, hosts: [...deploy.proxy.hosts], tls: deploy.proxy.tls, drainTimeout: deploy.proxy.drain_timeout, trustedProxies: expandTrustedProxies(deploy.proxy.trusted_proxies), ...(deploy.proxy.static ? { static: { ...deploy.proxy.static } } : {}), ...proxyAcme(deploy.proxy.acme) }
    : undefined;
  const roles = orderRoles(Object.keys(deploy.roles)).map((n) => rolePlan(n, deploy.roles[n], deploy, hostKey, proxy));
  const seen = new Set<string>();
  const hosts: SshTarget[] = [];
  for (const r of roles) for (const h of r.hosts) if (!seen.has(h)) { seen.add(h); hosts.push([...targets.values()].find((t) => t.label === h)!); }
  const tasks = (deploy.tasks ?? [['deploy']]).map((t) => (Array.isArray(t) ? t.map(String) : String(t).split(/\s+/).filter(Boolean)));
  const keep = deploy.keep ?? 5;
  if (!Number.isInteger(keep) || keep < 1) throw new UserError(`deploy.keep: must be a whole number >= 1, got '${keep}'`, 'keep at least 2 so the previous tag stays for rollback');
  // A job's hosts are hosts of the roles (checked at load): the same labels.
  const cron = Object.entries(deploy.cron ?? {}).map(([name, j]): CronJobPlan => ({
    name, schedule: j.schedule, timezone: j.timezone, command: [...j.command],
    hosts: j.hosts?.length ? [...new Set(j.hosts.map((h) => hostKey(h)))] : [roles[0].hosts[0]],
    when: expandSchedule(j.schedule),
  }));
  return {
    app: config.app,
    image: config.image,
    hosts,
    taskHost: roles[0].hosts[0],
    tasks,
    envFile: deploy.env_file,
    roles,
    keep,
    ...(proxy && roles.some((r) => r.behindProxy) ? { proxy } : {}),
    cron,
    ...(deploy.backup ? { backup: { ...deploy.backup } } : {}),
    ...(deploy.network ? { network: deploy.network } : {}),
    ...(deploy.maintenance ? { maintenance: { duringTasks: deploy.maintenance.during_tasks, retryAfter: deploy.maintenance.retry_after, ...(deploy.maintenance.page !== undefined ? { page: deploy.maintenance.page } : {}) } } : {}),
  };
}

/** Hosts parsed once for the jump option. */
export function jumpTarget(deploy: DeployConfig | undefined): SshTarget | undefined {
  if (!deploy?.ssh?.jump) return undefined;
  return parseHost(deploy.ssh.jump, { user: deploy.ssh.user ?? 'root', port: 22 }, 'deploy.ssh.jump');
}
