// The proxy mode's pure parts: Caddy JSON fragments and the assembled config, what the host
// scripts print parsed back, the plan's choice of mode and Host header, and `pallet proxy status`.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { configFrame, emptyConfig, expandTrustedProxies, healthSendsHttps, NOT_FOUND_ROUTE, PRIVATE_RANGES, routeFragments, routeOrder } from '../../src/deploy/proxy/caddy.js';
import { trustedProxyProblem } from '../../src/config/semantic-checks.js';
import {
  ESTABLISHED_ON_PORT_AWK, newContainerName, parseClaims, parsePrepare, routeClaimsArgv, routeConflicts, type RouteClaim, parseProxyStatus, proxyStatusArgv, removeRouteArgv, retireArgv, routeKey, setRouteArgv,
} from '../../src/deploy/proxy/commands.js';
import { proxyProblems, proxyRows, routeRows, type HostProxyStatus } from '../../src/deploy/proxy/status.js';
import { planDeploy } from '../../src/deploy/plan.js';
import { parseCliArgs, parseInputs } from '../../src/inputs.js';
import type { PalletConfig, ProxyConfig } from '../../src/config/types.js';
import { CliReporter, setReporter } from '../../src/util/reporter.js';

beforeEach(() => { setReporter(new CliReporter(() => {}, () => {})); });

describe('Caddy route fragments', () => {
  test.each([
    ['off, named hosts', { hosts: ['shop.example.com'], tls: 'off' as const }, { https: '', policies: '', catchAll: false, httpMatch: ['shop.example.com'] }],
    ['off, no hosts: a catch-all, placed after named routes', { hosts: [], tls: 'off' as const }, { https: '', policies: '', catchAll: true, httpMatch: undefined }],
  ])('%s', (_n, r, want) => {
    const f = routeFragments({ ...r, upstream: 'shop-web-live', port: 8000 });
    expect({ https: f.https, policies: f.policies, catchAll: f.catchAll }).toEqual({ https: want.https, policies: want.policies, catchAll: want.catchAll });
    const http = JSON.parse(f.http);
    expect(http.match?.[0].host).toEqual(want.httpMatch);
    expect(http.handle[1]).toMatchObject({ handler: 'reverse_proxy', upstreams: [{ dial: 'shop-web-live:8000' }] });
  });
  test('tls internal: plain HTTP redirects to https, the route is on :443, the internal issuer for exactly these names', () => {
    const f = routeFragments({ hosts: ['shop.example.com', 'www.shop.example.com'], tls: 'internal', upstream: 'u', port: 8000 });
    expect(JSON.parse(f.http)).toMatchObject({ match: [{ host: ['shop.example.com', 'www.shop.example.com'] }], handle: [{ status_code: 308 }] });
    expect(JSON.parse(f.https)).toMatchObject({ match: [{ host: ['shop.example.com', 'www.shop.example.com'] }], handle: [{ handler: 'headers' }, { handler: 'reverse_proxy' }] });
    expect(JSON.parse(f.policies)).toEqual({ subjects: ['shop.example.com', 'www.shop.example.com'], issuers: [{ module: 'internal' }] });
  });
  test('tls auto: no policy of ours (Caddy\'s automatic HTTPS gets ACME certificates)', () => {
    expect(routeFragments({ hosts: ['shop.example.com'], tls: 'auto', upstream: 'u', port: 8000 }).policies).toBe('');
  });
  test('TLS without host names is refused', () => {
    expect(() => routeFragments({ hosts: [], tls: 'auto', upstream: 'u', port: 8000 })).toThrow(/needs host names/);
  });
  test('the empty config and a config assembled the way the host script does are valid JSON ending in the bare 404', () => {
    const empty = JSON.parse(emptyConfig());
    expect(empty.apps.http.servers.http.routes).toEqual([NOT_FOUND_ROUTE]);
    expect(empty.admin.config.persist).toBe(false);
    const a = routeFragments({ hosts: ['a.example.com'], tls: 'internal', upstream: 'a-web-1', port: 8000 });
    const b = routeFragments({ hosts: ['b.example.com'], tls: 'off', upstream: 'b-web-1', port: 8000 });
    const [f0, f1, f2, f3] = configFrame();
    // SET_ROUTE: each route list is the fragments joined with ',', then the frame's 404 closes it.
    const cfg = JSON.parse(`${f0}${a.http},${b.http},${f1}${a.https},${f2}${a.policies}${f3}`);
    expect(cfg.apps.http.servers.http.routes.map((r: { match?: { host: string[] }[] }) => r.match?.[0].host ?? '404')).toEqual([['a.example.com'], ['b.example.com'], '404']);
    expect(cfg.apps.http.servers.https.routes).toHaveLength(2);
    expect(cfg.apps.tls.automation.policies).toHaveLength(1);
  });
  test('a proxied route, whole: the proxy drops its own Server header (only the app\'s remains), then proxies', () => {
    const f = routeFragments({ hosts: ['shop.example.com'], tls: 'off', upstream: 'shop-web-live', port: 8000, trustedProxies: ['10.0.0.0/8'] });
    expect(JSON.parse(f.http)).toEqual({
      match: [{ host: ['shop.example.com'] }],
      handle: [
        { handler: 'headers', response: { delete: ['Server'] } },
        { handler: 'reverse_proxy', upstreams: [{ dial: 'shop-web-live:8000' }], trusted_proxies: ['10.0.0.0/8'], load_balancing: { try_duration: 2_000_000_000, try_interval: 50_000_000 }, transport: { protocol: 'http', dial_timeout: 2_000_000_000, keep_alive: { enabled: false } } },
      ],
      terminal: true,
    });
    const tls = routeFragments({ hosts: ['shop.example.com'], tls: 'auto', upstream: 'shop-web-live', port: 8000 });
    expect(JSON.parse(tls.https)).toEqual({
      match: [{ host: ['shop.example.com'] }],
      handle: [
        { handler: 'headers', response: { delete: ['Server'] } },
        { handler: 'reverse_proxy', upstreams: [{ dial: 'shop-web-live:8000' }], load_balancing: { try_duration: 2_000_000_000, try_interval: 50_000_000 }, transport: { protocol: 'http', dial_timeout: 2_000_000_000, keep_alive: { enabled: false } } },
      ],
      terminal: true,
    });
    // The delete is not deferred: deferred, it would remove the app's Server header too.
    expect(JSON.parse(tls.https).handle[0].response).not.toHaveProperty('deferred');
  });
  test('the 404 removes the Server header and says nothing else', () => {
    expect(NOT_FOUND_ROUTE.handle[0]).toEqual({ handler: 'headers', response: { delete: ['Server'] } });
    expect(NOT_FOUND_ROUTE.handle[1]).toMatchObject({ status_code: 404, body: 'Not Found\n' });
  });
});

describe('trusted proxies', () => {
  test('private_ranges expands to what Caddy calls private ranges; the route carries them', () => {
    expect(expandTrustedProxies(['private_ranges', '10.0.0.0/8', '203.0.113.7'])).toEqual([...PRIVATE_RANGES, '203.0.113.7']);
    const f = routeFragments({ hosts: ['s.example.com'], tls: 'off', upstream: 'shop-web-1', port: 8000, trustedProxies: ['10.0.0.0/8'] });
    expect(JSON.parse(f.http).handle[1]).toMatchObject({ handler: 'reverse_proxy', trusted_proxies: ['10.0.0.0/8'] });
    const none = routeFragments({ hosts: ['s.example.com'], tls: 'internal', upstream: 'shop-web-1', port: 8000, trustedProxies: [] });
    expect(JSON.parse(none.https).handle[1]).not.toHaveProperty('trusted_proxies');
  });
  test.each([
    ['private_ranges', undefined], ['10.0.0.0/8', undefined], ['203.0.113.7', undefined], ['2001:db8::/32', undefined], ['::1', undefined],
    ['10.0.0.0/33', 'not an IP range'], ['10.0.0/8', 'not an IP range'], ['lb.example.com', 'not an IP range'], ['10.0.0.0/8/1', 'not an IP range'], ['2001:db8::/129', 'not an IP range'],
  ])('trusted_proxies entry %s', (entry, problem) => {
    const p = trustedProxyProblem(entry);
    if (problem) expect(p).toContain(problem); else expect(p).toBeUndefined();
  });
});

describe('route order and the health check scheme', () => {
  const f = (hosts: string[]) => routeFragments({ hosts, tls: 'off', upstream: 'x-web-1', port: 8000 });
  test.each([
    ['exact names first', ['shop.example.com'], '10'],
    ['a wildcard name after exact ones (another app\'s shop.example.com wins)', ['*.example.com', 'example.com'], '50'],
    ['the catch-all last', [], '90'],
  ])('%s', (_name, hosts, order) => {
    expect(routeOrder(f(hosts))).toBe(order);
    expect(setRouteArgv('shop', 'web', 'x-web-1', f(hosts))[12]).toBe(order);
  });
  test.each([
    ['TLS at the proxy', 'internal', [], true],
    ['tls off behind a trusted load balancer (may end TLS)', 'off', ['10.0.0.0/8'], true],
    ['tls off, nobody trusted', 'off', [], false],
  ] as const)('X-Forwarded-Proto: https in the health check: %s', (_name, tls, trustedProxies, https) => {
    expect(healthSendsHttps({ tls, trustedProxies })).toBe(https);
  });
});

describe('route claims: one app per host name, one catch-all per host', () => {
  const frag = (hosts: string[], tls: 'off' | 'internal' = 'off') => routeFragments({ hosts, tls, upstream: 'x-web-1', port: 8000 });
  test('the claims script lists the other routes from the fragment files, as the host holds them', () => {
    const d = mkdtempSync(path.join(os.tmpdir(), 'pallet-claims-'));
    try {
      mkdirSync(path.join(d, 'routes'));
      writeFileSync(path.join(d, 'routes', `10+${routeKey('shop', 'web')}.http`), frag(['shop.test']).http);
      writeFileSync(path.join(d, 'routes', `10+${routeKey('blog', 'web')}.http`), frag(['blog.test', 'www.blog.test'], 'internal').http);
      writeFileSync(path.join(d, 'routes', `90+${routeKey('wiki', 'web')}.http`), frag([]).http);
      const argv = routeClaimsArgv('shop', 'web');
      argv[4] = d;
      const out = execFileSync(argv[0], argv.slice(1), { encoding: 'utf8' });
      expect(parseClaims(out)).toEqual([
        { app: 'blog', role: 'web', hosts: ['blog.test', 'www.blog.test'] },
        { app: 'wiki', role: 'web', hosts: '*' },
      ]);
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });
  test.each<[string, string[], RouteClaim[], string[]]>([
    ['different names: fine', ['shop.test'], [{ app: 'blog', role: 'web', hosts: ['blog.test'] }], []],
    ['named app beside a catch-all: fine (named routes win)', ['shop.test'], [{ app: 'wiki', role: 'web', hosts: '*' }], []],
    ['one catch-all beside named apps: fine', [], [{ app: 'blog', role: 'web', hosts: ['blog.test'] }], []],
    ['a second catch-all', [], [{ app: 'wiki', role: 'web', hosts: '*' }], ["app 'wiki' (role web) already answers every host name"]],
    ['a name another app has', ['shop.test', 'blog.test'], [{ app: 'blog', role: 'web', hosts: ['blog.test'] }], ["host name blog.test already routed to app 'blog' (role web)"]],
    ['another web role of the same app with the same names', ['shop.test'], [{ app: 'shop', role: 'web2', hosts: ['shop.test'] }], ["app 'shop' (role web2)"]],
  ])('%s', (_name, hosts, claims, want) => {
    const got = routeConflicts(hosts, claims);
    expect(got).toHaveLength(want.length);
    want.forEach((w, i) => expect(got[i]).toContain(w));
  });
  test('unparsable fragments are skipped', () => {
    expect(parseClaims('route=a+web\t{not json\nroute=b+web\t\n')).toEqual([{ app: 'b', role: 'web', hosts: [] }]);
  });
});

describe('host commands', () => {
  test('a route switch passes the fragments as arguments, named routes before catch-alls', () => {
    const named = setRouteArgv('shop', 'web', 'shop-web-1', routeFragments({ hosts: ['s.example.com'], tls: 'off', upstream: 'shop-web-1', port: 8000 }));
    expect(named.slice(0, 2)).toEqual(['sh', '-c']);
    expect(named.slice(4, 9)).toEqual(['/var/lib/pallet/proxy', 'pallet-proxy', 'shop+web', 'set', 'shop-web-1']);
    expect(named[12]).toBe('10');
    const all = setRouteArgv('shop', 'web', 'shop-web-1', routeFragments({ hosts: [], tls: 'off', upstream: 'shop-web-1', port: 8000 }));
    expect(all[12]).toBe('90');
    expect(removeRouteArgv('shop', 'web').slice(6, 8)).toEqual(['shop+web', 'remove']);
  });
  test('route keys and container names', () => {
    expect(routeKey('shop', 'web')).toBe('shop+web');
    expect(newContainerName('shop', 'web', 'ab12cd34')).toBe('shop-web-ab12cd34');
    expect(retireArgv(['a', 'b'], 7).slice(4)).toEqual(['7', '0', '8000', 'a', 'b']);
    expect(retireArgv(['a'], 10, { seconds: 30, port: 8080 }).slice(4)).toEqual(['10', '30', '8080', 'a']);
  });
  // /proc/net/tcp as the kernel prints it (local and remote address as HEX_IP:HEX_PORT, st 01 = ESTABLISHED, 0A = LISTEN).
  const TCP_HEADER = '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode';
  const tcpLine = (local: string, remote: string, st: string) => `   0: ${local} ${remote} ${st} 00000000:00000000 00:00000000 00000000     0        0 1 1 0000000000000000 100 0 0 10 0`;
  test.each([
    ['only the listening socket: drained', [tcpLine('00000000:1F40', '00000000:0000', '0A')], false],
    ['a request in flight from the proxy: busy', [tcpLine('00000000:1F40', '00000000:0000', '0A'), tcpLine('0500120A:1F40', '0200120A:D6E2', '01')], true],
    ['a connection closing (TIME_WAIT): drained', [tcpLine('0500120A:1F40', '0200120A:D6E2', '06')], false],
    ['an outgoing connection to the database on 5432: drained', [tcpLine('0500120A:D6E2', '0300120A:1538', '01')], false],
    ['IPv6 socket on the port, lower-case hex: busy', [tcpLine('0000000000000000FFFF00000500120A:1f40', '0000000000000000FFFF00000200120A:D6E2', '01')], true],
  ])('drain check (awk on /proc/net/tcp): %s', (_name, lines, busy) => {
    const r = spawnSync('awk', ['-v', 'hp=1F40', ESTABLISHED_ON_PORT_AWK], { input: [TCP_HEADER, ...lines].join('\n') + '\n' });
    expect(r.status).toBe(busy ? 0 : 1);
  });
  test('what the prepare script prints: the current upstream and every container of the role', () => {
    expect(parsePrepare('upstream=shop-web-live\nlive=shop-web-1\ncontainer=shop-web-1 true\ncontainer=shop-web false\n')).toEqual({
      upstream: 'shop-web-live', live: 'shop-web-1', containers: [{ name: 'shop-web-1', running: true }, { name: 'shop-web', running: false }],
    });
    expect(parsePrepare('upstream=\nlive=\n')).toEqual({ upstream: '', live: '', containers: [] });
  });
  test('what the status script prints: the proxy, then each route', () => {
    expect(proxyStatusArgv().slice(4)).toEqual(['/var/lib/pallet/proxy', 'pallet-proxy']);
    const s = parseProxyStatus([
      'proxy=running 127.0.0.1:5000/pallet-lab/caddy:2.6 2026-11-30T01:02:03.123456789Z 1',
      'route=shop+web\tshop.example.com,www.shop.example.com\ton\tshop-web-1a\trunning build-7',
      'route=blog+web\t*\toff\tblog-web-2b\texited build-3\tmaintenance+static',
    ].join('\n'));
    expect(s).toEqual({
      state: 'running', image: '127.0.0.1:5000/pallet-lab/caddy:2.6', startedAt: '2026-11-30T01:02:03.123456789Z', restarts: 1,
      routes: [
        { app: 'shop', role: 'web', hosts: 'shop.example.com,www.shop.example.com', tls: 'on', container: 'shop-web-1a', containerState: 'running', tag: 'build-7', serves: 'app', static: false },
        { app: 'blog', role: 'web', hosts: '*', tls: 'off', container: 'blog-web-2b', containerState: 'exited', tag: 'build-3', serves: 'maintenance', static: true },
      ],
    });
    expect(parseProxyStatus('proxy=\n')).toMatchObject({ state: '', routes: [] });
  });
});

describe('pallet proxy status tables', () => {
  const hosts: HostProxyStatus[] = [
    { host: 'app1', ...parseProxyStatus('proxy=running caddy:2 2026-11-30T01:02:03.5Z 0\nroute=shop+web\tshop.example.com\ton\tshop-web-1\trunning build-7\n') },
    { host: 'app2', ...parseProxyStatus('proxy=\nroute=shop+web\tshop.example.com\ton\tshop-web-2\texited build-6\tapp+static\n') },
    { host: 'app3', state: '', image: '', startedAt: '', restarts: 0, routes: [], error: 'Connection refused' },
  ];
  test('one proxy row per host', () => {
    expect(proxyRows(hosts)).toEqual([
      ['app1', 'running', 'caddy:2', '0', '2026-11-30T01:02:03Z'],
      ['app2', 'not running', '-', '0', '-'],
      ['app3', 'unreachable: Connection refused', '-', '-', '-'],
    ]);
  });
  test('one route row per route, filtered by app', () => {
    expect(routeRows(hosts)).toEqual([
      ['app1', 'shop', 'web', 'shop.example.com', 'on', 'shop-web-1', 'running', 'build-7', 'the app'],
      ['app2', 'shop', 'web', 'shop.example.com', 'on', 'shop-web-2', 'exited', 'build-6', 'the app, static files'],
    ]);
    expect(routeRows(hosts, 'blog')).toEqual([]);
  });
  test('problems name the host and what to do', () => {
    expect(proxyProblems(hosts)).toEqual([
      'app2: the proxy container is missing; the next deploy starts it, or run: docker start pallet-proxy',
      'app2: shop web routes to shop-web-2, which is exited; deploy or roll back to give it a live container',
      'app3: could not be asked (Connection refused)',
    ]);
  });
  test('a proxy of another image than deploy.proxy.image is reported', () => {
    expect(proxyProblems(hosts.slice(0, 1), undefined, 'caddy:2.8')).toEqual(['app1: the proxy runs caddy:2, deploy.proxy.image names caddy:2.8; the next deploy replaces it, one host at a time']);
    expect(proxyProblems(hosts.slice(0, 1), undefined, 'caddy:2')).toEqual([]);
  });
  test('`pallet proxy status` is the proxy-status command; other words are refused', () => {
    expect(parseInputs(parseCliArgs(['proxy', 'status', '--json'], {}).raw, 'flag')).toMatchObject({ command: 'proxy-status', ops: { json: true } });
    expect(() => parseCliArgs(['proxy', 'reload'], {})).toThrow("pallet proxy needs 'status', got 'reload'");
  });
});

describe('the plan picks the mode', () => {
  const config = (proxy: ProxyConfig | false, health: { path: string; timeout: number; host?: string } = { path: '/health/', timeout: 30 }): PalletConfig => ({
    app: 'shop', image: 'r/shop',
    build: { context: '.', dockerfile: 'Dockerfile', args: {}, tags: [] },
    test: { command: ['test'], services: [], environment: {}, shards: 1, artifacts: [], timeout: 60 },
    deploy: {
      ssh: { user: 'deploy', port: 22 }, env_file: '/etc/pallet/shop.env', tasks: [['deploy']], rolling: { batch: 1 }, keep: 3, require_tested: true, proxy,
      roles: { web: { hosts: ['app1'], command: 'serve', port: 8000, health, stop_timeout: 5 }, worker: { hosts: ['app1'], command: 'worker', stop_timeout: 5 } },
    },
    source: { file: 'pallet.yml', dir: '.' },
  });
  const proxy: ProxyConfig = { hosts: ['shop.example.com', 'www.shop.example.com'], tls: 'internal', image: 'caddy:2', drain_timeout: 2, trusted_proxies: [] };
  test.each([
    ['behind the proxy: web roles only, Host = the first proxy host name', proxy, undefined, { web: [true, 'shop.example.com'], worker: [false, undefined] }],
    ['health.host wins over the proxy host names', proxy, 'health.shop.example.com', { web: [true, 'health.shop.example.com'], worker: [false, undefined] }],
    ['a wildcard is skipped: the first concrete name is sent', { ...proxy, hosts: ['*.shop.example.com', 'shop.example.com'] }, undefined, { web: [true, 'shop.example.com'], worker: [false, undefined] }],
    ['only wildcards: no Host header of ours', { ...proxy, hosts: ['*.shop.example.com'] }, undefined, { web: [true, undefined], worker: [false, undefined] }],
    ['published ports: no proxy, no Host header', false as const, undefined, { web: [false, undefined], worker: [false, undefined] }],
    ['published ports with health.host', false as const, 'shop.example.com', { web: [false, 'shop.example.com'], worker: [false, undefined] }],
  ])('%s', (_n, p, host, want) => {
    const plan = planDeploy(config(p, { path: '/health/', timeout: 30, ...(host ? { host } : {}) }));
    expect(Object.fromEntries(plan.roles.map((r) => [r.role, [r.behindProxy, r.healthHost]]))).toEqual(want);
    expect(plan.proxy?.image).toBe(p ? 'caddy:2' : undefined);
  });
});

test('the CLI lists the proxy command and explains it', () => {
  const out = execFileSync(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'help', 'proxy'], { encoding: 'utf8' });
  expect(out).toMatch(/^usage: pallet proxy status \[--host HOST\] \[--json\]/);
}, 60_000);
