// `lab up --acme`: an ACME CA on the lab network, from Debian's pebble package (Pebble, the
// RFC 8555 test CA, and pebble-challtestsrv as its DNS server). Pebble validates for real: it
// looks each name up in challtestsrv and fetches the HTTP-01 answer from port 80 of that address.
// The lab registers `lab-host-N.acme.test` for each host; tests add their own names (add-a).
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { request } from 'node:https';
import { docker } from './engine.js';
import { ownContainerId } from './hosts.js';
import { ACME_IMAGE } from './images.js';
import { ACME_DIR_IN_CONTAINER } from './scripts.js';
import { containerName, labPath, type LabState } from './state.js';
import { log, waitFor } from './util.js';
import type { LabAcme, LabHost } from '../helpers/lab.js';

/** Pebble's directory, its management API (issuing roots), challtestsrv's management API. */
export const ACME_PORTS = { directory: 14000, management: 15000, dns: 8055 } as const;

/** The name challtestsrv resolves to lab host `index`'s address (pure). */
export function labHostAcmeName(index: number): string {
  return `lab-host-${index}.acme.test`;
}

/** GET over HTTPS trusting only `ca` (PEM); resolves with the status and body. */
export function httpsGet(url: string, ca: string, timeoutMs = 5000): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { ca, timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error(`no answer from ${url} in ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}

/**
 * Points `name` at `addresses` in challtestsrv's DNS, replacing what it had (its management API:
 * `clear-a`, then `add-a`, which adds to the addresses already there).
 */
export async function addAcmeName(dnsUrl: string, name: string, addresses: string[]): Promise<void> {
  const cleared = await fetch(`${dnsUrl}/clear-a`, { method: 'POST', body: JSON.stringify({ host: name }), signal: AbortSignal.timeout(5000) });
  if (!cleared.ok) throw new Error(`challtestsrv clear-a ${name}: HTTP ${cleared.status} ${await cleared.text()}`);
  const res = await fetch(`${dnsUrl}/add-a`, { method: 'POST', body: JSON.stringify({ host: name, addresses }), signal: AbortSignal.timeout(5000) });
  if (!res.ok) throw new Error(`challtestsrv add-a ${name}: HTTP ${res.status} ${await res.text()}`);
}

async function running(id: string): Promise<{ ip: string } | undefined> {
  try {
    const info = await docker.getContainer(id).inspect();
    if (info.State.Paused) await docker.getContainer(id).unpause();
    else if (!info.State.Running) await docker.getContainer(id).start();
    const again = await docker.getContainer(id).inspect();
    const ip = Object.values(again.NetworkSettings.Networks ?? {})[0]?.IPAddress;
    return ip ? { ip } : undefined;
  } catch (e) {
    if ((e as { statusCode?: number }).statusCode === 404) return undefined;
    throw e;
  }
}

/**
 * Starts the ACME CA when it is not running (reuses it when it is), waits (bounded) until its
 * directory answers over HTTPS with the listener certificate, and registers the hosts' names.
 */
export async function ensureAcme(state: LabState, network: string, hosts: LabHost[]): Promise<LabAcme> {
  const dir = labPath('acme');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  state.acme ??= {};
  state.acme.containerId ??= await ownContainerId(containerName(state, 'acme'), state.labId);
  let up = state.acme.containerId ? await running(state.acme.containerId) : undefined;
  if (!up) {
    const c = await docker.createContainer({
      name: containerName(state, 'acme'),
      Image: ACME_IMAGE,
      Labels: { 'pallet-lab': state.labId, 'pallet-lab.role': 'acme' },
      HostConfig: { Binds: [`${dir}:${ACME_DIR_IN_CONTAINER}`], Init: true, RestartPolicy: { Name: 'unless-stopped' } },
      NetworkingConfig: { EndpointsConfig: { [network]: { Aliases: ['acme'] } } },
    });
    state.acme.containerId = c.id;
    await c.start();
    up = await running(c.id);
    if (!up) throw new Error(`the ACME CA container ${c.id.slice(0, 12)} has no address on ${network}`);
    log(`ACME CA started (${c.id.slice(0, 12)}): Pebble at ${up.ip}`);
  }
  const { ip } = up;
  const caRootPath = labPath('acme', 'listener.pem');
  const directory = `https://${ip}:${ACME_PORTS.directory}/dir`;
  await waitFor('the ACME directory (Pebble)', async () => {
    // The certificate is made for the container's address at its start: read it each time.
    if (!existsSync(caRootPath) || readFileSync(labPath('acme', 'listener.ip'), 'utf8').trim() !== ip) return false;
    const r = await httpsGet(directory, readFileSync(caRootPath, 'utf8'));
    if (r.status !== 200 || !r.body.includes('newOrder')) throw new Error(`HTTP ${r.status}: ${r.body.slice(0, 200)}`);
    return true;
  }, { attempts: 60, intervalMs: 500, timeoutMs: 30_000 });
  const dnsUrl = `http://${ip}:${ACME_PORTS.dns}`;
  await waitFor('challtestsrv (the ACME CA\'s DNS)', async () => {
    for (const h of hosts) await addAcmeName(dnsUrl, labHostAcmeName(Number(h.name.replace(/\D+/g, ''))), [h.ip]);
    return true;
  }, { attempts: 20, intervalMs: 500, timeoutMs: 15_000 });
  return {
    directory, caRootPath, rootsUrl: `https://${ip}:${ACME_PORTS.management}/roots/0`, dnsUrl, ip, id: state.acme.containerId!,
  };
}
