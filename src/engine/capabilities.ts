// What each deploy target honours of pallet.yml's deploy section, and the load-time check that
// refuses an option its target would otherwise ignore. docs/targets.md publishes the same table
// (scripts/targets-table.ts prints it; test/unit/docs.test.ts fails when the two drift).
import { isWithin, type KeyPath, type Problem } from '../config/problems.js';

/**
 * Where a deploy goes: SSH hosts whose web roles publish a host port, SSH hosts whose web roles
 * run behind the per-host proxy, or a Docker Swarm driven through one manager.
 */
export type Target = 'published-port' | 'proxy' | 'swarm';

export const TARGETS: readonly Target[] = ['published-port', 'proxy', 'swarm'];

/** How a config selects each target, as messages and the docs say it. */
export const TARGET_SELECTED_BY: Record<Target, string> = {
  'published-port': 'SSH hosts with deploy.proxy: false',
  proxy: 'SSH hosts behind the per-host proxy, the default',
  swarm: 'deploy.swarm is set',
};

/**
 * Every key the schema accepts under deploy (and `review`, which runs through the same drivers), in
 * the docs table's order; `<role>` stands for any role name. A mapping listed without its keys
 * (deploy.env, review) is decided as a whole.
 */
export const DEPLOY_KEYS = [
  'deploy.ssh.user',
  'deploy.ssh.port',
  'deploy.ssh.jump',
  'deploy.swarm.manager',
  'deploy.swarm.publish',
  'deploy.env_file',
  'deploy.env',
  'deploy.tasks',
  'deploy.roles.<role>.hosts',
  'deploy.roles.<role>.command',
  'deploy.roles.<role>.port',
  'deploy.roles.<role>.host_port',
  'deploy.roles.<role>.health.path',
  'deploy.roles.<role>.health.timeout',
  'deploy.roles.<role>.health.host',
  'deploy.roles.<role>.stable',
  'deploy.roles.<role>.stop_timeout',
  'deploy.roles.<role>.stop_signal',
  'deploy.roles.<role>.replicas',
  'deploy.roles.<role>.placement',
  'deploy.cron',
  'deploy.maintenance',
  'deploy.backup',
  'deploy.rolling.batch',
  'deploy.keep',
  'deploy.require_tested',
  'deploy.url',
  'deploy.proxy',
  'deploy.proxy.hosts',
  'deploy.proxy.tls',
  'deploy.proxy.image',
  'deploy.proxy.drain_timeout',
  'deploy.proxy.trusted_proxies',
  'deploy.proxy.static',
  'deploy.proxy.acme',
  'review',
] as const;

export type DeployKey = (typeof DEPLOY_KEYS)[number];

/** Why a target does not honour a key (one line, for the docs), and what to do instead (for the message). */
export interface Refusal {
  reason: string;
  fix?: string;
}

export type Support = 'yes' | Refusal;

/** A target's decision for every deploy key (the type makes each target decide each key). */
export type Capabilities = Record<DeployKey, Support>;

const no = (reason: string, fix?: string): Refusal => (fix ? { reason, fix } : { reason });

// Unreachable on SSH hosts (setting deploy.swarm selects the swarm target), declared all the same.
const SWARM_ONLY = no('Swarm only (setting deploy.swarm selects the swarm target)');

/** What both SSH-host targets honour; each overrides what differs. */
const SSH_HOSTS: Capabilities = {
  'deploy.ssh.user': 'yes',
  'deploy.ssh.port': 'yes',
  'deploy.ssh.jump': 'yes',
  'deploy.swarm.manager': SWARM_ONLY,
  'deploy.swarm.publish': SWARM_ONLY,
  'deploy.env_file': 'yes',
  'deploy.env': 'yes',
  'deploy.tasks': 'yes',
  'deploy.roles.<role>.hosts': 'yes',
  'deploy.roles.<role>.command': 'yes',
  'deploy.roles.<role>.port': 'yes',
  'deploy.roles.<role>.host_port': 'yes',
  'deploy.roles.<role>.health.path': 'yes',
  'deploy.roles.<role>.health.timeout': 'yes',
  'deploy.roles.<role>.health.host': 'yes',
  'deploy.roles.<role>.stable': 'yes',
  'deploy.roles.<role>.stop_timeout': 'yes',
  'deploy.roles.<role>.stop_signal': 'yes',
  'deploy.roles.<role>.replicas': no('a role runs one container on each host it lists', 'remove it and list one host per container in hosts'),
  'deploy.roles.<role>.placement': no('a role runs on exactly the hosts it lists', 'remove it and list the hosts in hosts'),
  'deploy.cron': 'yes',
  'deploy.maintenance': 'yes',
  'deploy.backup': 'yes',
  'deploy.rolling.batch': 'yes',
  'deploy.keep': 'yes',
  'deploy.require_tested': 'yes',
  'deploy.url': 'yes',
  'deploy.proxy': 'yes',
  'deploy.proxy.hosts': 'yes',
  'deploy.proxy.tls': 'yes',
  'deploy.proxy.image': 'yes',
  'deploy.proxy.drain_timeout': 'yes',
  'deploy.proxy.trusted_proxies': 'yes',
  'deploy.proxy.static': 'yes',
  'deploy.proxy.acme': 'yes',
  review: 'yes',
};

// Unreachable with deploy.proxy: false (the schema allows no keys under false), declared all the same.
const NO_PROXY = no('there is no proxy (web roles publish host_port)');

const PUBLISHED_PORT: Capabilities = {
  ...SSH_HOSTS,
  'deploy.maintenance': no('the page is answered by the proxy, and there is none (web roles publish host_port)', 'remove it, or put the web roles behind the proxy'),
  'deploy.proxy.hosts': NO_PROXY,
  'deploy.proxy.tls': NO_PROXY,
  'deploy.proxy.image': NO_PROXY,
  'deploy.proxy.drain_timeout': NO_PROXY,
  'deploy.proxy.trusted_proxies': NO_PROXY,
  'deploy.proxy.static': NO_PROXY,
  'deploy.proxy.acme': NO_PROXY,
  review: no('review apps share the hosts and are told apart by host name, which only the proxy routes', 'remove it, or put the web roles behind the proxy'),
};

const PROXY: Capabilities = {
  ...SSH_HOSTS,
  'deploy.roles.<role>.host_port': no('nothing is published behind the proxy, which takes the requests on ports 80/443 and routes them by host name',
    'remove it, or set deploy.proxy: false to publish the port'),
};

const SWARM_PROXY = no('a Swarm has no per-host proxy; web tasks publish host_port on every node, or on the routing mesh (deploy.swarm.publish)',
  'remove it (deploy.proxy: false is accepted) and point your load balancer at the published port of the nodes');

const SWARM: Capabilities = {
  ...SSH_HOSTS,
  'deploy.swarm.manager': 'yes',
  'deploy.swarm.publish': 'yes',
  'deploy.env': no("the deploy writes the app's env file on SSH hosts only; Swarm services read deploy.env_file on the manager",
    'keep the settings in deploy.env_file on the manager'),
  'deploy.roles.<role>.hosts': no('Swarm places the tasks on its nodes', 'remove it and use replicas and placement constraints instead'),
  'deploy.roles.<role>.replicas': 'yes',
  'deploy.roles.<role>.placement': 'yes',
  'deploy.cron': no("the jobs run from each SSH host's own cron, and a Swarm is driven through its manager only; Swarm has no scheduled services",
    'remove it, and start the command on a schedule from outside (a scheduled workflow running `pallet exec`), or deploy the app to SSH hosts'),
  'deploy.keep': no('each node keeps the images it pulled; pallet prunes images on SSH hosts only',
    'remove it, and prune the nodes with docker image prune on a schedule'),
  'deploy.maintenance': SWARM_PROXY,
  'deploy.backup': no('the dump runs on the SSH host that runs the release tasks, and a Swarm runs its tasks as a service',
    'remove it, and back up before the deploy in the workflow (a job step running pg_dump), or deploy the app to SSH hosts'),
  'deploy.proxy': SWARM_PROXY,
  'deploy.proxy.hosts': SWARM_PROXY,
  'deploy.proxy.tls': SWARM_PROXY,
  'deploy.proxy.image': SWARM_PROXY,
  'deploy.proxy.drain_timeout': SWARM_PROXY,
  'deploy.proxy.trusted_proxies': SWARM_PROXY,
  'deploy.proxy.static': SWARM_PROXY,
  'deploy.proxy.acme': SWARM_PROXY,
  review: no('review apps run on review.hosts over SSH, each behind the per-host proxy, which a Swarm has none of', 'remove it; to keep review apps, give them a pallet.yml of their own whose deploy section is for SSH hosts behind the proxy (the config input, --config)'),
};

/** Each target's declaration: the deploy keys it honours, and why not for the others. */
export const CAPABILITIES: Record<Target, Capabilities> = { 'published-port': PUBLISHED_PORT, proxy: PROXY, swarm: SWARM };

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * The target a config deploys to: deploy.swarm set -> swarm; deploy.proxy: false ->
 * published-port; otherwise (also without a deploy section) proxy. Takes the parsed file as
 * well as the resolved PalletConfig (both have the same deploy.swarm and deploy.proxy).
 */
export function targetOf(config: { deploy?: unknown }): Target {
  const deploy = config.deploy;
  if (!isObj(deploy)) return 'proxy';
  if (isObj(deploy.swarm)) return 'swarm';
  return deploy.proxy === false ? 'published-port' : 'proxy';
}

// deploy.proxy: false asks for no proxy, which every target without one honours.
const isSet = (key: DeployKey, v: unknown): boolean => v !== undefined && !(key === 'deploy.proxy' && v === false);

/** The paths in `data` where `key` is set (one per role for `<role>` keys). */
function pathsOf(data: Obj, key: DeployKey): KeyPath[] {
  let found: { path: KeyPath; value: unknown }[] = [{ path: [], value: data }];
  for (const seg of key.split('.')) {
    found = found.flatMap(({ path, value }) => {
      if (!isObj(value)) return [];
      const names = seg === '<role>' ? Object.keys(value) : [seg];
      return names.filter((n) => value[n] !== undefined).map((n) => ({ path: [...path, n], value: value[n] }));
    });
  }
  return found.filter((f) => isSet(key, f.value)).map((f) => f.path);
}

/**
 * Pure: every deploy key set in the parsed pallet.yml `data` that its target does not honour,
 * as a Problem at the key's path (load.ts turns it into `file:line:col key: message`). The
 * message names the target, why and what to do. A refused mapping (deploy.proxy on a swarm)
 * is reported once, not again for each key in it. [] for data that is not a mapping.
 */
export function unsupportedOptions(data: unknown): Problem[] {
  if (!isObj(data)) return [];
  const target = targetOf(data);
  const caps = CAPABILITIES[target];
  const refused: Problem[] = [];
  for (const key of DEPLOY_KEYS) {
    const support = caps[key];
    if (support === 'yes') continue;
    const why = `${support.reason}${support.fix ? `; ${support.fix}` : ''}`;
    for (const path of pathsOf(data, key)) {
      refused.push({ path, message: `not supported by the ${target} target (${TARGET_SELECTED_BY[target]}): ${why}; see docs/targets.md` });
    }
  }
  return refused.filter((p) => !refused.some((q) => q !== p && isWithin(p.path, q.path)));
}
