// The lab registry: Debian's docker-registry (distribution v2.8) with htpasswd (bcrypt) auth and
// filesystem storage under .lab/registry. It runs in a container on the lab network (alias
// `registry`) published on 127.0.0.1:PORT, so the outer engine pushes to 127.0.0.1:PORT and each
// host reaches it at the same address through a loopback socat forward.
import { existsSync, mkdirSync, writeFileSync, chmodSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { docker } from './engine.js';
import { ownContainerId } from './hosts.js';
import { containerName, labPath, type LabState } from './state.js';
import { log, pickPort, portFree, run, waitFor } from './util.js';

export const REGISTRY_ALIAS = 'registry';
export const REGISTRY_INNER_PORT = 5000;
const REGISTRY_BIN = '/usr/bin/docker-registry';

export function registryConfig(secret: string): string {
  return [
    'version: 0.1',
    'log:',
    '  level: info',
    'storage:',
    '  filesystem:',
    '    rootdirectory: /var/lib/registry',
    '  delete:',
    '    enabled: true',
    'http:',
    `  addr: 0.0.0.0:${REGISTRY_INNER_PORT}`,
    `  secret: ${secret}`,
    'auth:',
    '  htpasswd:',
    '    realm: pallet-lab',
    '    path: /etc/docker/registry/htpasswd',
    '',
  ].join('\n');
}

async function writeRegistryFiles(state: LabState): Promise<void> {
  const dir = labPath('registry');
  mkdirSync(labPath('registry', 'data'), { recursive: true });
  mkdirSync(labPath('registry', 'etc'), { recursive: true, mode: 0o700 });
  const conf = labPath('registry', 'etc', 'config.yml');
  if (!existsSync(conf)) writeFileSync(conf, registryConfig(randomBytes(16).toString('hex')), { mode: 0o600 });
  const htpasswd = labPath('registry', 'etc', 'htpasswd');
  if (!existsSync(htpasswd)) {
    // Password on stdin (-i), never in argv.
    const r = await run('htpasswd', ['-B', '-i', '-n', state.registry.username], { input: state.registry.password + '\n' });
    writeFileSync(htpasswd, r.stdout.trim() + '\n', { mode: 0o600 });
  }
  chmodSync(dir, 0o700);
}

async function registryAnswers(port: number): Promise<boolean> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/v2/`, { signal: AbortSignal.timeout(2000) });
    return res.status === 401; // up, and asking for credentials
  } catch {
    return false;
  }
}

export async function ensureRegistry(state: LabState, runtimeImage: string, networkName: string): Promise<void> {
  if (!existsSync(REGISTRY_BIN)) {
    throw new Error(`${REGISTRY_BIN} is missing: apt-get install -y docker-registry apache2-utils`);
  }
  await writeRegistryFiles(state);
  state.registry.containerId ??= await ownContainerId(containerName(state, 'registry'), state.labId);
  if (state.registry.containerId) {
    const id = state.registry.containerId;
    try {
      const info = await docker.getContainer(id).inspect();
      // An `up` interrupted before saving state adopted this container: its port is on the container.
      const bound = Number(info.HostConfig.PortBindings?.[`${REGISTRY_INNER_PORT}/tcp`]?.[0]?.HostPort ?? 0);
      if (bound) state.registry.port = bound;
      if (!info.State.Running) await docker.getContainer(info.Id).start();
      await waitFor('the lab registry', () => registryAnswers(state.registry.port), { timeoutMs: 30_000 });
      log(`registry reused: 127.0.0.1:${state.registry.port} (${info.Id.slice(0, 12)})`);
      return;
    } catch (e) {
      // Ours (found by name and lab label) but unusable: remove it by id and make a new one.
      log(`registry ${id.slice(0, 12)} not reusable (${(e as Error).message}); recreating`);
      await docker.getContainer(id).remove({ force: true }).catch(() => undefined);
      state.registry.containerId = undefined;
    }
  }
  const taken = new Set([...state.hosts.flatMap((h) => [h.sshPort, h.webPort]), state.lb.port]);
  if (!state.registry.port || !(await portFree(state.registry.port))) {
    state.registry.port = await pickPort(5000, taken);
  }
  const port = state.registry.port;
  const c = await docker.createContainer({
    name: containerName(state, 'registry'),
    Image: runtimeImage,
    Cmd: [REGISTRY_BIN, 'serve', '/etc/docker/registry/config.yml'],
    Labels: { 'pallet-lab': state.labId, 'pallet-lab.role': 'registry' },
    ExposedPorts: { [`${REGISTRY_INNER_PORT}/tcp`]: {} },
    HostConfig: {
      Binds: [
        `${REGISTRY_BIN}:${REGISTRY_BIN}:ro`,
        `${labPath('registry', 'etc')}:/etc/docker/registry:ro`,
        `${labPath('registry', 'data')}:/var/lib/registry`,
      ],
      PortBindings: { [`${REGISTRY_INNER_PORT}/tcp`]: [{ HostIp: '127.0.0.1', HostPort: String(port) }] },
      RestartPolicy: { Name: 'unless-stopped' },
    },
    NetworkingConfig: { EndpointsConfig: { [networkName]: { Aliases: [REGISTRY_ALIAS] } } },
  });
  state.registry.containerId = c.id;
  await c.start();
  await waitFor('the lab registry', () => registryAnswers(port), { timeoutMs: 30_000 });
  log(`registry up: 127.0.0.1:${port} (${c.id.slice(0, 12)})`);
}

/** The lab's own bridge network: hosts and registry meet here. */
export async function ensureNetwork(state: LabState): Promise<string> {
  const name = containerName(state, 'net');
  const nets = await docker.listNetworks({ filters: { name: [name] } });
  const existing = nets.find((n) => n.Name === name);
  if (existing) {
    state.networkId = existing.Id;
    return name;
  }
  const net = await docker.createNetwork({ Name: name, Driver: 'bridge', Labels: { 'pallet-lab': state.labId } });
  state.networkId = net.id;
  return name;
}
