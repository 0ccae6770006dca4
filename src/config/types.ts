// The resolved shape of pallet.yml after validation and defaults. Every stage reads this,
// never the raw YAML. Loading and validation live in ./load.ts.

export interface PalletConfig {
  /** Names containers, cache keys and host paths: [a-z0-9][a-z0-9_.-]* */
  app: string;
  /** Image repository without tag, e.g. registry.example.com/team/app */
  image: string;
  build: BuildConfig;
  test: TestConfig;
  deploy?: DeployConfig;
  /** review: a running copy of each pull request (src/review/); unset when absent. */
  review?: ReviewConfig;
  /** The environment this config is for (`environments.<name>` merged, or only named by the input); unset when none. */
  environment?: string;
  /** The environments the file declares, in file order; unset when it has no `environments`. */
  environments?: string[];
  /** Absolute path of the file this came from (for messages), and its directory (paths resolve against it). */
  source: { file: string; dir: string };
}

export interface BuildConfig {
  /** Build context, absolute (resolved against the config file's directory). */
  context: string;
  /** Dockerfile path relative to the context. */
  dockerfile: string;
  target?: string;
  args: Record<string, string>;
  wheelhouse?: WheelhouseConfig;
  /** Extra tags pushed besides build-N. */
  tags: string[];
}

export interface WheelhouseConfig {
  /** Requirement files, relative to the context. */
  requirements: string[];
  /** Image with a compiler toolchain that runs `pip wheel`. */
  builder: string;
  /** Directory inside the context the wheels are written to. */
  dir: string;
  /** Extra `pip wheel` arguments: index URL, extra index, constraints, --no-build-isolation, ... */
  pip_args: string[];
}

export interface ServiceSpec {
  /** Name in the catalog (postgres, redis, ...) or a custom name. */
  name: string;
  /** Overrides the catalog's default image. Required for custom services. */
  image?: string;
  env: Record<string, string>;
  /** For custom services: the port the app talks to. */
  port?: number;
  /** For custom services: readiness probe. */
  ready?: ReadyProbe;
  /** Credentials overrides (user/password/database) for catalog services. */
  credentials?: { user?: string; password?: string; database?: string };
  /** Seconds the service may take to pass its readiness probe (default 120). */
  ready_timeout?: number;
}

export type ReadyProbe =
  | { tcp: number }
  | { http: { port: number; path: string } }
  | { command: string[] };

export interface TestConfig {
  /** Arguments for the app image: [test, ...extra]. */
  command: string[];
  services: ServiceSpec[];
  environment: Record<string, string>;
  shards: number;
  /** Paths inside the test container copied out after the run (JUnit XML, coverage). */
  artifacts: string[];
  /** Seconds before the test container is stopped and the run fails. */
  timeout: number;
}

export interface DeployConfig {
  ssh: { user: string; port: number; jump?: string };
  /** Set: deploy to a Docker Swarm through this manager instead of an SSH fleet (src/swarm/). */
  swarm?: SwarmConfig;
  env_file: string;
  /** The app's environment the deploy writes on every host (clear values from here, secrets by name from the runner's environment). */
  env?: AppEnvConfig;
  /** Entrypoint commands run once on the first host before any restart. */
  tasks: string[][];
  roles: Record<string, RoleConfig>;
  /** Scheduled jobs by name (none when absent). */
  cron?: Record<string, CronJobConfig>;
  /** Maintenance mode of the proxy: the page, and whether a deploy shows it while its tasks run. */
  maintenance?: MaintenanceConfig;
  /** A PostgreSQL backup before the release tasks of every deploy (src/backup). */
  backup?: BackupConfig;
  rolling: { batch: number | string };
  keep: number;
  /** deploy refuses a digest without a passing test record on the registry (src/registry/test-record.ts); default true. */
  require_tested: boolean;
  /** Base URL reported on the GitHub deployment (environment URL). */
  url?: string;
  /** Web roles behind a reverse proxy on each host (the default), or false: published port, no proxy. */
  proxy: ProxyConfig | false;
  /** Not a pallet.yml key: set for a review app (src/review/plan.ts), whose containers all join its network to reach its services. */
  network?: string;
}

/**
 * review: where and how each pull request runs as its own app (`APP-pr-N`): the hosts, the host
 * name pattern, its own services and environment, and the limits (src/review/plan.ts).
 */
export interface ReviewConfig {
  /** Hosts ([user@]host[:port]) that carry the review apps; every role of a review app runs on each. */
  hosts: string[];
  /** Host name of a review app, with `{number}` for the pull request's number, e.g. pr-{number}.review.example.com. */
  host: string;
  /** TLS of the review apps' routes (default: deploy.proxy.tls). */
  tls: 'auto' | 'internal' | 'off';
  /** Services each review app gets for itself (the catalog of test.services): a fresh PostgreSQL, Redis, ... */
  services: ServiceSpec[];
  /** Over deploy.env: `clear` merged over deploy.env.clear; `secret` are the review apps' own (deploy.env.secret is never given to them). */
  env: AppEnvConfig;
  /** Most review apps live at once on the review hosts. */
  max: number;
  /** At `max`: remove the app idle longest to make room (true), or refuse the deploy naming it (false, the default). */
  evict_oldest: boolean;
  /** Days without a deploy after which the next review deploy removes an app. */
  idle_days: number;
}

/** deploy.backup: `true` takes every default. */
export interface BackupConfig {
  /** Backups kept on the task host (the newest). */
  keep: number;
  /** PostgreSQL client image with pg_dump and pg_restore, major version >= the server's. */
  image: string;
  /**
   * The app's environment variables that may hold the database URL (postgres://...), the first one
   * set wins: `[url_env]` when set, else the contract's order, DB_DEFAULT_URL then DATABASE_URL.
   */
  url_env: string[];
}

/** deploy.maintenance: the proxy answers 503 with a page instead of the app (src/deploy/proxy/maintenance.ts). */
export interface MaintenanceConfig {
  /** A deploy turns it on before its release tasks; each host's switch to the new version ends it there. */
  during_tasks: boolean;
  /** The page (HTML) read from `page` at load; undefined: the built-in one. */
  page?: string;
  /** Seconds sent as Retry-After. */
  retry_after: number;
}

/** deploy.cron.NAME: a command of the live release run on a schedule by the hosts' cron. */
export interface CronJobConfig {
  /** Five-field cron schedule (crontab(5)), in `timezone`. */
  schedule: string;
  /** Entrypoint arguments, like deploy.tasks: a string is split on spaces, a list is taken as is. */
  command: string[];
  /** Hosts it runs on (each runs it); default: the first host of the first role. */
  hosts?: string[];
  /** IANA time zone the schedule is read in; default UTC. */
  timezone: string;
}

/** deploy.proxy: the per-host reverse proxy (Caddy) that web roles run behind. */
export interface ProxyConfig {
  /** Host names routed to the app's web role; [] = every host name (one such app per host). */
  hosts: string[];
  /** auto: ACME certificates; internal: the proxy's own CA; off: plain HTTP on port 80. */
  tls: 'auto' | 'internal' | 'off';
  /** Proxy image (official `caddy:2` by default). */
  image: string;
  /** Most seconds the previous containers get to finish requests in flight after the last switch. */
  drain_timeout: number;
  /**
   * Sources (CIDR ranges, addresses, or `private_ranges`) whose X-Forwarded-For/-Proto/-Host the
   * proxy passes on instead of replacing them. Default: `[private_ranges]` with tls off, else [].
   */
  trusted_proxies: string[];
  /** The app's collected static files, served by the proxy (undefined = the app serves its own, e.g. WhiteNoise). */
  static?: StaticFilesConfig;
  /** deploy.proxy.acme: the ACME CA `tls: auto` uses (undefined = Caddy's defaults, Let's Encrypt and ZeroSSL). */
  acme?: AcmeConfig;
}

/** deploy.proxy.acme: an ACME CA of your own (step-ca, a company CA) or an account email for the public ones. */
export interface AcmeConfig {
  /** The CA's ACME directory URL (https). Unset: Let's Encrypt, then ZeroSSL (Caddy's defaults). */
  ca?: string;
  /** The certificate (PEM, read from the file at load) the proxy trusts for `ca`'s HTTPS, when a private CA signs it. */
  ca_root?: string;
  /** Account email given to the CA (expiry notices). */
  email?: string;
}

/** deploy.proxy.static: where the image holds the collected files, and the URL prefix they are served under. */
export interface StaticFilesConfig {
  /** Directory in the image that `collectstatic` filled at build time (Django's STATIC_ROOT); default /static. */
  root: string;
  /** URL path prefix, starting and ending with '/' (Django's STATIC_URL); default /static/. */
  url: string;
}

/** deploy.env: `clear` values as strings (numbers and booleans as written), `secret` variable names. */
export interface AppEnvConfig {
  clear: Record<string, string>;
  secret: string[];
}

export interface SwarmConfig {
  /** Manager node, `[user@]host[:port]`, reached over the same pinned SSH as fleet hosts. */
  manager: string;
  /** How web ports are published: `host` (each node's port, behind your load balancer) or `ingress` (routing mesh). */
  publish: 'host' | 'ingress';
}

export interface RoleConfig {
  /** SSH fleet: the role's hosts. Empty with deploy.swarm (Swarm places tasks). */
  hosts: string[];
  /** Entrypoint arguments: a string is split on spaces, a list is taken as is. */
  command: string | string[];
  /** Web roles publish this container port (8000 by the contract) on the host. */
  port?: number;
  /** Host port to publish; defaults to port. */
  host_port?: number;
  /** host: sent as the Host header of the health check (default: the first deploy.proxy.hosts name). */
  health?: { path: string; timeout: number; host?: string };
  /** Seconds a non-web container must stay running to count as healthy. */
  stable?: number;
  /** Seconds a stopping container gets after stop_signal before it is killed (SIGKILL). */
  stop_timeout: number;
  /** Signal that asks the role's process to shut down cleanly, e.g. SIGTERM, SIGQUIT, SIGINT (default SIGTERM). */
  stop_signal?: string;
  /** Swarm: number of tasks; unset = one per node for web roles (global mode), 1 for others. */
  replicas?: number;
  /** Swarm: placement constraints, e.g. `node.role==worker`, `node.labels.tier==web`. */
  placement?: string[];
}
