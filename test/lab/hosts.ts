// SSH target hosts: containers from the host image, each with sshd (root by lab key only), its
// own dockerd, and a loopback forward to the lab registry. Reused when already up with the same
// image and settings; `up --hosts N` only ever adds hosts.
import { createHash } from 'node:crypto';
import type Docker from 'dockerode';
import { docker } from './engine.js';
import { scanHostKey, sshArgs, writeKnownHosts, type LabKeys } from './keys.js';
import { REGISTRY_ALIAS, REGISTRY_INNER_PORT } from './registry.js';
import { containerName, type HostState, type LabState } from './state.js';
import { log, pickPort, run, waitFor } from './util.js';
import type { LabHost } from '../helpers/lab.js';

export const HOST_WEB_PORT = 8000;
const CONFIG_LABEL = 'pallet-lab.host-config';

/**
 * The lab host flags of LAB.md (a working inner dockerd without --privileged), shared by every
 * kind of lab host; each adds its tmpfs mounts (/var/lib/docker for overlay2, more for systemd).
 */
export const LAB_HOST_FLAGS = {
  CapAdd: ['ALL'],
  CapDrop: ['MAC_OVERRIDE', 'SYS_RESOURCE'],
  SecurityOpt: ['seccomp=unconfined', 'apparmor=unconfined'],
  MaskedPaths: [] as string[],
  ReadonlyPaths: [] as string[],
  DeviceCgroupRules: ['a *:* rwm'],
  Binds: ['/sys/fs/cgroup:/sys/fs/cgroup:rw'],
  CgroupnsMode: 'host',
};

/**
 * Container settings that give a working inner dockerd without --privileged (refused on the lab
 * machines); see LAB.md. `systempaths=unconfined` is a docker CLI option: over the API it means
 * empty MaskedPaths/ReadonlyPaths.
 */
export function hostContainerSpec(p: {
  name: string;
  image: string;
  labId: string;
  index: number;
  network: string;
  sshPort: number;
  webPort: number;
  publicKey: string;
  registryPort: number;
  configHash: string;
}): Docker.ContainerCreateOptions {
  const hostConfig = {
    ...LAB_HOST_FLAGS,
    Tmpfs: { '/var/lib/docker': '' },
    Init: true,
    RestartPolicy: { Name: 'unless-stopped' },
    PortBindings: {
      '22/tcp': [{ HostIp: '127.0.0.1', HostPort: String(p.sshPort) }],
      [`${HOST_WEB_PORT}/tcp`]: [{ HostIp: '127.0.0.1', HostPort: String(p.webPort) }],
    },
  };
  return {
    name: p.name,
    Hostname: `lab-host-${p.index}`,
    Image: p.image,
    Env: [
      `LAB_AUTHORIZED_KEY=${p.publicKey}`,
      `LAB_REGISTRY_PORT=${p.registryPort}`,
      `LAB_REGISTRY_UPSTREAM=${REGISTRY_ALIAS}:${REGISTRY_INNER_PORT}`,
    ],
    Labels: {
      'pallet-lab': p.labId,
      'pallet-lab.role': 'host',
      'pallet-lab.index': String(p.index),
      [CONFIG_LABEL]: p.configHash,
    },
    ExposedPorts: { '22/tcp': {}, [`${HOST_WEB_PORT}/tcp`]: {} },
    HostConfig: hostConfig as Docker.HostConfig,
    NetworkingConfig: { EndpointsConfig: { [p.network]: { Aliases: [`lab-host-${p.index}`] } } },
  };
}

/** Id of the container with this name if it carries our lab label. */
export async function ownContainerId(name: string, labId: string): Promise<string | undefined> {
  try {
    const info = await docker.getContainer(name).inspect();
    return info.Config.Labels?.['pallet-lab'] === labId ? info.Id : undefined;
  } catch {
    return undefined;
  }
}

/** A host container of ours the state file lost (interrupted up): keep it and its ports. */
async function adoptHost(state: LabState, index: number): Promise<HostState | undefined> {
  const id = await ownContainerId(containerName(state, `host-${index}`), state.labId);
  if (!id) return undefined;
  const ports = (await docker.getContainer(id).inspect()).HostConfig.PortBindings as Record<string, Array<{ HostPort: string }>>;
  const ssh = Number(ports?.['22/tcp']?.[0]?.HostPort);
  const web = Number(ports?.[`${HOST_WEB_PORT}/tcp`]?.[0]?.HostPort);
  return ssh && web ? { index, sshPort: ssh, webPort: web, containerId: id } : undefined;
}

async function ensureHostContainer(
  state: LabState, h: HostState, imageId: string, image: string, network: string, keys: LabKeys,
): Promise<void> {
  const configHash = createHash('sha256')
    .update(JSON.stringify([imageId, keys.publicKey, state.registry.port, h.sshPort, h.webPort, network]))
    .digest('hex')
    .slice(0, 16);
  // A container of ours may exist that the state file does not know (an interrupted up).
  h.containerId ??= await ownContainerId(containerName(state, `host-${h.index}`), state.labId);
  if (h.containerId) {
    try {
      const info = await docker.getContainer(h.containerId).inspect();
      if (info.Config.Labels?.[CONFIG_LABEL] === configHash) {
        // Fault-injection tests stop or pause hosts; a test that died half-way may leave them so.
        if (info.State.Paused) await docker.getContainer(info.Id).unpause();
        else if (!info.State.Running) await docker.getContainer(info.Id).start();
        return;
      }
      log(`host ${h.index}: settings or image changed, recreating`);
      await docker.getContainer(info.Id).remove({ force: true, v: true });
    } catch (e) {
      if ((e as { statusCode?: number }).statusCode !== 404) throw e;
    }
    h.containerId = undefined;
  }
  const c = await docker.createContainer(
    hostContainerSpec({
      name: containerName(state, `host-${h.index}`),
      image, labId: state.labId, index: h.index, network,
      sshPort: h.sshPort, webPort: h.webPort, publicKey: keys.publicKey,
      registryPort: state.registry.port, configHash,
    }),
  );
  h.containerId = c.id;
  await c.start();
  log(`host ${h.index} started: ssh 127.0.0.1:${h.sshPort}, web 127.0.0.1:${h.webPort} (${c.id.slice(0, 12)})`);
}

/** Waits (bounded) until sshd answers with a host key we can pin. */
async function waitHostReady(h: HostState, hostKeys: Map<number, string[]>): Promise<void> {
  await waitFor(`sshd on host ${h.index}`, async () => {
    const lines = await scanHostKey(h.sshPort);
    if (lines.length) hostKeys.set(h.index, lines);
    return lines.length > 0;
  }, { attempts: 60, intervalMs: 1000, timeoutMs: 90_000 });
}

/** Waits (bounded) until dockerd answers inside and the registry is reachable at 127.0.0.1:PORT there. */
async function checkInside(h: HostState, keys: LabKeys, registryPort: number): Promise<void> {
  const probe = `docker info --format '{{.ServerVersion}}' >/dev/null && curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:${registryPort}/v2/`;
  let last = '';
  await waitFor(`docker and registry inside host ${h.index}`, async () => {
    const r = await run('ssh', [...sshArgs(keys, h.sshPort), probe], { allowFailure: true, timeoutMs: 20_000 });
    last = (r.stdout + r.stderr).trim();
    if (r.code === 0 && r.stdout.trim() === '401') return true;
    throw new Error(last || `exit ${r.code}`);
  }, { attempts: 60, intervalMs: 1000, timeoutMs: 90_000 });
}

export async function ensureHosts(
  state: LabState, count: number, image: string, network: string, keys: LabKeys,
): Promise<LabHost[]> {
  const imageId = (await docker.getImage(image).inspect()).Id;
  const taken = new Set([state.registry.port, state.lb.port, ...state.hosts.flatMap((h) => [h.sshPort, h.webPort])]);
  for (let i = state.hosts.length + 1; i <= count; i++) {
    const adopted = await adoptHost(state, i);
    state.hosts.push(adopted ?? { index: i, sshPort: await pickPort(2200 + i, taken), webPort: await pickPort(18000 + i, taken) });
  }
  for (const h of state.hosts) await ensureHostContainer(state, h, imageId, image, network, keys);

  const hostKeys = new Map<number, string[]>();
  await Promise.all(state.hosts.map((h) => waitHostReady(h, hostKeys)));
  // Rebuilt from scratch each time: a recreated host has new keys, stale pins must go.
  writeKnownHosts(keys.knownHostsPath, state.hosts.flatMap((h) => hostKeys.get(h.index) ?? []));
  await Promise.all(state.hosts.map((h) => checkInside(h, keys, state.registry.port)));

  return Promise.all(
    state.hosts.map(async (h): Promise<LabHost> => {
      const info = await docker.getContainer(h.containerId!).inspect();
      const ip = info.NetworkSettings.Networks[network]?.IPAddress ?? '';
      return {
        name: `lab-host-${h.index}`,
        address: `127.0.0.1:${h.sshPort}`,
        sshHost: '127.0.0.1',
        sshPort: h.sshPort,
        containerId: info.Id,
        ip,
        webUrl: `http://127.0.0.1:${h.webPort}`,
      };
    }),
  );
}
