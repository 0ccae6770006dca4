// deploy.proxy.static against the real lab: the example app's image holds its collected,
// hashed static files (collectstatic at build time); each variant here changes the CSS. The
// per-host proxies (Caddy) serve them, the app's own gunicorn logs show it never sees a request
// under /static/, and a rolling deploy behind the lab's load balancer is fetched the way a
// browser does (the page, then every asset it names) with no failure. Tests run in order; each
// starts from the state the previous one left.
import http from 'node:http';
import { gunzipSync } from 'node:zlib';
import { describeLab } from '../helpers/lab.js';
import type { PalletConfig, ProxyConfig } from '../../src/config/types.js';
import { DeployFixture, sleep, type Variant } from './deploy-fixture.js';

const HOST = 'static.test';
const APP = 'e2estatic';
const CSS = 'notes/static/notes/notes.css';
const HASHED = /^\/static\/notes\/notes\.[0-9a-f]{12}\.(css|js)$/;

interface Got { status: number; headers: http.IncomingHttpHeaders; body: string; raw: Buffer }

/** One GET without keep-alive, with the app's host name; bounded at 5 s. */
function get(base: string, path: string, encoding = 'identity'): Promise<Got> {
  return new Promise((resolve, reject) => {
    const req = http.get(`${base}${path}`, { agent: false, headers: { Host: HOST, Connection: 'close', 'Accept-Encoding': encoding }, timeout: 5000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (d: Buffer) => { chunks.push(d); });
      res.on('end', () => { const raw = Buffer.concat(chunks); resolve({ status: res.statusCode ?? 0, headers: res.headers, body: raw.toString('utf8'), raw }); });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${path}: no answer within 5 s`)));
    req.on('error', reject);
  });
}

/** The /static/ URLs a page names in href= and src=. */
function assetsOf(page: string): string[] {
  return [...page.matchAll(/(?:href|src)="(\/static\/[^"]+)"/g)].map((m) => m[1]);
}

/** The example's CSS for a variant: the same rules, a different comment, so a different hash. */
const cssOf = (v: Variant) => `/* release ${v} */\nbody { font-family: system-ui, sans-serif; max-width: 40rem; margin: 2rem auto; }\n`;

interface BrowseStats { pages: number; assets: number; failures: string[]; versions: Set<string>; css: Set<string> }

/**
 * Bounded browser-like loop through `base`: a page, then each asset it names, `workers` at a time,
 * until stop() (or 4 minutes, or 20 000 requests). Any answer but 200, or an error, is a failure.
 */
function browse(base: string, workers = 3) {
  const stats: BrowseStats = { pages: 0, assets: 0, failures: [], versions: new Set(), css: new Set() };
  let stopped = false;
  const deadline = Date.now() + 240_000;
  const note = (what: string) => { if (stats.failures.length < 20) stats.failures.push(what); else stats.failures[19] = `... ${what}`; };
  const worker = async () => {
    while (!stopped && Date.now() < deadline && stats.pages + stats.assets < 20_000) {
      try {
        const page = await get(base, '/home/');
        stats.pages++;
        if (page.status !== 200) { note(`/home/ ${page.status}`); continue; }
        stats.versions.add(String(page.headers['x-app-version']));
        for (const a of assetsOf(page.body)) {
          if (a.endsWith('.css')) stats.css.add(a);
          const r = await get(base, a);
          stats.assets++;
          if (r.status !== 200) note(`${a} ${r.status} (page of ${page.headers['x-app-version']})`);
        }
      } catch (e) {
        note(String(e));
      }
      await sleep(20);
    }
  };
  const running = Promise.all(Array.from({ length: workers }, worker));
  return { stats, stop: async () => { stopped = true; await running; return stats; } };
}

describeLab('static files served by the per-host proxy (lab)', () => {
  let fx: DeployFixture;
  const hostUrl = (i: number) => `http://${fx.lab.hosts[i].ip}:80`;
  const proxy = (): ProxyConfig => ({
    hosts: [HOST], tls: 'off', image: fx.lab.images.proxy!, drain_timeout: 1, trusted_proxies: ['private_ranges'], static: { root: '/static', url: '/static/' },
  });
  const config = (keep = 3): PalletConfig => {
    const c = fx.config({ workers: [], proxy: proxy(), healthTimeout: 20 });
    return { ...c, deploy: { ...c.deploy!, keep } };
  };
  /** The page of host i and its assets, each fetched from the same host. */
  const pageOn = async (i: number) => {
    const page = await get(hostUrl(i), '/home/');
    expect(page.status).toBe(200);
    return { version: String(page.headers['x-app-version']), assets: assetsOf(page.body) };
  };
  /** The hashed CSS URL each release's page names (read once it is live). */
  const cssUrl: Partial<Record<Variant, string>> = {};

  beforeAll(async () => {
    fx = new DeployFixture(APP);
    if (!fx.lab.images.proxy || !fx.lab.lb.proxyUrl) throw new Error('the lab has no proxy image or proxy LB port: run `npm run lab:up` again');
    await fx.setup(['v1', 'v2', 'v3', 'health'], { ALLOWED_HOSTS: HOST }, (v) => ({ [CSS]: cssOf(v) }));
    for (const a of fx.addresses) await fx.ssh(a, 'docker rm -f pallet-proxy >/dev/null 2>&1; rm -rf /var/lib/pallet/proxy /var/lib/pallet/proxy-data /var/lib/pallet/proxy-static; true');
  }, 900_000);

  afterAll(async () => {
    for (const a of fx?.addresses ?? []) {
      await fx.ssh(a, `docker rm -f pallet-proxy >/dev/null 2>&1; rm -rf /var/lib/pallet/proxy /var/lib/pallet/proxy-data /var/lib/pallet/proxy-static; docker network rm pallet-proxy pallet-app-${APP} >/dev/null 2>&1; true`).catch(() => undefined);
    }
    await fx?.teardown();
  }, 300_000);

  test('after a deploy, every host\'s proxy serves the hashed CSS and JS 200 and immutable; an unknown file is a 404 the app never sees', async () => {
    const r = await fx.deploy('deploy', { tag: fx.tags.v1, config: config() });
    expect(r.error).toBeUndefined();
    expect(r.result?.exitCode).toBe(0);
    expect(r.lines.join('\n')).toMatch(/static files of \S+-v1: \d+ files/);
    const miss = `/static/notes/missing-${fx.run}.css`;
    const appMiss = `/no-such-page-${fx.run}/`;
    for (const i of [0, 1, 2]) {
      const { version, assets } = await pageOn(i);
      expect(version).toBe(fx.tags.v1);
      expect(assets).toHaveLength(2);
      for (const a of assets) {
        expect(a).toMatch(HASHED);
        const got = await get(hostUrl(i), a);
        expect({ a, status: got.status, cache: got.headers['cache-control'] }).toEqual({ a, status: 200, cache: 'public, max-age=31536000, immutable' });
        if (a.endsWith('.css')) expect(got.body).toBe(cssOf('v1'));
        // The image holds a .gz beside each CSS and JS file: sent to a client that accepts gzip.
        const gz = await get(hostUrl(i), a, 'gzip, br');
        expect({ encoding: gz.headers['content-encoding'], vary: gz.headers.vary, cache: gz.headers['cache-control'] }).toEqual({ encoding: 'gzip', vary: 'Accept-Encoding', cache: 'public, max-age=31536000, immutable' });
        expect(gunzipSync(gz.raw).toString('utf8')).toBe(got.body);
      }
      cssUrl.v1 = assets.find((a) => a.endsWith('.css'));
      // Unhashed names are served too, for a minute.
      expect((await get(hostUrl(i), '/static/notes/notes.css')).headers['cache-control']).toBe('public, max-age=60');
      const nf = await get(hostUrl(i), miss);
      expect({ status: nf.status, body: nf.body }).toEqual({ status: 404, body: 'Not Found\n' });
      // A miss outside /static/ goes to the app: its access log is the witness of what it saw.
      expect((await get(hostUrl(i), appMiss)).status).toBe(404);
      const log = await fx.ssh(fx.addresses[i], `for id in $(docker ps -q --filter label=pallet.app=${APP} --filter label=pallet.role=web); do docker logs $id 2>&1; done`);
      expect(log).toContain(appMiss);
      expect(log).not.toContain(miss);
    }
  });

  test('a rolling deploy that changes the CSS, through the load balancer: every page and every asset it names answers 200, whichever host serves it', async () => {
    // After the first host switched, the hosts still on v1 must already serve v2's assets.
    const early: string[] = [];
    const hooks = {
      afterBatch: async ({ index }: { index: number }) => {
        if (index !== 0) return;
        const { version, assets } = await pageOn(0);
        for (const a of assets) for (const i of [1, 2]) early.push(`${version} ${a} on host ${i + 1}: ${(await get(hostUrl(i), a)).status}`);
      },
    };
    const load = browse(fx.lab.lb.proxyUrl!);
    await sleep(500);
    const r = await fx.deploy('deploy', { tag: fx.tags.v2, config: config(), hooks });
    await fx.views(); // the load goes on until every host has stopped the previous containers
    await sleep(500);
    const stats = await load.stop();
    console.log(`static rolling deploy: ${Math.round(r.ms / 100) / 10}s; ${stats.pages} pages, ${stats.assets} assets, versions ${[...stats.versions].join(' ')}, failures ${JSON.stringify(stats.failures)}`);
    expect(r.result?.exitCode).toBe(0);
    expect(stats.failures).toEqual([]);
    expect(stats.pages).toBeGreaterThan(20);
    expect([...stats.versions].sort()).toEqual([fx.tags.v1, fx.tags.v2].sort());
    // Both releases' stylesheets were asked for while the hosts ran mixed versions.
    expect(stats.css.size).toBe(2);
    expect(early).toHaveLength(4);
    for (const line of early) expect(line).toMatch(new RegExp(`^${fx.tags.v2} \\S+ on host \\d: 200$`));
    cssUrl.v2 = (await pageOn(0)).assets.find((a) => a.endsWith('.css'));
    expect(cssUrl.v2).not.toBe(cssUrl.v1);
  });

  test('rollback: the pages name the old CSS again and every host serves it; the newer release\'s files stay for a page still open', async () => {
    const r = await fx.deploy('rollback', { config: config() });
    expect(r.result?.exitCode).toBe(0);
    for (const i of [0, 1, 2]) {
      const { version, assets } = await pageOn(i);
      expect(version).toBe(fx.tags.v1);
      expect(assets).toContain(cssUrl.v1);
      expect((await get(hostUrl(i), cssUrl.v1!)).body).toBe(cssOf('v1'));
      expect((await get(hostUrl(i), cssUrl.v2!)).status).toBe(200);
    }
  });

  test('a release that fails its health check leaves no files behind; releases pruned beyond keep take theirs', async () => {
    const failed = await fx.deploy('deploy', { tag: fx.tags.health, config: config() });
    expect(failed.result?.exitCode).not.toBe(0);
    const dirs = async (i: number) => (await fx.ssh(fx.addresses[i], `ls /var/lib/pallet/proxy-static/${APP}/releases`)).split('\n').filter(Boolean).sort();
    for (const i of [0, 1, 2]) {
      expect(await dirs(i)).toEqual([fx.tags.v1, fx.tags.v2].sort());
      expect((await pageOn(i)).version).toBe(fx.tags.v1);
    }

    // keep 2: v3 and the release it replaces (v1) stay; v2 goes with its image, and its files with it.
    const r = await fx.deploy('deploy', { tag: fx.tags.v3, config: config(2) });
    expect(r.result?.exitCode).toBe(0);
    await fx.views();
    const v3Css = (await pageOn(0)).assets.find((a) => a.endsWith('.css'))!;
    for (const i of [0, 1, 2]) {
      expect(await dirs(i)).toEqual([fx.tags.v1, fx.tags.v3].sort());
      expect({ v1: (await get(hostUrl(i), cssUrl.v1!)).status, v2: (await get(hostUrl(i), cssUrl.v2!)).status, v3: (await get(hostUrl(i), v3Css)).status })
        .toEqual({ v1: 200, v2: 404, v3: 200 });
    }
  });
});
