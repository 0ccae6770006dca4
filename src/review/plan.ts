// Pure: what a review app is, made from pallet.yml's `review:` and a pull request's number. A review
// app is an app of its own (`APP-pr-N`) on one of review.hosts: the deploy config the rollout engine
// runs for it, the services it gets for itself, its environment, and the decisions about the others
// (stale ones to reap, the cap). Running any of it is src/review/deploy.ts and destroy.ts.
import { randomBytes } from 'node:crypto';
import type { DeployConfig, PalletConfig, ReviewConfig, RoleConfig } from '../config/types.js';
import { UserError } from '../errors.js';
import { CATALOG, resolveService, serviceAppEnv, type ResolvedService } from '../cleanroom/catalog.js';
import { LIST_VARIABLES } from '../cleanroom/catalog.js';
import { appNetwork } from '../deploy/proxy/commands.js';

/** Label on a review app's service containers: the review app's name (its role containers carry pallet.app). */
export const REVIEW_LABEL = 'pallet.review';

/** The review app of pull request `number`: `APP-pr-N` (names containers, the network, the state directory). */
export function reviewAppName(app: string, number: number): string {
  return `${app}-pr-${number}`;
}

/** A pull request number as given by an input, a flag or the event: a whole number >= 1, else a UserError naming `field`. */
export function parsePullRequest(value: string | number | undefined, field: string): number {
  const s = String(value ?? '').trim();
  if (!/^[1-9][0-9]{0,9}$/.test(s)) {
    throw new UserError(`${field}: '${s}' is not a pull request number`, 'give the number of the pull request, e.g. 12 (in a pull_request workflow it is read from the event)');
  }
  return Number(s);
}

/** Where and how review app `number` runs. */
export interface ReviewTarget {
  number: number;
  /** `APP-pr-N`. */
  app: string;
  /** review.host with {number} filled in. */
  hostName: string;
  /** https://NAME, or http:// with tls off. */
  url: string;
  /** The GitHub environment of its deployments: `review/pr-N`. */
  environment: string;
}

/** The config's `review`, or a UserError saying how to add one. */
export function reviewOf(config: PalletConfig): ReviewConfig {
  if (!config.review) {
    throw new UserError(`${config.source.file}: has no review section, so there are no review apps`,
      'add review: {hosts: [...], host: pr-{number}.review.example.com} (docs/review-apps.md)');
  }
  return config.review;
}

export function reviewTarget(config: PalletConfig, number: number): ReviewTarget {
  const review = reviewOf(config);
  const hostName = review.host.replaceAll('{number}', String(number));
  return {
    number, app: reviewAppName(config.app, number), hostName,
    url: `${review.tls === 'off' ? 'http' : 'https'}://${hostName}`, environment: `review/pr-${number}`,
  };
}

/**
 * The config the rollout engine deploys for a review app on `host` (a review.hosts entry): every
 * role of deploy on that one host, behind the proxy at the review host name, the release tasks
 * against its own services, deploy.env.clear with review.env over it and review.env.secret only
 * (the main app's secrets never reach a review app), a host env file of its own
 * (/etc/pallet/APP-review.env, optional), and no scheduled jobs, backups or maintenance page.
 * `serviceEnv` (from planReviewServices) joins the clear values. Pruning is the review's own
 * (keep is not used): see ownedTagsToRemove.
 */
export function reviewDeployConfig(config: PalletConfig, target: ReviewTarget, host: string, serviceEnv: Record<string, string>): PalletConfig {
  const review = reviewOf(config);
  const deploy = config.deploy;
  if (!deploy || deploy.proxy === false || deploy.swarm) {
    throw new UserError('review apps need the deploy section with the proxy (SSH hosts, not deploy.proxy: false or deploy.swarm)', 'see docs/review-apps.md');
  }
  const roles: Record<string, RoleConfig> = Object.fromEntries(Object.entries(deploy.roles).map(([name, r]) => {
    const role: RoleConfig = { ...r, hosts: [host] };
    if (role.health) role.health = { path: role.health.path, timeout: role.health.timeout }; // its Host header is the review name
    return [name, role];
  }));
  const clear = {
    ...(deploy.env?.clear ?? {}), ...reviewDefaults(target, review), ...serviceEnv, ...review.env.clear,
  };
  const reviewDeploy: DeployConfig = {
    ...deploy,
    env_file: `/etc/pallet/${config.app}-review.env`,
    env: { clear, secret: [...review.env.secret] },
    roles,
    rolling: { batch: 1 },
    keep: 1000,
    url: target.url,
    proxy: { ...deploy.proxy, hosts: [target.hostName], tls: review.tls },
    network: appNetwork(target.app),
  };
  delete reviewDeploy.cron;
  delete reviewDeploy.backup;
  delete reviewDeploy.maintenance;
  const { review: _r, environments: _e, ...rest } = config;
  return { ...rest, app: target.app, deploy: reviewDeploy, environment: target.environment };
}

/** What every review app is told about itself (the contract's SITE_* names; docs/contract.md). */
function reviewDefaults(target: ReviewTarget, review: ReviewConfig): Record<string, string> {
  return {
    ENVIRONMENT: 'review', SITE_DOMAIN: target.hostName, SITE_PROTOCOL: review.tls === 'off' ? 'http' : 'https',
    PALLET_PULL_REQUEST: String(target.number),
  };
}

/** One service of a review app, as the host starts it. */
export interface ReviewServicePlan {
  name: string;
  /** `APP-pr-N-NAME`. */
  container: string;
  /** Its name on the review app's network (the service's name, e.g. `postgres`). */
  alias: string;
  image: string;
  /** The service container's own environment (credentials): written to a 0600 file, never an argv. */
  containerEnv: Record<string, string>;
  /** Run inside its container until it exits 0 (CatalogEntry.hostProbe or ready.command). */
  probe: string[];
  readyTimeoutS: number;
}

/** The names whose passwords a review app's services need generated (catalog services with a password the config does not set). */
export function passwordNames(review: ReviewConfig): string[] {
  return review.services.filter((s) => CATALOG[s.name]?.credentials.password && !s.credentials?.password).map((s) => s.name);
}

/** A password for a review app's service: 24 hex characters from the system's CSPRNG (safe in URLs and env files). */
export function newPassword(): string {
  return randomBytes(12).toString('hex');
}

/**
 * The review app's services and what the app is given to reach them (DATABASE_URL, REDIS_URL, ...,
 * as test.services give them, at the service's name on the review app's network). `passwords` holds
 * a password by service name for each of passwordNames(review).
 */
export function planReviewServices(review: ReviewConfig, app: string, passwords: Record<string, string>): { services: ReviewServicePlan[]; appEnv: Record<string, string> } {
  const appEnv: Record<string, string> = {};
  const services = review.services.map((spec, i) => {
    const password = passwords[spec.name];
    const svc: ResolvedService = resolveService(password ? { ...spec, credentials: { ...spec.credentials, password } } : spec, i);
    for (const [k, v] of Object.entries(serviceAppEnv(svc, { host: svc.name, port: svc.port ?? 0 }, app))) {
      appEnv[k] = LIST_VARIABLES.has(k) && appEnv[k] ? `${appEnv[k]}|${v}` : v;
    }
    return { name: svc.name, container: `${app}-${svc.name}`, alias: svc.name, image: svc.image, containerEnv: svc.containerEnv, probe: hostProbe(svc, spec.ready), readyTimeoutS: svc.readyTimeoutS };
  });
  return { services, appEnv };
}

function hostProbe(svc: ResolvedService, ready: ReviewConfig['services'][number]['ready']): string[] {
  if (ready && 'command' in ready) return ready.command;
  const probe = svc.catalog ? CATALOG[svc.catalog].hostProbe?.(svc.port ?? 0, svc.creds) : undefined;
  // Load refuses a review service without one (semantic-checks.ts); this is a defect if reached.
  if (!probe) throw new Error(`review service ${svc.name} has no host readiness check`);
  return probe;
}

/** A review app as the hosts record it (src/review/commands.ts, reviewListArgv). */
export interface ReviewApp {
  app: string;
  number: number;
  host: string;
  /** Host label it runs on. */
  on: string;
  /** Its release's tag ('' before the first success). */
  tag: string;
  /** Epoch seconds on the host's clock: first deploy, last deploy. */
  created: number;
  activity: number;
  /** Tags of the app's repository this review app pulled (absent before it): removed with it. */
  owned: string[];
}

/**
 * The host a review app goes to: the one it is on already, else the review host carrying the
 * fewest review apps (the first such in review.hosts).
 */
export function chooseHost(review: ReviewConfig, apps: ReviewApp[], app: string): string {
  const mine = apps.find((a) => a.app === app);
  if (mine && review.hosts.includes(mine.on)) return mine.on;
  const load = (h: string) => apps.filter((a) => a.on === h).length;
  return review.hosts.reduce((best, h) => (load(h) < load(best) ? h : best), review.hosts[0]);
}

/**
 * The review apps to remove before a deploy: those idle longer than `idleDays` (`now` and
 * activity on the host's clock, epoch seconds) and those whose pull request is known closed. Never
 * `self`.
 */
export function staleApps(apps: ReviewApp[], self: string, now: number, idleDays: number, closed: ReadonlySet<number>): { app: ReviewApp; why: string }[] {
  const out: { app: ReviewApp; why: string }[] = [];
  for (const a of apps) {
    if (a.app === self) continue;
    if (closed.has(a.number)) out.push({ app: a, why: `pull request #${a.number} is closed` });
    else if (now - a.activity > idleDays * 86400) out.push({ app: a, why: `no deploy for ${Math.floor((now - a.activity) / 86400)} day(s) (review.idle_days: ${idleDays})` });
  }
  return out;
}

/** What the cap asks of a deploy: nothing, the app to evict first, or a refusal naming the oldest. */
export type CapDecision = { kind: 'room' } | { kind: 'evict'; app: ReviewApp } | { kind: 'refuse'; oldest: ReviewApp; live: number };

/**
 * review.max: a redeploy of a live review app always has room; a new one has room below `max`
 * live apps, else the app idle longest (oldest activity) is evicted (evict_oldest) or named in the refusal.
 */
export function capDecision(apps: ReviewApp[], self: string, review: Pick<ReviewConfig, 'max' | 'evict_oldest'>): CapDecision {
  if (apps.some((a) => a.app === self)) return { kind: 'room' };
  if (apps.length < review.max) return { kind: 'room' };
  const oldest = [...apps].sort((a, b) => a.activity - b.activity || a.number - b.number)[0];
  return review.evict_oldest ? { kind: 'evict', app: oldest } : { kind: 'refuse', oldest, live: apps.length };
}

/**
 * After a deploy: the tags this review app owns that can go now (not its TAG or REVERT), and those
 * it keeps owning. The removal itself keeps any tag a container uses or another app names.
 */
export function ownedTagsToRemove(owned: string[], keep: string[]): { remove: string[]; keep: string[] } {
  const k = new Set(keep.filter(Boolean));
  return { remove: owned.filter((t) => !k.has(t)), keep: owned.filter((t) => k.has(t)) };
}

/** Pure: one row per review app for `pallet review list`: app, pull request, address, image tag, host, age, last deploy. */
export function reviewRows(apps: ReviewApp[], now: number, url: (number: number) => string): string[][] {
  return [...apps].sort((a, b) => a.number - b.number).map((a) => [
    a.app, `#${a.number}`, url(a.number), a.tag || '-', a.on, ago(now - a.created), ago(now - a.activity),
  ]);
}

export const REVIEW_HEADER = ['app', 'pull request', 'address', 'image', 'host', 'age', 'last deploy'];

/** `3d 4h`, `5h 2m`, `42s` for a duration in seconds. */
export function ago(s: number): string {
  const t = Math.max(0, Math.floor(s));
  if (t >= 86400) return `${Math.floor(t / 86400)}d ${Math.floor((t % 86400) / 3600)}h`;
  if (t >= 3600) return `${Math.floor(t / 3600)}h ${Math.floor((t % 3600) / 60)}m`;
  if (t >= 60) return `${Math.floor(t / 60)}m`;
  return `${t}s`;
}
