// `lab up`: engine, images, registry, hosts, load balancer, descriptor. Idempotent: whatever is
// already up and healthy is reused, and state is saved after every step.
import type { LabDescriptor } from '../helpers/lab.js';
import { ensureAcme } from './acme.js';
import { ensureEngine } from './engine.js';
import { ensureHosts, HOST_WEB_PORT } from './hosts.js';
import { ensureImages } from './images.js';
import { ensureKeys } from './keys.js';
import { ensureLb } from './lb.js';
import { ensureSwarm } from './swarm.js';
import { ensureNetwork, ensureRegistry } from './registry.js';
import { pushToLabRegistry } from './push.js';
import { ensureLabDir, LAB_DIR, LAB_FILE, loadState, saveState, withLabLock, writeDescriptor } from './state.js';
import { log } from './util.js';

export const DEFAULT_HOSTS = 3;

export function requestedHosts(argv: string[], env: NodeJS.ProcessEnv = process.env): number {
  const i = argv.indexOf('--hosts');
  const raw = i >= 0 ? argv[i + 1] : argv.find((a) => a.startsWith('--hosts='))?.slice(8) ?? env.PALLET_LAB_HOSTS;
  if (raw === undefined) return DEFAULT_HOSTS;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > 20) throw new Error(`--hosts must be a whole number from 1 to 20, got '${raw}'`);
  return n;
}

/** `--acme`: an ACME CA (Pebble) on the lab network. */
export function requestedAcme(argv: string[]): boolean {
  return argv.includes('--acme');
}

/** `--swarm`: the hosts form one Docker Swarm (host 1 the manager). */
export function requestedSwarm(argv: string[]): boolean {
  return argv.includes('--swarm');
}

/**
 * Brings the lab up (idempotent). `swarm`: the hosts form a swarm; `acme`: the ACME CA is started,
 * and once started it stays in the lab (and in lab.json) until lab down.
 */
export async function labUp(hostCount = DEFAULT_HOSTS, opts: { swarm?: boolean; acme?: boolean } = {}): Promise<LabDescriptor> {
  return withLabLock(async () => {
    const t0 = Date.now();
    const step = (name: string) => log(`${name} ready after ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    ensureLabDir();
    await ensureEngine();
    step('engine');
    const state = loadState();
    saveState(state);
    const acme = opts.acme || state.acme?.containerId !== undefined;
    const [images, keys] = await Promise.all([ensureImages(acme ? ['acme'] : []), ensureKeys()]);
    step('images');
    const network = await ensureNetwork(state);
    saveState(state);
    await ensureRegistry(state, images.registryRuntime, network);
    saveState(state);
    step('registry');
    const proxyImage = await pushToLabRegistry(state, images.proxy, 'pallet-lab/caddy:2.6');
    const wanted = Math.max(hostCount, state.hosts.length);
    let hosts;
    try {
      hosts = await ensureHosts(state, wanted, images.host, network, keys);
    } finally {
      saveState(state);
    }
    step(`${hosts.length} hosts`);
    const swarm = opts.swarm ? await ensureSwarm(hosts, keys) : undefined;
    if (swarm) step(`swarm of ${swarm.nodes} nodes`);
    let acmeCa;
    if (acme) {
      try {
        acmeCa = await ensureAcme(state, network, hosts);
      } finally {
        saveState(state);
      }
      step('ACME CA');
    }
    const lb = await ensureLb(state, hosts.map((h) => ({ host: h.ip, port: HOST_WEB_PORT })), hosts.map((h) => ({ host: h.ip, port: 80 })));
    saveState(state);
    step('load balancer');
    const descriptor: LabDescriptor = {
      dir: LAB_DIR,
      registry: {
        address: `127.0.0.1:${state.registry.port}`,
        username: state.registry.username,
        password: state.registry.password,
        id: state.registry.containerId!,
      },
      images: {
        base: images.base, builder: images.builder, django: images.django, postgres: images.postgres,
        redis: images.redis, memcached: images.memcached, rabbitmq: images.rabbitmq, smtpSink: images.smtpSink,
        host: images.host, proxy: proxyImage,
      },
      ssh: { user: 'root', privateKeyPath: keys.privateKeyPath, knownHostsPath: keys.knownHostsPath },
      hosts,
      lb,
      network,
      ...(swarm ? { swarm } : {}),
      ...(acmeCa ? { acme: acmeCa } : {}),
    };
    writeDescriptor(descriptor);
    log(`lab up in ${((Date.now() - t0) / 1000).toFixed(1)} s: ${LAB_FILE}`);
    return descriptor;
  });
}
