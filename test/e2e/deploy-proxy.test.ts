// Web roles behind the per-host proxy (Caddy, the lab's image from Debian's package) against the
// real lab: one host with an app that boots in 6 s, then three hosts behind the lab's nginx, each
// under a bounded request loop with failures counted. The app's env file sets
// ALLOWED_HOSTS=shop.test, so every green deploy here also proves the health check sends the
// app's host name. Tests run in order; each starts from the state the previous one left.
import { jest } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { describeLab, REPO_ROOT } from '../helpers/lab.js';
import { fetchVersion, startLoad, type LoadStats } from '../helpers/load.js';
import type { ProxyConfig } from '../../src/config/types.js';
import { DeployFixture, sleep } from './deploy-fixture.js';
import { CLI_COMMAND, runCli } from '../helpers/entry.js';

jest.setTimeout(600_000);

const HOST = 'shop.test';
const PROXY_APP = 'e2eproxy';
/** A second app on the same hosts and proxy, and an app in the published-port mode. */
const BLOG = 'blog.test';
const BLOG_APP = 'e2eproxyblog';
const PUB_APP = 'e2eproxypub';
/** An app that claims the blog's host name (refused). */
const CLASH_APP = 'e2eproxyclash';

describeLab('deploy behind the per-host proxy (lab)', () => {
  let fx: DeployFixture;
  const proxy = (): ProxyConfig => ({ hosts: [HOST], tls: 'off', image: fx.lab.images.proxy!, drain_timeout: 1, trusted_proxies: ['private_ranges'] });
  const hostUrl = (i: number) => `http://${fx.lab.hosts[i].ip}:80`;
  const show = (what: string, ms: number, s: LoadStats) => console.log(`${what}: ${Math.round(ms / 100) / 10}s; load ${JSON.stringify({ ...s, failures: s.failures.slice(0, 5) })}`);

  /** Starts of containers from `tag` on a host since `since` (docker events: every boot counts, candidates included). */
  async function starts(address: string, tag: string, since: number): Promise<number> {
    const out = await fx.ssh(address, `docker events --since ${Math.floor(since / 1000)} --until $(date +%s) --filter event=start --filter label=pallet.app=${PROXY_APP} --filter label=pallet.tag=${tag} --format '{{.ID}}'`);
    return out.split('\n').filter(Boolean).length;
  }

  beforeAll(async () => {
    fx = new DeployFixture(PROXY_APP);
    if (!fx.lab.images.proxy || !fx.lab.lb.proxyUrl) throw new Error('the lab has no proxy image or proxy LB port: run `npm run lab:up` again');
    // Django refuses any other Host (HTTP 400): only the two apps' names are allowed.
    await fx.setup(['v1', 'v2', 'v3', 'health'], { ALLOWED_HOSTS: `${HOST},${BLOG}`, BOOT_DELAY: '6' });
    // A clean proxy on every host (the lab's hosts are shared with other suites).
    for (const a of fx.addresses) await fx.ssh(a, 'docker rm -f pallet-proxy >/dev/null 2>&1; rm -rf /var/lib/pallet/proxy /var/lib/pallet/proxy-data; true');
  }, 900_000);

  afterAll(async () => {
    const others = `for app in ${BLOG_APP} ${PUB_APP} ${CLASH_APP}; do ids=$(docker ps -aq --filter label=pallet.app=$app); [ -z "$ids" ] || docker rm -f $ids >/dev/null; rm -rf /var/lib/pallet/$app; done; `;
    for (const a of fx?.addresses ?? []) await fx.ssh(a, `${others}docker rm -f pallet-proxy >/dev/null 2>&1; rm -rf /var/lib/pallet/proxy /var/lib/pallet/proxy-data; docker network rm pallet-proxy >/dev/null 2>&1; true`).catch(() => undefined);
    await fx?.teardown();
    const nets = [PROXY_APP, BLOG_APP, CLASH_APP].map((a) => `pallet-app-${a}`).join(' ');
    for (const a of fx?.addresses ?? []) await fx.ssh(a, `docker network rm ${nets} >/dev/null 2>&1; docker image rm pallet-lab/caddy:broken pallet-lab/caddy:next >/dev/null 2>&1; true`).catch(() => undefined);
  }, 300_000);

  test('one host, 6 s boot: a code-only deploy with zero failed requests, the new version booted once, the old one stopped', async () => {
    const [h1] = fx.addresses;
    const cfg = fx.config({ web: [h1], workers: [], proxy: proxy() });
    const first = await fx.deploy('deploy', { tag: fx.tags.v1, config: cfg });
    expect(first.error).toBeUndefined();
    expect(first.result?.exitCode).toBe(0);
    expect((await fetchVersion(hostUrl(0), HOST)).version).toBe(fx.tags.v1);

    const t0 = Date.now();
    const load = startLoad({ url: hostUrl(0), host: HOST, concurrency: 4, pauseMs: 10, maxMs: 240_000, maxRequests: 50_000 });
    await sleep(500);
    const r = await fx.deploy('deploy', { tag: fx.tags.v2, config: cfg });
    await fx.views(); // the load goes on until every host has stopped the previous containers
    await sleep(500);
    const stats = await load.stop();
    show('one host', r.ms, stats);
    expect(r.result?.exitCode).toBe(0);
    expect(stats.requests).toBeGreaterThan(100);
    expect(stats.failed).toBe(0);
    expect(stats.firstSeen).toEqual([fx.tags.v1, fx.tags.v2]);
    expect(await starts(h1, fx.tags.v2, t0)).toBe(1);
    // Only the new container is left, running; the old one was stopped and removed.
    const v = await fx.view(h1);
    expect(v.containers.map((c) => [c.tag, c.running])).toEqual([[fx.tags.v2, true]]);
    expect(v).toMatchObject({ tag: fx.tags.v2, revert: fx.tags.v1, lock: false });
    expect(r.leftovers).toEqual({ ledger: [], files: [] });
  });

  test('a host name no app claims gets a plain 404 that names nothing', async () => {
    const r = await fetchVersion(hostUrl(0), 'unknown.test');
    expect(r.status).toBe(404);
    expect(r.body).toBe('Not Found\n');
    expect(r.headers.server).toBeUndefined();
  });

  test('three hosts behind the lab LB, batch 1: zero failed requests, every host on v3 with one boot each', async () => {
    const cfg = fx.config({ workers: [], proxy: proxy() });
    // Hosts 2 and 3 get v2 first (host 1 has it already), without load.
    const warm = await fx.deploy('deploy', { tag: fx.tags.v2, config: cfg });
    expect(warm.result?.exitCode).toBe(0);
    const t0 = Date.now();
    const load = startLoad({ url: fx.lab.lb.proxyUrl!, host: HOST, concurrency: 4, pauseMs: 10, maxMs: 240_000, maxRequests: 50_000 });
    await sleep(500);
    const r = await fx.deploy('deploy', { tag: fx.tags.v3, config: cfg });
    await fx.views(); // the load goes on until every host has stopped the previous containers
    await sleep(500);
    const stats = await load.stop();
    show('three hosts', r.ms, stats);
    expect(r.result?.exitCode).toBe(0);
    expect(stats.failed).toBe(0);
    expect(stats.firstSeen).toEqual([fx.tags.v2, fx.tags.v3]);
    for (const [i, a] of fx.addresses.entries()) {
      expect(await starts(a, fx.tags.v3, t0)).toBe(1);
      expect((await fetchVersion(hostUrl(i), HOST)).version).toBe(fx.tags.v3);
      const v = await fx.view(a);
      expect(v.containers.map((c) => [c.tag, c.running])).toEqual([[fx.tags.v3, true]]);
    }
    // tls off behind the lab LB (a private address): the proxy passes the LB's X-Forwarded-Proto on
    // (trusted_proxies: private_ranges), so Django sees the scheme the client used.
    const scheme = async (headers: Record<string, string>) => JSON.parse((await fetchVersion(fx.lab.lb.proxyUrl!, HOST, headers)).body).scheme;
    expect(await scheme({ 'X-Forwarded-Proto': 'https' })).toBe('https');
    expect(await scheme({})).toBe('http');
  });

  test('a release whose /health/ answers 500: zero failed requests, reverted=true, every host still serves v3 from the same container', async () => {
    const cfg = fx.config({ workers: [], proxy: proxy(), healthTimeout: 6 });
    const before = await fx.views();
    const load = startLoad({ url: fx.lab.lb.proxyUrl!, host: HOST, concurrency: 4, pauseMs: 10, maxMs: 240_000, maxRequests: 50_000 });
    await sleep(500);
    const r = await fx.deploy('deploy', { tag: fx.tags.health, config: cfg });
    const stats = await load.stop();
    show('health 500', r.ms, stats);
    expect(r.result?.exitCode).toBe(1);
    expect(r.result!.outputs.reverted).toBe('true');
    expect(r.report).toMatchObject({ phase: 'rolling', failedHost: fx.addresses[0], failedStep: 'health (web)' });
    expect(stats.failed).toBe(0);
    expect(Object.keys(stats.versions)).toEqual([fx.tags.v3]);
    for (const [i, v] of (await fx.views()).entries()) {
      expect(v).toMatchObject({ tag: fx.tags.v3, lock: false });
      expect(v.containers.map((c) => c.id)).toEqual(before[i].containers.map((c) => c.id));
    }
    expect(r.leftovers).toEqual({ ledger: [], files: [] });
  });

  test('a failure on host 2 after host 1 switched: host 1 is routed back to its kept container (no boot), zero failed requests', async () => {
    const cfg = fx.config({ workers: [], proxy: proxy(), healthTimeout: 20 });
    const before = await fx.views();
    const [, h2] = fx.lab.hosts;
    const t0 = Date.now();
    const load = startLoad({ url: fx.lab.lb.proxyUrl!, host: HOST, concurrency: 4, pauseMs: 10, maxMs: 240_000, maxRequests: 50_000 });
    const r = await fx.deploy('deploy', {
      tag: fx.tags.v2, config: cfg,
      hooks: {
        // Host 2's new container dies while it boots (killed as soon as it appears), after
        // host 1 has switched: host 1 must go back to the container it kept running.
        afterBatch: async ({ index }) => {
          if (index !== 0) return;
          void (async () => {
            for (let i = 0; i < 100; i++) {
              await fx.ssh(h2.address, `for id in $(docker ps -q --filter label=pallet.app=${PROXY_APP} --filter label=pallet.tag=${fx.tags.v2}); do docker kill $id >/dev/null; done; true`);
              await sleep(200);
            }
          })();
        },
      },
    });
    const stats = await load.stop();
    show('host 2 fault', r.ms, stats);
    expect(r.result?.exitCode).toBe(1);
    expect(r.report).toMatchObject({ phase: 'rolling', failedHost: h2.address, reverted: true });
    expect(stats.failed).toBe(0);
    // Host 1 was switched to v2 and back: the v3 container it serves is the one from before.
    for (const [i, v] of (await fx.views()).entries()) {
      expect(v.containers.filter((c) => c.running).map((c) => c.id)).toEqual(before[i].containers.map((c) => c.id));
      expect(await starts(fx.addresses[i], fx.tags.v3, t0)).toBe(0);
    }
  });

  test('two apps on the same hosts and proxy port, routed by host name: deploying one drops no request of the other', async () => {
    const blog = { ...fx.config({ workers: [], proxy: { ...proxy(), hosts: [BLOG] } }), app: BLOG_APP };
    const first = await fx.deploy('deploy', { tag: fx.tags.v1, config: blog });
    expect(first.result?.exitCode).toBe(0);
    const load = startLoad({ url: fx.lab.lb.proxyUrl!, host: BLOG, concurrency: 4, pauseMs: 10, maxMs: 240_000, maxRequests: 50_000 });
    await sleep(300);
    const r = await fx.deploy('deploy', { tag: fx.tags.v3, config: fx.config({ workers: [], proxy: proxy() }) });
    await fx.views(); // until every host has stopped the previous containers
    const stats = await load.stop();
    show('other app during a deploy', r.ms, stats);
    expect(r.result?.exitCode).toBe(0);
    expect(stats.failed).toBe(0);
    expect(Object.keys(stats.versions)).toEqual([fx.tags.v1]);
    for (const i of fx.lab.hosts.keys()) {
      expect((await fetchVersion(hostUrl(i), BLOG)).version).toBe(fx.tags.v1);
      expect((await fetchVersion(hostUrl(i), HOST)).version).toBe(fx.tags.v3);
    }
  });

  test("two apps on one host: neither reaches the other's containers directly, only through the proxy", async () => {
    // Both apps were deployed above, each onto its own network. From the shop's container: the
    // blog's container by address and by name must not answer; the proxy (on the shop's network)
    // with Host: blog.test does.
    const [h1] = fx.addresses;
    const probe = `import sys, urllib.request
for u in sys.argv[2:]:
    r = urllib.request.Request(u, headers={"Host": sys.argv[1]})
    try: print(u, urllib.request.urlopen(r, timeout=3).status)
    except Exception as e: print(u, "unreachable", type(e).__name__)`;
    const out = await fx.ssh(h1, `shop=$(docker ps -q --filter label=pallet.app=${PROXY_APP} --filter label=pallet.role=web | head -n 1)
blog=$(docker ps -q --filter label=pallet.app=${BLOG_APP} --filter label=pallet.role=web | head -n 1)
name=$(docker inspect --format '{{.Name}}' "$blog" | tr -d /)
urls=""; for ip in $(docker inspect --format '{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}' "$blog"); do urls="$urls http://$ip:8000/health/"; done
echo "networks: $(docker inspect --format '{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{end}}' "$shop") / $(docker inspect --format '{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{end}}' "$blog")"
docker exec "$shop" python3 -c '${probe}' ${BLOG} $urls "http://$name:8000/health/" http://pallet-proxy/health/`);
    console.log(`isolation:\n${out}`);
    const lines = out.trim().split('\n');
    expect(lines[0]).toBe(`networks: pallet-app-${PROXY_APP}  / pallet-app-${BLOG_APP} `);
    const direct = lines.slice(1, -1);
    expect(direct.length).toBeGreaterThanOrEqual(2);
    for (const l of direct) expect(l).toMatch(/ unreachable /);
    expect(lines.at(-1)).toBe('http://pallet-proxy/health/ 200');
  });

  test('an app claiming a host name another app has on the same hosts is refused before anything changes', async () => {
    // The blog (previous test) routes blog.test on every host.
    const clash = { ...fx.config({ workers: [], proxy: { ...proxy(), hosts: [BLOG] } }), app: CLASH_APP };
    const r = await fx.deploy('deploy', { tag: fx.tags.v1, config: clash });
    console.log(`route clash: ${r.report?.error ?? r.error?.message}`);
    expect(r.result?.exitCode).toBe(1);
    expect(r.report).toMatchObject({ ok: false, phase: 'proxy', reverted: false });
    expect(r.report!.error).toContain(`host name ${BLOG} already routed to app '${BLOG_APP}' (role web)`);
    for (const [i, a] of fx.addresses.entries()) {
      expect(await fx.ssh(a, `docker ps -aq --filter label=pallet.app=${CLASH_APP} | wc -l; [ -d /var/lib/pallet/${CLASH_APP}/lock ] && echo locked; ls /var/lib/pallet/proxy/routes | grep -c ${CLASH_APP}; true`)).toBe('0\n0\n');
      expect((await fetchVersion(hostUrl(i), BLOG)).version).toBe(fx.tags.v1);
    }
    expect(r.leftovers).toEqual({ ledger: [], files: [] });
  });

  test('pallet proxy status: every host\'s proxy running, both apps\' routes with their live container and tag', async () => {
    // Short: ssh's ControlMaster socket (dir + 40-char hash + 17-char suffix) must fit in 108 bytes.
    const dir = mkdtempSync('/tmp/pps-');
    try {
      const c = fx.config({ workers: [], proxy: proxy() });
      writeFileSync(path.join(dir, 'pallet.yml'), YAML.stringify({ app: c.app, image: c.image, deploy: { ssh: c.deploy!.ssh, roles: c.deploy!.roles, proxy: c.deploy!.proxy } }));
      const args = ['--config', path.join(dir, 'pallet.yml'), '--ssh-known-hosts', readFileSync(fx.lab.ssh.knownHostsPath, 'utf8'), '--ssh-private-key-file', fx.lab.ssh.privateKeyPath];
      const env = { PATH: process.env.PATH, HOME: process.env.HOME, RUNNER_TEMP: dir };
      const json = spawnSync(CLI_COMMAND[0], [...CLI_COMMAND.slice(1), 'proxy', 'status', '--json', ...args], { cwd: REPO_ROOT, env, encoding: 'utf8', timeout: 120_000 });
      expect({ code: json.status, stderr: json.stderr }).toEqual({ code: 0, stderr: '' });
      const got = JSON.parse(json.stdout) as { hosts: { host: string; state: string; routes: { app: string; hosts: string; containerState: string; tag: string }[] }[]; problems: string[] };
      expect(got.problems).toEqual([]);
      expect(got.hosts.map((h) => h.host)).toEqual(fx.addresses);
      for (const h of got.hosts) {
        expect(h.state).toBe('running');
        expect(h.routes.map((r) => [r.app, r.hosts, r.containerState, r.tag]).sort()).toEqual([
          [PROXY_APP, HOST, 'running', fx.tags.v3], [BLOG_APP, BLOG, 'running', fx.tags.v1],
        ].sort());
      }
      const text = spawnSync(CLI_COMMAND[0], [...CLI_COMMAND.slice(1), 'proxy', 'status', ...args], { cwd: REPO_ROOT, env, encoding: 'utf8', timeout: 120_000 });
      expect(text.status).toBe(0);
      expect(text.stdout).toMatch(/live container/);
      expect(text.stdout).toContain(BLOG);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('the proxy container killed during a deploy: the deploy fails, says why, and every host serves the old version again', async () => {
    const [, h2] = fx.lab.hosts;
    const before = await fx.views();
    const r = await fx.deploy('deploy', {
      tag: fx.tags.v2, config: fx.config({ workers: [], proxy: proxy(), healthTimeout: 90 }),
      hooks: { afterBatch: async ({ index }) => { if (index === 0) await fx.ssh(h2.address, 'docker kill pallet-proxy >/dev/null'); } },
    });
    console.log(`proxy killed: ${r.report?.failedStep} on ${r.report?.failedHost}: ${r.report?.error}`);
    expect(r.result?.exitCode).toBe(1);
    expect(r.result!.outputs.reverted).toBe('true');
    expect(r.report).toMatchObject({ phase: 'rolling', failedHost: h2.address, failedStep: 'switch (web)' });
    expect(r.report!.error).toMatch(/the proxy container pallet-proxy is not running .*the route was not changed/);
    expect(r.report!.revertProblems).toEqual([]);
    for (const [i, v] of (await fx.views()).entries()) {
      expect(v.containers.filter((c) => c.running).map((c) => c.id)).toEqual(before[i].containers.map((c) => c.id));
      expect((await fetchVersion(hostUrl(i), HOST)).version).toBe(fx.tags.v3);
    }
  });

  test("a host's engine restarted: the proxy comes back with the last routes", async () => {
    const [h1] = fx.lab.hosts;
    await fx.ssh(h1.address, 'kill $(cat /var/run/docker.pid)');
    let answer: { status: number; version?: string } = { status: 0 };
    for (let i = 0; i < 60; i++) {
      await sleep(1000);
      answer = await fetchVersion(hostUrl(0), HOST).catch(() => ({ status: 0 }));
      if (answer.status === 200) break;
    }
    expect(answer).toMatchObject({ status: 200, version: fx.tags.v3 });
    expect((await fetchVersion(hostUrl(0), BLOG)).version).toBe(fx.tags.v1);
    expect((await fetchVersion(hostUrl(0), 'unknown.test')).status).toBe(404);
  });

  test('a changed deploy.proxy.image on three hosts behind the LB: replaced one host at a time, zero failed requests', async () => {
    // Another name for the lab's proxy image on every host: a new image as far as the deploy can tell.
    const next = 'pallet-lab/caddy:next';
    for (const a of fx.addresses) await fx.ssh(a, `docker tag ${fx.lab.images.proxy!} ${next}`);
    const cfg = fx.config({ workers: [], proxy: { ...proxy(), image: next } });
    const load = startLoad({ url: fx.lab.lb.proxyUrl!, host: HOST, concurrency: 4, pauseMs: 10, maxMs: 240_000, maxRequests: 50_000 });
    await sleep(500);
    const r = await fx.deploy('deploy', { tag: fx.tags.v3, config: cfg });
    await fx.views(); // the load goes on until every host has stopped the previous containers
    await sleep(500);
    const stats = await load.stop();
    show('proxy image change', r.ms, stats);
    const gaps = r.lines.filter((l) => /the proxy now runs/.test(l));
    console.log(gaps.join('\n'));
    expect(r.result?.exitCode).toBe(0);
    expect(gaps).toHaveLength(3);
    expect(stats.requests).toBeGreaterThan(100);
    expect(stats.failed).toBe(0);
    for (const [i, a] of fx.addresses.entries()) {
      expect(await fx.ssh(a, "docker inspect --format '{{.Config.Image}}' pallet-proxy")).toBe(`${next}\n`);
      expect((await fetchVersion(hostUrl(i), HOST)).version).toBe(fx.tags.v3);
      expect((await fetchVersion(hostUrl(i), BLOG)).version).toBe(fx.tags.v1);
    }
  });

  test('a proxy image that does not come up: the first host gets its old proxy back, the deploy stops before the app changes', async () => {
    // An image whose entrypoint exits at once, on every host (so no pull is needed and host 1's replacement is tried).
    const broken = 'pallet-lab/caddy:broken';
    for (const a of fx.addresses) await fx.ssh(a, `printf 'FROM pallet-lab/caddy:next\nENTRYPOINT ["false"]\n' | docker build -q -t ${broken} - >/dev/null`);
    const before = await fx.views();
    const load = startLoad({ url: fx.lab.lb.proxyUrl!, host: HOST, concurrency: 4, pauseMs: 10, maxMs: 240_000, maxRequests: 50_000 });
    const r = await fx.deploy('deploy', { tag: fx.tags.v2, config: fx.config({ workers: [], proxy: { ...proxy(), image: broken } }) });
    const stats = await load.stop();
    show('broken proxy image', r.ms, stats);
    expect(r.result?.exitCode).toBe(1);
    expect(r.report).toMatchObject({ phase: 'proxy', failedHost: fx.addresses[0], failedStep: 'replacing the proxy', reverted: false });
    expect(r.report!.error).toContain('pallet-proxy runs pallet-lab/caddy:next again');
    expect(stats.failed).toBe(0);
    for (const [i, a] of fx.addresses.entries()) {
      expect(await fx.ssh(a, "docker inspect --format '{{.Config.Image}}' pallet-proxy; docker ps -aq --filter name=pallet-proxy- | wc -l")).toBe('pallet-lab/caddy:next\n0\n');
      expect((await fx.view(a)).containers.map((c) => c.id)).toEqual(before[i].containers.map((c) => c.id));
      expect((await fetchVersion(hostUrl(i), HOST)).version).toBe(fx.tags.v3);
    }
    expect(r.leftovers).toEqual({ ledger: [], files: [] });
  });

  test('pallet remove takes the blog off every host while the shop keeps serving (0 failed): nothing of the blog is left', async () => {
    const dir = mkdtempSync('/tmp/prm-');
    // Asynchronous: the request loop runs in this process meanwhile.
    const cli = async (args: string[]) => { const r = await runCli(args, { cwd: REPO_ROOT, env: { RUNNER_TEMP: dir } }); return { code: r.code, out: r.output }; };
    try {
      const c = fx.config({ workers: [], proxy: { ...proxy(), hosts: [BLOG] } });
      writeFileSync(path.join(dir, 'pallet.yml'), YAML.stringify({ app: BLOG_APP, image: c.image, deploy: { ssh: c.deploy!.ssh, env_file: c.deploy!.env_file, roles: c.deploy!.roles, proxy: c.deploy!.proxy } }));
      const args = ['--config', path.join(dir, 'pallet.yml'), '--ssh-known-hosts-file', fx.lab.ssh.knownHostsPath, '--ssh-private-key-file', fx.lab.ssh.privateKeyPath];
      // Without --yes it says what it would take and changes nothing.
      const asked = await cli(['remove', ...args]);
      expect({ code: asked.code, out: asked.out }).toEqual({ code: 1, out: expect.stringMatching(/remove takes e2eproxyblog off .*nothing was changed[\s\S]*run it again with --yes/) });
      // The dry run names what would go on each host: the route's role, the container, the image tags.
      for (const a of fx.addresses) expect(asked.out).toMatch(new RegExp(`${a.replace(/[.]/g, '\\.')}\\s+web\\s+${BLOG_APP}-web\\S*\\s+[^\\n]*${fx.tags.v1}`));
      expect((await fetchVersion(hostUrl(0), BLOG)).version).toBe(fx.tags.v1);

      const load = startLoad({ url: fx.lab.lb.proxyUrl!, host: HOST, concurrency: 4, pauseMs: 10, maxMs: 240_000, maxRequests: 50_000 });
      await sleep(300);
      const r = await cli(['remove', '--yes', '--delete-data', ...args]);
      await sleep(300);
      const stats = await load.stop();
      show('the other app removed', 0, stats);
      expect({ code: r.code, out: r.out }).toEqual({ code: 0, out: expect.stringContaining(`removed 1 route(s), 1 container(s), its network`) });
      expect(stats.failed).toBe(0);
      expect(Object.keys(stats.versions)).toEqual([fx.tags.v3]);
      for (const [i, a] of fx.addresses.entries()) {
        // Counted on the host: containers, networks, volumes, route files, state files of the blog,
        // and images of its repository that no container uses and no other app's TAG or REVERT names;
        // the shop (same repository) keeps the images its TAG and REVERT name: its rollback target stays.
        const left = await fx.ssh(a, `echo "containers=$(docker ps -aq --filter label=pallet.app=${BLOG_APP} | wc -l)"
echo "networks=$(docker network ls -q --filter label=pallet.app-network=${BLOG_APP} | wc -l)"
echo "volumes=$(docker volume ls -q --filter label=pallet.app=${BLOG_APP} | wc -l)"
echo "routes=$(ls /var/lib/pallet/proxy/routes | grep -c -e '+${BLOG_APP}+' -e '^${BLOG_APP}+')"
echo "files=$(find /var/lib/pallet/${BLOG_APP} 2>/dev/null | wc -l)"
named=$(cat /var/lib/pallet/*/TAG /var/lib/pallet/*/REVERT 2>/dev/null)
echo "unused images=$(for ref in $(docker image ls ${fx.repo} --format '{{.Repository}}:{{.Tag}}'); do docker ps -aq --filter ancestor=$ref | grep -q . || printf '%s\\n' "$named" | grep -qxF "\${ref##*:}" || echo $ref; done | wc -l)"
echo "shop's TAG and REVERT images missing=$(for t in $(cat /var/lib/pallet/${PROXY_APP}/TAG /var/lib/pallet/${PROXY_APP}/REVERT); do docker image inspect ${fx.repo}:$t >/dev/null 2>&1 || echo $t; done | wc -l)"`);
        expect(left).toBe("containers=0\nnetworks=0\nvolumes=0\nroutes=0\nfiles=0\nunused images=0\nshop's TAG and REVERT images missing=0\n");
        expect((await fetchVersion(hostUrl(i), BLOG)).status).toBe(404);
        expect((await fetchVersion(hostUrl(i), HOST)).version).toBe(fx.tags.v3);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('ALLOWED_HOSTS without the proxy: health.host makes the published-port deploy green; without it the version is refused', async () => {
    const [h1] = fx.addresses;
    const pub = (healthHost?: string, healthTimeout = 30) => ({ ...fx.config({ web: [h1], workers: [], healthHost, healthTimeout }), app: PUB_APP });
    const refused = await fx.deploy('deploy', { tag: fx.tags.v1, config: pub(undefined, 30) });
    expect(refused.result?.exitCode).toBe(1);
    expect(refused.report).toMatchObject({ phase: 'rolling', failedStep: 'health (web)' });
    // A steady 400 fails the check early and says it is ALLOWED_HOSTS.
    expect(refused.report!.error).toMatch(/HTTP 400.*ALLOWED_HOSTS|last status 400/s);
    const ok = await fx.deploy('deploy', { tag: fx.tags.v1, config: pub(HOST) });
    expect(ok.result?.exitCode).toBe(0);
    expect((await fetchVersion(fx.lab.hosts[0].webUrl, HOST)).version).toBe(fx.tags.v1);
  });
});
