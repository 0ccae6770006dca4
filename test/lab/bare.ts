// A bare host for `pallet setup`: a container of the bare image (systemd as PID 1, sshd, sudo, no
// Docker) on the lab network, with the lab host flags plus tmpfs /run and /run/lock. Started only
// when asked (the setup e2e test, `lab up --bare`) and removed by the id it returns. Inside: users
// `admin` (passwordless sudo) and `nosudo` (none) log in with the lab key; root cannot log in.
// 127.0.0.1:REGISTRY_PORT reaches the lab registry through a lab unit, as on the other hosts.
import { randomBytes } from 'node:crypto';
import type Docker from 'dockerode';
import { docker } from './engine.js';
import { ensureBareImage } from './images.js';
import { LAB_HOST_FLAGS } from './hosts.js';
import { scanHostKey } from './keys.js';
import { REGISTRY_ALIAS, REGISTRY_INNER_PORT } from './registry.js';
import { containerName, loadState, saveState, withLabLock } from './state.js';
import { run, waitFor } from './util.js';
import type { LabDescriptor } from '../helpers/lab.js';

/** A running bare host. */
export interface BareHost {
  /** Container id on the outer engine: remove it with removeBareHost. */
  id: string;
  name: string;
  /** What goes in pallet.yml hosts: 127.0.0.1:PORT. */
  address: string;
  sshPort: number;
  /** known_hosts lines of its host key, as ssh-keyscan printed them. */
  knownHosts: string;
  /** Its address on the lab network. */
  ip: string;
}

/** The container settings of a bare host (the lab host set from LAB.md, systemd's tmpfs, no docker-init). */
export function bareContainerSpec(p: { name: string; image: string; labId: string; network: string }): Docker.ContainerCreateOptions {
  return {
    name: p.name,
    Hostname: 'lab-bare',
    Image: p.image,
    Env: ['container=docker'],
    Labels: { 'pallet-lab': p.labId, 'pallet-lab.role': 'bare' },
    ExposedPorts: { '22/tcp': {} },
    HostConfig: {
      ...LAB_HOST_FLAGS,
      Tmpfs: { '/var/lib/docker': '', '/run': '', '/run/lock': '' },
      PortBindings: { '22/tcp': [{ HostIp: '127.0.0.1', HostPort: '' }] },
    } as Docker.HostConfig,
    NetworkingConfig: { EndpointsConfig: { [p.network]: {} } },
  };
}

/** `docker exec ID sh -c SCRIPT sh ARGS...` (the lab's own access, not the code under test). */
export async function bareExec(id: string, script: string, ...args: string[]): Promise<string> {
  const r = await run('docker', ['exec', id, 'sh', '-c', script, 'sh', ...args], { allowFailure: true, timeoutMs: 60_000 });
  if (r.code !== 0) throw new Error(`bare host ${id.slice(0, 12)}: '${script.split('\n')[0]}' exited ${r.code}: ${(r.stderr || r.stdout).trim().slice(-500)}`);
  return r.stdout;
}

/**
 * Builds the bare image if its recipe changed, starts a bare host and waits (bounded) until
 * systemd has booted, sshd answers and the registry forward runs. The lab key is installed for
 * `admin` and `nosudo`.
 */
export async function startBareHost(lab: LabDescriptor, publicKey: string): Promise<BareHost> {
  const image = await ensureBareImage();
  if (!lab.network) throw new Error('the lab descriptor names no network: run npm run lab:up again');
  const state = loadState();
  const name = containerName(state, `bare-${randomBytes(3).toString('hex')}`);
  const c = await docker.createContainer(bareContainerSpec({ name, image, labId: state.labId, network: lab.network }));
  // Recorded before it runs, so lab down removes it even when the test that started it died.
  await recordBare((ids) => [...ids, c.id]);
  try {
    await c.start();
    let booted = '';
    await waitFor('systemd to boot the bare host', async () => {
      const r = await run('docker', ['exec', c.id, 'systemctl', 'is-system-running'], { allowFailure: true, timeoutMs: 10_000 });
      booted = r.stdout.trim();
      return booted === 'running' || booted === 'degraded';
    }, { attempts: 120, intervalMs: 500, timeoutMs: 90_000 }).catch((e: Error) => { throw new Error(`${e.message} (last state: ${booted || 'no answer'})`); });
    const registryPort = lab.registry.address.split(':').pop()!;
    await bareExec(c.id, `for u in admin nosudo; do
  install -d -m 0700 -o "$u" -g "$u" "/home/$u/.ssh"
  printf '%s\\n' "$1" > "/home/$u/.ssh/authorized_keys"; chown "$u:$u" "/home/$u/.ssh/authorized_keys"; chmod 0600 "/home/$u/.ssh/authorized_keys"
done
printf 'LAB_REGISTRY_PORT=%s\\nLAB_REGISTRY_UPSTREAM=%s\\n' "$2" "$3" > /etc/default/lab-registry-forward
systemctl enable --now lab-registry-forward.service >/dev/null 2>&1
systemctl is-active ssh.service`, publicKey, registryPort, `${REGISTRY_ALIAS}:${REGISTRY_INNER_PORT}`);
    const info = await c.inspect();
    const sshPort = Number((info.NetworkSettings.Ports['22/tcp'] ?? [])[0]?.HostPort);
    let lines: string[] = [];
    await waitFor('sshd on the bare host', async () => (lines = await scanHostKey(sshPort)).length > 0, { attempts: 60, intervalMs: 500, timeoutMs: 60_000 });
    return { id: c.id, name, address: `127.0.0.1:${sshPort}`, sshPort, knownHosts: lines.join('\n') + '\n', ip: info.NetworkSettings.Networks[lab.network]?.IPAddress ?? '' };
  } catch (e) {
    await removeBareHost(c.id).catch(() => undefined);
    throw e;
  }
}

/** Updates the list of running bare hosts in the lab state, under the lab lock. */
async function recordBare(update: (ids: string[]) => string[]): Promise<void> {
  await withLabLock(async () => {
    const st = loadState();
    st.bare = update(st.bare ?? []);
    saveState(st);
  });
}

/** Removes a bare host by its id (and from the lab state). */
export async function removeBareHost(id: string): Promise<void> {
  await docker.getContainer(id).remove({ force: true, v: true }).catch((e: { statusCode?: number }) => {
    if (e.statusCode !== 404) throw e;
  });
  await recordBare((ids) => ids.filter((x) => x !== id));
}
