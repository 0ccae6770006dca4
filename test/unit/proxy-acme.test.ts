// `tls: auto` against a chosen ACME CA and on several hosts: the issuer policy, the routes that
// pass HTTP-01 challenges between the hosts (whole Caddy JSON objects), the peers each host asks,
// the CA root's file on the host, and the config checks of deploy.proxy.acme.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { acmeIssuers, challengeRoutes, CHALLENGE_FORWARDED_HEADER, peerDial, routeFragments } from '../../src/deploy/proxy/caddy.js';
import { acmeRootFile, placeAcmeRootArgv } from '../../src/deploy/proxy/commands.js';
import { challengePeers, roleFragments } from '../../src/deploy/proxy/rollout.js';
import { planDeploy } from '../../src/deploy/plan.js';
import { loadConfig } from '../../src/config/load.js';
import type { PalletConfig, ProxyConfig } from '../../src/config/types.js';

const PEM = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
const notFound = { handler: 'static_response', status_code: 404, headers: { 'Content-Type': ['text/plain; charset=utf-8'] }, body: 'Not Found\n' };
const forward = (...dials: string[]) => ({
  handler: 'reverse_proxy',
  upstreams: dials.map((dial) => ({ dial })),
  load_balancing: { selection_policy: { policy: 'first' }, try_duration: 5_000_000_000, try_interval: 100_000_000 },
  health_checks: { passive: { fail_duration: 30_000_000_000, max_fails: 1 } },
  headers: { request: { set: { 'X-Pallet-Acme-Forwarded': ['1'] } } },
  transport: { protocol: 'http', dial_timeout: 2_000_000_000, response_header_timeout: 5_000_000_000 },
});
const redirect = {
  match: [{ host: ['shop.example.com'] }],
  handle: [{ handler: 'static_response', status_code: 308, headers: { Location: ['https://{http.request.host}{http.request.uri}'] } }],
  terminal: true,
};

describe('issuers of deploy.proxy.acme', () => {
  test('a private CA: its directory, the root trusted for its HTTPS, the email', () => {
    expect(acmeIssuers({ ca: 'https://ca.internal/acme/acme/directory', caRootFile: '/etc/pallet-proxy/acme-roots/ab.pem', email: 'ops@example.com' })).toEqual([
      { module: 'acme', ca: 'https://ca.internal/acme/acme/directory', email: 'ops@example.com', trusted_roots_pem_files: ['/etc/pallet-proxy/acme-roots/ab.pem'] },
    ]);
  });
  test('a CA with a publicly trusted certificate: no root of ours', () => {
    expect(acmeIssuers({ ca: 'https://acme.example.com/dir' })).toEqual([{ module: 'acme', ca: 'https://acme.example.com/dir' }]);
  });
  test("only an email: Caddy's defaults (Let's Encrypt, then ZeroSSL) with that email", () => {
    expect(acmeIssuers({ email: 'ops@example.com' })).toEqual([{ module: 'acme', email: 'ops@example.com' }, { module: 'zerossl', email: 'ops@example.com' }]);
  });
  test('several hosts: HTTP-01 only (the challenge the hosts pass between them), also with Caddy\'s default CAs', () => {
    const off = { challenges: { 'tls-alpn': { disabled: true } } };
    expect(acmeIssuers({ ca: 'https://ca.internal/dir' }, true)).toEqual([{ module: 'acme', ca: 'https://ca.internal/dir', ...off }]);
    const f = routeFragments({ hosts: ['shop.example.com'], tls: 'auto', upstream: 'u', port: 8000, challengePeers: ['10.0.0.2:80'] });
    expect(JSON.parse(f.policies)).toEqual({ subjects: ['shop.example.com'], issuers: [{ module: 'acme', ...off }, { module: 'zerossl', ...off }] });
  });
  test('the policy covers exactly the app\'s names', () => {
    const f = routeFragments({ hosts: ['shop.example.com'], tls: 'auto', upstream: 'u', port: 8000, acme: { ca: 'https://ca.internal/dir' } });
    expect(JSON.parse(f.policies)).toEqual({ subjects: ['shop.example.com'], issuers: [{ module: 'acme', ca: 'https://ca.internal/dir' }] });
  });
});

describe('ACME challenges on several hosts', () => {
  test('a marked request gets the 404; an unmarked one is asked of each peer in turn, the next on a 404 or when one cannot be reached', () => {
    expect(challengeRoutes(['shop.example.com'], ['10.0.0.2:80', '10.0.0.3:80'])).toEqual([
      {
        match: [{ host: ['shop.example.com'], path: ['/.well-known/acme-challenge/*'], header: { [CHALLENGE_FORWARDED_HEADER]: ['1'] } }],
        handle: [notFound],
        terminal: true,
      },
      {
        match: [{ host: ['shop.example.com'], path: ['/.well-known/acme-challenge/*'] }],
        handle: [{
          ...forward('10.0.0.2:80', '10.0.0.3:80'),
          handle_response: [{ match: { status_code: [404] }, routes: [{ handle: [forward('10.0.0.3:80')] }] }],
        }],
        terminal: true,
      },
    ]);
  });
  test('tls auto with peers: the challenge routes come before the redirect to https on port 80', () => {
    const f = routeFragments({ hosts: ['shop.example.com'], tls: 'auto', upstream: 'u', port: 8000, challengePeers: ['10.0.0.2:80'] });
    expect(JSON.parse(`[${f.http}]`)).toEqual([...challengeRoutes(['shop.example.com'], ['10.0.0.2:80']), redirect]);
  });
  test.each([
    ['one host (no peers)', { tls: 'auto' as const, challengePeers: [] }],
    ['tls internal (the proxy signs its own)', { tls: 'internal' as const, challengePeers: ['10.0.0.2:80'] }],
  ])('%s: only the redirect', (_n, r) => {
    const f = routeFragments({ hosts: ['shop.example.com'], upstream: 'u', port: 8000, ...r });
    expect(JSON.parse(`[${f.http}]`)).toEqual([redirect]);
  });
  test('peer addresses as Caddy dials them', () => {
    expect([peerDial('app2.example.com'), peerDial('10.0.0.2'), peerDial('2001:db8::2')]).toEqual(['app2.example.com:80', '10.0.0.2:80', '[2001:db8::2]:80']);
  });
});

describe('the plan: peers per host, the CA root on the host', () => {
  const config = (proxy: ProxyConfig, web: string[]): PalletConfig => ({
    app: 'shop', image: 'r/shop',
    build: { context: '.', dockerfile: 'Dockerfile', args: {}, tags: [] },
    test: { command: ['test'], services: [], environment: {}, shards: 1, artifacts: [], timeout: 60 },
    deploy: {
      ssh: { user: 'deploy', port: 22 }, env_file: '/etc/pallet/shop.env', tasks: [['deploy']], rolling: { batch: 1 }, keep: 3, require_tested: true, proxy,
      roles: { web: { hosts: web, command: 'serve', port: 8000, stop_timeout: 5 } },
    },
    source: { file: 'pallet.yml', dir: '.' },
  });
  const proxy: ProxyConfig = { hosts: ['shop.example.com'], tls: 'auto', image: 'caddy:2', drain_timeout: 2, trusted_proxies: [] };

  test('each host asks the others, at the address pallet.yml gives them (no user, no SSH port), port 80', () => {
    const plan = planDeploy(config(proxy, ['root@10.0.0.1:2201', 'app2.example.com', '10.0.0.3']));
    const web = plan.roles[0];
    expect(web.hosts.map((l) => challengePeers(plan, web, l))).toEqual([
      ['app2.example.com:80', '10.0.0.3:80'],
      ['10.0.0.1:80', '10.0.0.3:80'],
      ['10.0.0.1:80', 'app2.example.com:80'],
    ]);
  });
  test('no peers with tls internal or off, or on one host', () => {
    for (const [p, web] of [[{ ...proxy, tls: 'internal' as const }, ['a1', 'a2']], [{ ...proxy, tls: 'off' as const }, ['a1', 'a2']], [proxy, ['a1']]] as const) {
      const plan = planDeploy(config(p, [...web]));
      expect(challengePeers(plan, plan.roles[0], plan.roles[0].hosts[0])).toEqual([]);
    }
  });
  test('the route names the CA root where the proxy container sees it, under a name made from its content', () => {
    const plan = planDeploy(config({ ...proxy, acme: { ca: 'https://ca.internal/dir', ca_root: PEM, email: 'ops@example.com' } }, ['a1', 'a2']));
    const f = roleFragments(plan, plan.roles[0], 'a1', 'shop-web-1');
    const file = acmeRootFile(PEM);
    expect(file.host).toMatch(/^\/var\/lib\/pallet\/proxy\/acme-roots\/[0-9a-f]{16}\.pem$/);
    expect(file.container).toBe(file.host.replace('/var/lib/pallet/proxy/', '/etc/pallet-proxy/'));
    expect(JSON.parse(f.policies)).toEqual({
      subjects: ['shop.example.com'],
      issuers: [{ module: 'acme', ca: 'https://ca.internal/dir', email: 'ops@example.com', challenges: { 'tls-alpn': { disabled: true } }, trusted_roots_pem_files: [file.container] }],
    });
    expect(JSON.parse(`[${f.http}]`)).toEqual([...challengeRoutes(['shop.example.com'], ['a2:80']), redirect]);
    // The certificate travels as an argument (it is public), trimmed; the file is its hash.
    expect(placeAcmeRootArgv(PEM).slice(-2)).toEqual([file.host, PEM.trim()]);
    expect(acmeRootFile(`${PEM}\n\n`)).toEqual(file);
  });
});

describe('loading deploy.proxy.acme', () => {
  let dir: string;
  beforeAll(() => { dir = mkdtempSync(path.join(os.tmpdir(), 'pallet-acme-')); writeFileSync(path.join(dir, 'root.pem'), PEM); });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const load = (acme: string) => {
    const file = path.join(dir, 'pallet.yml');
    writeFileSync(file, `app: shop\nimage: registry.example.com/shop\ndeploy:\n  roles:\n    web: { hosts: [app1, app2] }\n  proxy:\n    hosts: [shop.example.com]\n    acme: ${acme}\n`);
    return loadConfig(file);
  };
  test('ca_root is read from the file beside pallet.yml', () => {
    const c = load('{ ca: "https://ca.internal:9000/acme/acme/directory", ca_root: root.pem, email: ops@example.com }');
    expect(c.deploy?.proxy && c.deploy.proxy.acme).toEqual({ ca: 'https://ca.internal:9000/acme/acme/directory', ca_root: PEM, email: 'ops@example.com' });
  });
  test('only an email', () => {
    expect(load('{ email: ops@example.com }').deploy?.proxy).toMatchObject({ tls: 'auto', acme: { email: 'ops@example.com' } });
  });
});
