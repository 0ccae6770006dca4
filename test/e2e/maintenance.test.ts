// Maintenance mode against the real lab: three hosts behind their proxies (Caddy).
// `pallet maintenance on|off` as a user runs it, then a deploy with
// deploy.maintenance.during_tasks under a bounded request loop where every answer must be the
// app's 200 or the maintenance 503, nothing else.
import http from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { describeLab } from '../helpers/lab.js';
import { runCli } from '../helpers/entry.js';
import type { PalletConfig, ProxyConfig } from '../../src/config/types.js';
import { DeployFixture, sleep } from './deploy-fixture.js';

const APP = 'e2emaint';
const HOST = 'maint.test';
const MESSAGE = 'Upgrading the database, back at 10:30';

interface Got { status: number; headers: http.IncomingHttpHeaders; body: string }

function get(base: string, p = '/'): Promise<Got> {
  return new Promise((resolve, reject) => {
    const req = http.get(`${base}${p}`, { agent: false, headers: { Host: HOST, Connection: 'close' }, timeout: 5000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${p}: no answer within 5 s`)));
    req.on('error', reject);
  });
}

/** The maintenance answer: 503, Retry-After, never cached, the built-in page. */
const isPage = (g: Got) => g.status === 503 && g.headers['retry-after'] === '30' && g.headers['cache-control'] === 'no-store' && g.body.includes('Back in a moment');

describeLab('maintenance mode on the per-host proxy (lab)', () => {
  const fx = new DeployFixture(APP);
  const dir = mkdtempSync('/tmp/pmt-');
  const hostUrl = (i: number) => `http://${fx.lab.hosts[i].ip}:80`;
  const proxy = (): ProxyConfig => ({ hosts: [HOST], tls: 'off', image: fx.lab.images.proxy!, drain_timeout: 1, trusted_proxies: ['private_ranges'] });
  const config = (): PalletConfig => {
    const c = fx.config({ workers: [], proxy: proxy() });
    return { ...c, deploy: { ...c.deploy!, maintenance: { during_tasks: true, retry_after: 30 } } };
  };
  const cli = async (args: string[]) => {
    const r = await runCli([...args, '--ssh-private-key-file', fx.lab.ssh.privateKeyPath, '--ssh-known-hosts-file', fx.lab.ssh.knownHostsPath], { cwd: dir, env: { USER: 'e2e-maint', RUNNER_TEMP: dir } });
    return { code: r.code, all: r.output };
  };

  beforeAll(async () => {
    if (!fx.lab.images.proxy || !fx.lab.lb.proxyUrl) throw new Error('the lab has no proxy image or proxy LB port: run `npm run lab:up` again');
    await fx.setup(['v1', 'v2'], { ALLOWED_HOSTS: HOST, BOOT_DELAY: '3' });
    writeFileSync(path.join(dir, 'pallet.yml'), YAML.stringify({
      app: APP, image: fx.repo,
      deploy: {
        ssh: { user: 'root' }, env_file: '/etc/pallet/example.env', roles: { web: { hosts: fx.addresses } },
        proxy: { hosts: [HOST], tls: 'off', image: fx.lab.images.proxy }, maintenance: { retry_after: 30 },
      },
    }));
    const r = await fx.deploy('deploy', { tag: fx.tags.v1, config: config() });
    if (r.result?.exitCode !== 0) throw new Error(`the first deploy failed: ${r.lines.slice(-15).join('\n')}`);
  }, 900_000);

  afterAll(async () => {
    // As a user would: the routes leave the proxy, then the containers, network, images and state.
    const removed = await cli(['remove', '--yes', '--delete-data']).catch((e: unknown) => ({ code: -1, all: String(e) }));
    if (removed.code !== 0) console.log(`pallet remove: ${removed.all}`);
    await fx.teardown();
    rmSync(dir, { recursive: true, force: true });
  }, 300_000);

  test('on: every host answers 503 with Retry-After and the page, the containers keep running; off: 200 again', async () => {
    const before = (await fx.views()).map((v) => v.containers.filter((c) => c.running).map((c) => c.id));
    const on = await cli(['maintenance', 'on', '--message', MESSAGE]);
    expect({ code: on.code, all: on.all }).toMatchObject({ code: 0 });
    for (const i of [0, 1, 2]) {
      const g = await get(hostUrl(i));
      expect({ status: g.status, retry: g.headers['retry-after'], type: g.headers['content-type'], cache: g.headers['cache-control'] })
        .toEqual({ status: 503, retry: '30', type: 'text/html; charset=utf-8', cache: 'no-store' });
      expect(g.body).toContain(MESSAGE);
      expect(g.headers['x-app-version']).toBeUndefined();
    }
    expect((await fx.views()).map((v) => v.containers.filter((c) => c.running).map((c) => c.id))).toEqual(before);
    expect((await fx.view(fx.addresses[0])).audit.pop()).toMatch(/\te2e-maint\te2emaint\tmaintenance\ton\tsuccess\t/);
    const ps = await cli(['proxy', 'status']);
    // One table row per host (the warnings below the table name them too).
    expect(ps.all.split('\n').filter((l) => !l.startsWith('warning') && l.includes(APP) && l.includes('maintenance page (503)'))).toHaveLength(3);
    expect(ps.all).toContain('answers the maintenance page (503); end it with: pallet maintenance off');

    const off = await cli(['maintenance', 'off']);
    expect({ code: off.code, all: off.all }).toMatchObject({ code: 0 });
    for (const i of [0, 1, 2]) {
      const g = await get(hostUrl(i));
      expect({ status: g.status, version: g.headers['x-app-version'] }).toEqual({ status: 200, version: fx.tags.v1 });
    }
  });

  test('a deploy with during_tasks under a request loop: every answer is the app\'s 200 or the maintenance 503, nothing else', async () => {
    // From a host serving the app, whatever the test before left (off is idempotent).
    expect((await cli(['maintenance', 'off'])).code).toBe(0);
    const seen = { ok: 0, page: 0, versions: new Set<string>(), other: [] as string[] };
    let stop = false;
    const deadline = Date.now() + 240_000;
    // Straight to the hosts' proxies, in turn: the lab's nginx passes a 503 on to the next host
    // (proxy_next_upstream http_503), so through it every host in maintenance would be its 502.
    const worker = async (w: number) => {
      for (let n = 0; !stop && Date.now() < deadline && n < 20_000; n++) {
        try {
          const g = await get(hostUrl((n + w) % 3));
          if (g.status === 200) { seen.ok++; seen.versions.add(String(g.headers['x-app-version'])); } else if (isPage(g)) seen.page++;
          else if (seen.other.length < 20) seen.other.push(`${g.status} ${g.body.slice(0, 80)}`);
        } catch (e) {
          if (seen.other.length < 20) seen.other.push(String(e));
        }
        await sleep(20);
      }
    };
    const load = Promise.all([worker(0), worker(1), worker(2)]);
    await sleep(500);
    const r = await fx.deploy('deploy', { tag: fx.tags.v2, config: config() });
    await fx.views();
    await sleep(500);
    stop = true;
    await load;
    console.log(`maintenance during tasks: ${Math.round(r.ms / 100) / 10}s; ${seen.ok} x 200 (${[...seen.versions].join(' ')}), ${seen.page} x the page, others ${JSON.stringify(seen.other)}`);
    expect(r.result?.exitCode).toBe(0);
    expect(seen.other).toEqual([]);
    expect(seen.page).toBeGreaterThan(0);
    expect([...seen.versions].sort()).toEqual([fx.tags.v1, fx.tags.v2].sort());
    // Down everywhere once the new version serves.
    for (const i of [0, 1, 2]) expect((await get(hostUrl(i))).headers['x-app-version']).toBe(fx.tags.v2);
  });
});
