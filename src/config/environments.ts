// `environments:` in pallet.yml: named overlays (staging, production, ...) over the base file for
// what differs between the places one build is deployed to: role hosts, proxy host names,
// deploy.env, url, the Swarm manager. The overlay is merged at the YAML document level, so every
// value keeps the source position it was written at: a problem in an overlay is reported at its
// own line. Merge rule (as Kamal's destination files): mappings merge key by key, everything else
// (lists, scalars) replaces what the base says.
import { isMap, isPair, isScalar, type Document, type Pair, type YAMLMap } from 'yaml';
import type { Problem } from './problems.js';
import { parseHostAddress } from './references.js';

/** Environment names: GitHub environment names pallet can also use in paths and messages. */
export const ENVIRONMENT_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;

/** What an overlay may change. build, test and image stay in the base: every environment runs the one image built and tested once. */
export const OVERLAY_KEYS = ['app', 'deploy'] as const;

const NOT_OVERLAID: Record<string, string> = {
  image: 'cannot be overlaid: every environment deploys the same image, built and tested once (promotion moves its digest); set image at the top level',
  build: 'cannot be overlaid: the image is built once for every environment; set build at the top level',
  test: 'cannot be overlaid: the image is tested once, before any environment gets it; set test at the top level',
  environments: 'cannot be nested: an environment overlays the base file only',
  review: 'cannot be overlaid: review apps are one set per repository; set review at the top level (they take deploy from the environment a review command names)',
};

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The environment names a parsed pallet.yml declares, in file order ([] without `environments`). */
export function environmentNames(data: unknown): string[] {
  const envs = isObj(data) ? data.environments : undefined;
  return isObj(envs) ? Object.keys(envs) : [];
}

/** Problems of the `environments` section itself (its shape, names and overlay keys); [] when absent or fine. */
export function environmentProblems(data: Obj): Problem[] {
  if (!('environments' in data)) return [];
  const envs = data.environments;
  if (!isObj(envs) || Object.keys(envs).length === 0) {
    return [{ path: ['environments'], message: 'expected a mapping of environment names to overlays, e.g. {staging: {deploy: ...}, production: {deploy: ...}}' }];
  }
  const problems: Problem[] = [];
  for (const [name, overlay] of Object.entries(envs)) {
    if (!ENVIRONMENT_NAME.test(name)) {
      problems.push({ path: ['environments', name], message: 'is not a valid environment name (letters, digits, _ . -, starting with a letter or digit, at most 63)' });
      continue;
    }
    if (overlay === null || overlay === undefined) continue; // an environment that changes nothing
    if (!isObj(overlay)) {
      problems.push({ path: ['environments', name], message: `expected a mapping with ${OVERLAY_KEYS.join(' and/or ')}` });
      continue;
    }
    for (const key of Object.keys(overlay)) {
      if ((OVERLAY_KEYS as readonly string[]).includes(key)) continue;
      const message = NOT_OVERLAID[key] ?? `is not a key an environment can overlay (only ${OVERLAY_KEYS.join(', ')})`;
      problems.push({ path: ['environments', name, key], message });
    }
  }
  return problems;
}

/**
 * The document of one environment: a clone of `doc` without `environments`, with
 * `environments.<name>` merged over it. Nodes are cloned with their source ranges, so positions
 * still point into the file. Assumes environmentProblems() found nothing.
 */
export function overlayDocument(doc: Document, name: string): Document {
  const merged = doc.clone();
  const root = merged.contents as YAMLMap;
  const envsPair = root.items.find((p) => keyOf(p) === 'environments');
  const overlay = isMap(envsPair?.value) ? (envsPair.value.items.find((p) => keyOf(p) === name)?.value) : undefined;
  root.items = root.items.filter((p) => keyOf(p) !== 'environments');
  if (isMap(overlay)) mergeInto(root, overlay);
  return merged;
}

/** Merges `over` into `base` in place: mappings key by key, anything else replaced by the overlay's node. */
function mergeInto(base: YAMLMap, over: YAMLMap): void {
  for (const pair of over.items) {
    if (!isPair(pair)) continue;
    const key = keyOf(pair);
    const existing = base.items.filter((p) => keyOf(p) === key).at(-1);
    if (existing && isMap(existing.value) && isMap(pair.value)) {
      mergeInto(existing.value, pair.value);
    } else if (existing) {
      existing.value = pair.value;
      // The key node moves too, so a problem about this value points at the overlay's line.
      existing.key = pair.key;
    } else {
      base.items.push(pair as Pair<unknown, unknown>);
    }
  }
}

function keyOf(p: unknown): string | undefined {
  if (!isPair(p)) return undefined;
  return isScalar(p.key) ? String(p.key.value) : String(p.key);
}

/** What one environment puts on which machines: its app name, hosts (`host:port`) and proxy host names. */
export interface EnvironmentFootprint {
  name: string;
  app: string;
  /** Every role host and the Swarm manager, as `host:port` (the SSH user does not make another machine). */
  hosts: string[];
  /** deploy.proxy.hosts when the proxy is on. */
  proxyHosts: string[];
}

/** An environment's footprint from its merged, validated document (plain data). */
export function footprintOf(name: string, data: Record<string, unknown>): EnvironmentFootprint {
  const deploy = isObj(data.deploy) ? data.deploy : {};
  const ssh = isObj(deploy.ssh) ? deploy.ssh : {};
  const port = typeof ssh.port === 'number' ? ssh.port : 22;
  const machine = (h: unknown): string | undefined => {
    const p = typeof h === 'string' ? parseHostAddress(h) : undefined;
    return p && typeof p !== 'string' ? `${p.host.toLowerCase()}:${p.port ?? port}` : undefined;
  };
  const roles = isObj(deploy.roles) ? Object.values(deploy.roles) : [];
  const hosts = roles.flatMap((r) => (isObj(r) && Array.isArray(r.hosts) ? r.hosts.map(machine) : []));
  const manager = isObj(deploy.swarm) ? machine(deploy.swarm.manager) : undefined;
  const proxy = deploy.proxy === false ? undefined : isObj(deploy.proxy) ? deploy.proxy : {};
  return {
    name, app: typeof data.app === 'string' ? data.app : '',
    hosts: [...new Set([...hosts, manager].filter((h): h is string => !!h))],
    proxyHosts: proxy && Array.isArray(proxy.hosts) ? proxy.hosts.map(String) : [],
  };
}

/**
 * Pure: environments that would take each other's place on a shared machine: the same app name
 * (its containers, lock, state and default env file are one), or the same proxy host name.
 * One problem per pair, at the later environment.
 */
export function sharedHostProblems(envs: EnvironmentFootprint[]): Problem[] {
  const out: Problem[] = [];
  envs.forEach((b, j) => envs.slice(0, j).forEach((a) => {
    const shared = a.hosts.filter((h) => b.hosts.includes(h));
    if (!shared.length) return;
    if (a.app === b.app) {
      out.push({ path: ['environments', b.name], message: `deploys app '${b.app}' to ${shared.join(', ')} like environment ${a.name}: one would replace the other; give it its own app (and env_file) in its overlay, e.g. app: ${b.app}-${b.name}` });
    }
    const names = a.proxyHosts.filter((n) => b.proxyHosts.includes(n));
    if (names.length) {
      out.push({ path: ['environments', b.name], message: `routes ${names.join(', ')} on ${shared.join(', ')} like environment ${a.name}: give each environment its own deploy.proxy.hosts` });
    }
  }));
  return out;
}
