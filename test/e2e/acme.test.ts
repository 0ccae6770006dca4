// `tls: auto` against a real ACME CA: the lab's Pebble (`lab up --acme`), which validates every
// HTTP-01 challenge for real, on port 80 of the address its DNS (pebble-challtestsrv) gives for
// the name. Two hosts serve the app behind the lab's load balancer, and the DNS sends the name to
// host 2 only, as a load balancer would send the CA to any one host: host 1's certificate, ordered
// while host 2 has not switched yet, can only be issued if host 2's proxy passes host 1's
// challenge on (the challenge routes every host gets before the first switch). Then a deploy under a bounded
// request loop over https through the load balancer (TLS passed through to each host's proxy).
// The CA's certificates live for ACME_CERT_SECONDS, so the proxy's renewal is seen too.
import { jest } from '@jest/globals';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import tls from 'node:tls';
import { describeLab, labAvailable, labSshArgs, readLab, type LabAcme, type LabHost } from '../helpers/lab.js';
import { fetchVersion, startLoad } from '../helpers/load.js';
import { addAcmeName, httpsGet } from '../lab/acme.js';
import { ACME_CERT_SECONDS } from '../lab/scripts.js';
import type { ProxyConfig } from '../../src/config/types.js';
import { DeployFixture } from './deploy-fixture.js';

jest.setTimeout(600_000);

const NAME = 'shop.acme.test';
const APP = 'e2eacme';
const acme: LabAcme | undefined = labAvailable() ? readLab().acme : undefined;
const describeAcme = acme ? describeLab : (name: string, fn: () => void) => {
  const why = 'the lab has no ACME CA: run `npm run lab:up -- --acme`';
  if (process.env.CI === 'true') throw new Error(`${name}: ${why}`);
  process.stderr.write(`skipping '${name}': ${why}\n`);
  describe.skip(`${name} (skipped: ${why})`, fn);
};

/** What a TLS client sees on `ip:443` when it asks for NAME and trusts only `ca`. */
function certificateOn(ip: string, ca: string): Promise<{ authorized: boolean; error?: string; subjectAltName?: string; issuer?: string; serial?: string; validFrom?: number; validTo?: number }> {
  return new Promise((resolve) => {
    const s = tls.connect({ host: ip, port: 443, servername: NAME, ca, rejectUnauthorized: false, timeout: 5000 }, () => {
      const cert = s.getPeerCertificate();
      resolve({
        authorized: s.authorized, ...(s.authorizationError ? { error: String(s.authorizationError) } : {}), subjectAltName: cert.subjectaltname, issuer: String(cert.issuer?.CN), serial: cert.serialNumber,
        validFrom: Date.parse(cert.valid_from), validTo: Date.parse(cert.valid_to),
      });
      s.end();
    });
    s.on('timeout', () => { s.destroy(); resolve({ authorized: false, error: 'no TLS handshake within 5 s' }); });
    s.on('error', (e) => resolve({ authorized: false, error: e.message }));
  });
}

/**
 * Follows the proxy's log on `host` until a line matches `done` (resolves with it) or `deadlineMs`
 * passes (rejects with the last lines seen). The ssh child is ours and is ended either way.
 */
function waitForProxyLog(fx: DeployFixture, host: LabHost, done: RegExp, deadlineMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('ssh', [...labSshArgs(fx.lab, host), 'docker logs -f pallet-proxy 2>&1'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const seen: string[] = [];
    let rest = '';
    const finish = (fn: () => void) => { clearTimeout(timer); child.kill(); fn(); };
    const timer = setTimeout(() => finish(() => reject(new Error(`${host.name}: no ${done} in the proxy's log within ${deadlineMs / 1000} s; last lines:\n${seen.slice(-15).join('\n')}`))), deadlineMs);
    const onData = (d: Buffer) => {
      const lines = (rest + d.toString('utf8')).split('\n');
      rest = lines.pop() ?? '';
      for (const l of lines) {
        seen.push(l);
        if (done.test(l)) return finish(() => resolve(l));
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', (code) => finish(() => reject(new Error(`${host.name}: docker logs ended (exit ${code}); last lines:\n${seen.slice(-15).join('\n')}`))));
  });
}

describeAcme('tls: auto against a real ACME CA (Pebble), two hosts behind one load balancer (lab)', () => {
  let fx: DeployFixture;
  let pebbleRoot = '';
  let knownHosts = '';
  let hosts: LabHost[] = [];

  /** The app on hosts 1 and 2, named by their addresses on the lab network (what the hosts reach each other at). */
  const config = (batch = 1) => {
    const proxy: ProxyConfig = {
      hosts: [NAME], tls: 'auto', image: fx.lab.images.proxy!, drain_timeout: 1, trusted_proxies: [],
      acme: { ca: acme!.directory, ca_root: readFileSync(acme!.caRootPath, 'utf8'), email: 'ops@example.test' },
    };
    return fx.config({ web: hosts.map((h) => h.ip), workers: [], proxy, batch });
  };
  const deploy = (tag: string, batch?: number) => fx.deploy('deploy', { tag, config: config(batch), inputs: { 'ssh-known-hosts': knownHosts } });

  beforeAll(async () => {
    fx = new DeployFixture(APP);
    if (!fx.lab.images.proxy || !fx.lab.lb.tlsAddress) throw new Error('the lab has no proxy image or no TLS passthrough on its load balancer (libnginx-mod-stream): run `npm run lab:up -- --acme` again');
    hosts = fx.lab.hosts.slice(0, 2);
    await fx.setup(['v1', 'v2'], { ALLOWED_HOSTS: NAME });
    // Fresh proxies (no certificates yet). Host 3 has none: nothing answers on its port 443, so
    // the load balancer passes TLS to hosts 1 and 2 only.
    for (const a of fx.addresses) await fx.ssh(a, 'docker rm -f pallet-proxy >/dev/null 2>&1; rm -rf /var/lib/pallet/proxy /var/lib/pallet/proxy-data; true');
    // The hosts' keys, pinned for their lab-network addresses (the lab pins them for 127.0.0.1:PORT).
    const lines = readFileSync(fx.lab.ssh.knownHostsPath, 'utf8').split('\n');
    knownHosts = hosts.flatMap((h) => lines.filter((l) => l.startsWith(`[127.0.0.1]:${h.sshPort} `)).map((l) => l.replace(/^\S+/, h.ip))).join('\n') + '\n';
    // The CA finds the name at host 2 only, the host that switches last.
    await addAcmeName(acme!.dnsUrl, NAME, [hosts[1].ip]);
    pebbleRoot = (await httpsGet(acme!.rootsUrl, readFileSync(acme!.caRootPath, 'utf8'))).body;
    expect(pebbleRoot).toContain('-----BEGIN CERTIFICATE-----');
  }, 900_000);

  afterAll(async () => {
    if (process.env.PALLET_E2E_KEEP_PROXY) for (const a of fx?.addresses ?? []) await fx.ssh(a, 'docker logs pallet-proxy > /tmp/proxy.log 2>&1').catch(() => undefined);
    for (const a of fx?.addresses ?? []) await fx.ssh(a, `docker rm -f pallet-proxy >/dev/null 2>&1; rm -rf /var/lib/pallet/proxy /var/lib/pallet/proxy-data; docker network rm pallet-proxy pallet-app-${APP} >/dev/null 2>&1; true`).catch(() => undefined);
    await fx?.teardown();
  }, 300_000);

  test('first deploy: each host gets a certificate for the name, host 1 through host 2 (the only address the CA knows) before host 2 switched, no validation failing', async () => {
    // One host after the other (batch 1): host 1 switches and orders while host 2 still boots its
    // container. The CA's request for host 1's token goes to host 2, which passes it on through the
    // challenge routes the deploy put on every host before the first switch. Without them host 2
    // answers 404, the validation fails and host 1's proxy orders again a minute later.
    const r = await deploy(fx.tags.v1);
    expect(r.error).toBeUndefined();
    expect(r.result?.exitCode).toBe(0);
    // Each proxy logs when its certificate is issued (or keeps logging why not): bounded wait per host.
    const obtained = new RegExp(`certificate obtained successfully.*"identifier":"${NAME.replace(/\./g, '\\.')}"`);
    await Promise.all(hosts.map((h) => waitForProxyLog(fx, h, obtained, 180_000)));
    const seen = await Promise.all(hosts.map((h) => certificateOn(h.ip, pebbleRoot)));
    for (const [i, s] of seen.entries()) {
      expect({ host: hosts[i].name, ...s }).toMatchObject({ host: hosts[i].name, authorized: true, subjectAltName: `DNS:${NAME}` });
    }
    // Host 1 answered its challenge to host 2, never to the CA (which only knows host 2's address).
    const served = (await fx.ssh(fx.lab.hosts[0].address, "docker logs pallet-proxy 2>&1 | grep 'served key authentication' || true")).trim().split('\n').filter(Boolean);
    const remotes = served.map((l) => String(JSON.parse(l).remote).replace(/:\d+$/, ''));
    expect({ served: served.length > 0, remotes: [...new Set(remotes)] }).toEqual({ served: true, remotes: [hosts[1].ip] });
    // Not one validation failed on either host: each certificate came from the first order.
    const failedValidations = await Promise.all(fx.addresses.slice(0, 2).map((a) => fx.ssh(a, "docker logs pallet-proxy 2>&1 | grep -c -E 'challenge failed|could not get certificate' || true")));
    expect(failedValidations.map((n) => n.trim())).toEqual(['0', '0']);
    // Two orders of two accounts (each host's own), not one certificate seen twice.
    expect(new Set(seen.map((s) => s.serial)).size).toBe(2);
    const direct = await Promise.all(hosts.map((h) => fetchVersion(`https://${h.ip}:443`, NAME, {}, pebbleRoot)));
    expect(direct.map((d) => [d.status, d.version])).toEqual(hosts.map(() => [200, fx.tags.v1]));
  });

  /** Config loads the host's proxy has done: its admin API's POST /load requests, less those Caddy found unchanged. */
  const configLoads = async (address: string) => Number((await fx.ssh(address,
    `docker logs pallet-proxy 2>&1 | awk '/"uri":"\\/load"/ { n++ } /"msg":"config is unchanged"/ { n-- } END { print n + 0 }'`)).trim());

  test('https through the load balancer during a deploy: no request fails, and no host loads a proxy config', async () => {
    const url = `https://${fx.lab.lb.tlsAddress!}`;
    // The way through the load balancer works before the load starts.
    expect(await fetchVersion(url, NAME, {}, pebbleRoot)).toMatchObject({ status: 200, version: fx.tags.v1 });
    const loadsBefore = await Promise.all(fx.addresses.map(configLoads));
    const load = startLoad({ url, host: NAME, ca: pebbleRoot, concurrency: 4, pauseMs: 10, maxMs: 240_000, maxRequests: 50_000 });
    const r = await deploy(fx.tags.v2);
    await fx.views(); // the load goes on until every host has stopped the previous containers
    const stats = await load.stop();
    console.log(`https through the LB: ${JSON.stringify({ ...stats, failures: stats.failures.slice(0, 5) })}`);
    expect(r.error).toBeUndefined();
    expect(r.result?.exitCode).toBe(0);
    expect(stats.requests).toBeGreaterThan(100);
    // The switch renames containers (the route dials the role's live name): Caddy's config is
    // not loaded again, so neither the TLS handshakes Caddy 2.6 refuses during a load nor the
    // just-accepted connections 2.7+ closes on one are lost. Not one request fails.
    expect(await Promise.all(fx.addresses.map(configLoads))).toEqual(loadsBefore);
    expect({ failed: stats.failed, failures: stats.failures }).toEqual({ failed: 0, failures: [] });
    expect(stats.firstSeen).toEqual([fx.tags.v1, fx.tags.v2]);
    expect(r.leftovers).toEqual({ ledger: [], files: [] });
  });
  test('renewal: once a third of its lifetime is left, the proxy renews the certificate from the same CA and serves the new one', async () => {
    const host = hosts[0];
    const before = await certificateOn(host.ip, pebbleRoot);
    expect(before).toMatchObject({ authorized: true, subjectAltName: `DNS:${NAME}` });
    const lifetime = before.validTo! - before.validFrom!;
    expect(lifetime).toBeLessThanOrEqual((ACME_CERT_SECONDS + 60) * 1000);
    // Caddy renews a certificate with a third of its lifetime left, when it next checks: at its start
    // and every 10 minutes. Wait (bounded by the certificate itself) until that third is reached,
    // with a margin, then restart the proxy as a host restart would: its check at start renews.
    const due = before.validTo! - lifetime / 3 + 10_000;
    const wait = due - Date.now();
    expect(wait).toBeLessThan(ACME_CERT_SECONDS * 1000);
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    await fx.ssh(host.address, 'docker restart pallet-proxy >/dev/null');
    const renewed = new RegExp(`certificate renewed successfully.*"identifier":"${NAME.replace(/\./g, '\\.')}"`);
    await waitForProxyLog(fx, host, renewed, 120_000);
    const after = await certificateOn(host.ip, pebbleRoot);
    expect(after).toMatchObject({ authorized: true, subjectAltName: `DNS:${NAME}` });
    expect({ newSerial: after.serial !== before.serial, later: after.validTo! > before.validTo! }).toEqual({ newSerial: true, later: true });
    expect(await fetchVersion(`https://${host.ip}:443`, NAME, {}, pebbleRoot)).toMatchObject({ status: 200, version: fx.tags.v2 });
  });
});
