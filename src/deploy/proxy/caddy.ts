// Pure: the proxy's configuration as Caddy JSON (https://caddyserver.com/docs/json/).
// The whole config is assembled on each host from per-(app, role) fragments kept in
// /var/lib/pallet/proxy/routes, so several apps share one proxy and each deploy only rewrites
// its own fragment. The layout (fixed here, filled on the host by commands.ts's SET_ROUTE):
//
//   admin: localhost:2019 inside the proxy container only (reached with `docker exec ... caddy
//          reload`), never persisted by Caddy itself (our caddy.json is the persisted state)
//   server "http"  :80   tls-off routes, redirects to https for TLS apps, then a plain 404
//   server "https" :443  TLS apps' routes, then a plain 404; certificates by Caddy's automatic
//                        HTTPS (ACME for `auto`, its own CA for `internal`)

/** How the proxy terminates TLS for an app: ACME certificates, Caddy's own CA, or plain HTTP. */
export type ProxyTls = 'auto' | 'internal' | 'off';

/**
 * What Caddy calls `private_ranges` (its Caddyfile shorthand; the JSON config wants the ranges):
 * RFC 1918 IPv4, loopback, IPv6 unique-local (fd00::/8) and loopback.
 */
export const PRIVATE_RANGES = ['192.168.0.0/16', '172.16.0.0/12', '10.0.0.0/8', '127.0.0.1/8', 'fd00::/8', '::1'];

/** `deploy.proxy.trusted_proxies` as CIDR ranges: `private_ranges` expanded, duplicates dropped. */
export function expandTrustedProxies(list: readonly string[]): string[] {
  return [...new Set(list.flatMap((s) => (s === 'private_ranges' ? PRIVATE_RANGES : [s])))];
}

export interface RouteSpec {
  /** Host names routed to this app; empty = every host name (one such app per host). */
  hosts: string[];
  tls: ProxyTls;
  /** The name Caddy dials on the app's network: the role's live name (resolved by Docker's DNS for each request). */
  upstream: string;
  /** Container port the app listens on (8000 by the pallet contract). */
  port: number;
  /**
   * CIDR ranges trusted to send X-Forwarded-For/-Proto/-Host (a load balancer in front); from
   * other sources Caddy replaces them with what it saw. [] = trust no one.
   */
  trustedProxies?: string[];
  /**
   * Requests under `url` (a path prefix ending in '/') are answered from the directory `root` as
   * the proxy container sees it (see staticRoute); everything else goes to the upstream.
   */
  static?: { url: string; root: string };
  /**
   * Maintenance mode: instead of the upstream, every request (but the static files) gets `503`
   * with `Retry-After: retryAfter` (seconds, RFC 9110 §10.2.3) and `page` (HTML).
   */
  maintenance?: { page: string; retryAfter: number };
  /**
   * `tls: auto` from this ACME CA (deploy.proxy.acme) instead of Caddy's defaults: its directory
   * URL, the root file (as the proxy container sees it) trusted for its HTTPS, the account email.
   */
  acme?: AcmeIssuer;
  /**
   * `tls: auto` on several hosts: the other hosts' port 80 as Caddy dials it (`host:80`). An
   * HTTP-01 challenge this proxy does not know is asked of them in turn (see challengeRoutes).
   */
  challengePeers?: string[];
}

/** deploy.proxy.acme as the proxy's config names it. */
export interface AcmeIssuer {
  ca?: string;
  /** Path inside the proxy container of the PEM file trusted for `ca`'s HTTPS. */
  caRootFile?: string;
  email?: string;
}

/** The header that marks an ACME challenge request forwarded from another host: never forwarded again. */
export const CHALLENGE_FORWARDED_HEADER = 'X-Pallet-Acme-Forwarded';

/** HTTP-01 challenge paths (RFC 8555 §8.3). */
export const CHALLENGE_PATH = '/.well-known/acme-challenge/*';

/** The three fragments one (app, role) contributes; each is a comma-joined list of JSON objects ('' = none). */
export interface RouteFragments {
  http: string;
  https: string;
  policies: string;
  /** Routes without a host matcher go after every named one, so named hosts always win. */
  catchAll: boolean;
  /** Routes with a wildcard name (`*.example.com`) go after exact names, so `shop.example.com` of another app wins. */
  wildcard: boolean;
}

/**
 * Where a route goes in the proxy's list (pure; Caddy tries routes in order, first match wins):
 * exact names ("10"), then routes with a wildcard name ("50"), then the catch-all ("90").
 */
export function routeOrder(f: RouteFragments): string {
  return f.catchAll ? '90' : f.wildcard ? '50' : '10';
}

/**
 * Whether the health check sends `X-Forwarded-Proto: https` (pure): when TLS ends at the proxy,
 * and with `tls: off` when a load balancer in front is trusted (it may end TLS and say so), so an
 * app with SECURE_SSL_REDIRECT answers the check as it answers its users instead of redirecting.
 */
export function healthSendsHttps(p: { tls: ProxyTls; trustedProxies: readonly string[] }): boolean {
  return p.tls !== 'off' || p.trustedProxies.length > 0;
}

/**
 * Removes the `Server: Caddy` header the proxy sets on every response. Not deferred: it runs before
 * the next handler writes, so on a proxied response only the app's own Server header remains (Caddy
 * adds the upstream's headers to its own, which would otherwise give two).
 */
export const DROP_PROXY_SERVER_HEADER = { handler: 'headers', response: { delete: ['Server'] } };

const notFound = (): object => ({ handler: 'static_response', status_code: 404, headers: { 'Content-Type': ['text/plain; charset=utf-8'] }, body: 'Not Found\n' });

/** Answer for host names no app claims: a bare 404, without Caddy's Server header. */
export const NOT_FOUND_ROUTE = {
  handle: [DROP_PROXY_SERVER_HEADER, notFound()],
};

/**
 * A file name as Django's ManifestStaticFilesStorage writes it: `name.<first 12 hex digits of the
 * content's MD5>.ext` (django/contrib/staticfiles/storage.py, HashedFilesMixin.hashed_name).
 * Such a name never changes content, so it may be cached for good.
 */
export const HASHED_NAME_PATTERN = '\\.[0-9a-f]{12}\\.[A-Za-z0-9]+$';

/** Cache-Control of hashed names (RFC 8246 `immutable`: a year, never revalidated). */
export const CACHE_HASHED = 'public, max-age=31536000, immutable';
/** Cache-Control of other static files: a minute, so a changed file shows soon. */
export const CACHE_OTHER = 'public, max-age=60';

/**
 * The route of the static files under `url`: the prefix is stripped and the rest looked up in
 * `root`; a file found is served with its Cache-Control (hashed names: CACHE_HASHED), with a
 * `.br`/`.zst`/`.gz` variant beside it when the client accepts one; anything else is a 404 from
 * the proxy, so the app never sees a request under `url`.
 */
export function staticRoute(s: { url: string; root: string }): object {
  // GET and HEAD only: any other method under `url` is the 404 too, never the app.
  const exists = { method: ['GET', 'HEAD'], file: { root: s.root, try_files: ['{http.request.uri.path}'] } };
  const serve = (cache: string) => [
    { handler: 'headers', response: { set: { 'Cache-Control': [cache] } } },
    { handler: 'file_server', root: s.root, precompressed: { br: {}, zstd: {}, gzip: {} }, precompressed_order: ['br', 'zstd', 'gzip'] },
  ];
  return {
    match: [{ path: [`${s.url}*`] }],
    handle: [{
      handler: 'subroute',
      routes: [
        { handle: [{ handler: 'rewrite', strip_path_prefix: s.url.slice(0, -1) }] },
        { match: [{ ...exists, path_regexp: { pattern: HASHED_NAME_PATTERN } }], handle: serve(CACHE_HASHED), terminal: true },
        { match: [exists], handle: serve(CACHE_OTHER), terminal: true },
        { handle: [notFound()] },
      ],
    }],
    terminal: true,
  };
}

/** The maintenance answer: 503, Retry-After, the page, never cached. */
export function maintenanceResponse(m: { page: string; retryAfter: number }): object {
  return {
    handler: 'static_response', status_code: 503,
    headers: { 'Content-Type': ['text/html; charset=utf-8'], 'Retry-After': [String(m.retryAfter)], 'Cache-Control': ['no-store'] },
    body: m.page,
  };
}

function proxyRoute(r: RouteSpec): object {
  const upstream = {
    handler: 'reverse_proxy',
    upstreams: [{ dial: `${r.upstream}:${r.port}` }],
    // The handler-level field (Caddy >= 2.5; still read by 2.7+ beside the server-level one).
    ...(r.trustedProxies?.length ? { trusted_proxies: r.trustedProxies } : {}),
    // `upstream` is the role's live name (liveName): a switch renames containers and Caddy's config
    // stays as it is. A new connection per request, so each request resolves the name and none
    // reaches the previous container over a kept-alive one (gunicorn's sync workers close every
    // connection anyway). A request that finds no container of that name (the instant between the
    // two renames) or a refused connection is tried again for up to 2 s; a stopped upstream then
    // answers 502 instead of hanging a request.
    load_balancing: { try_duration: 2_000_000_000, try_interval: 50_000_000 },
    transport: { protocol: 'http', dial_timeout: 2_000_000_000, keep_alive: { enabled: false } },
  };
  const answer = r.maintenance ? maintenanceResponse(r.maintenance) : upstream;
  return {
    ...(r.hosts.length ? { match: [{ host: r.hosts }] } : {}),
    handle: r.static
      ? [DROP_PROXY_SERVER_HEADER, { handler: 'subroute', routes: [staticRoute(r.static), { handle: [answer] }] }]
      : [DROP_PROXY_SERVER_HEADER, answer],
    terminal: true,
  };
}

/**
 * Caddy's issuers for `tls: auto` (pure): with deploy.proxy.acme's `ca` the ACME issuer of that CA,
 * with the root it trusts for the CA's HTTPS; without, Caddy's own defaults (Let's Encrypt, then
 * ZeroSSL), with the email if one is given. `httpOnly` (several hosts): the HTTP-01 challenge
 * only, the one the hosts pass between them; TLS-ALPN-01 goes to port 443 of whichever host the
 * name leads to, and only the host that asked can answer it there.
 */
export function acmeIssuers(a: AcmeIssuer, httpOnly = false): object[] {
  const common = { ...(a.email ? { email: a.email } : {}), ...(httpOnly ? { challenges: { 'tls-alpn': { disabled: true } } } : {}) };
  if (!a.ca) return [{ module: 'acme', ...common }, { module: 'zerossl', ...common }];
  return [{ module: 'acme', ca: a.ca, ...common, ...(a.caRootFile ? { trusted_roots_pem_files: [a.caRootFile] } : {}) }];
}

/**
 * The routes that let any host of the role answer an HTTP-01 challenge (pure), in front of the
 * redirect to HTTPS. Caddy answers a challenge it started itself before any route runs
 * (caddyhttp's Server.ServeHTTP calls the TLS app's HandleHTTPChallenge first); a request for a
 * token it does not know falls through to the routes, which is where these come in. Behind a
 * load balancer the CA's request for host A's token may reach host B: B forwards it, marked with
 * CHALLENGE_FORWARDED_HEADER, to each other host's port 80 in turn, moving on when one answers
 * 404, so the host that holds the token answers it. A marked request that reaches a host which does not know the
 * token gets the 404 at once: a challenge is forwarded at most once, never in a loop.
 *
 * Step i asks the first reachable of peers[i..]: a peer that cannot be reached (down, being
 * replaced) counts as a failure for 30 s (Caddy's passive health check, shared by every route of
 * the proxy) and the next one is asked within the same request, so one host that is down does not
 * keep the others from answering.
 */
export function challengeRoutes(hosts: string[], peers: string[]): object[] {
  const forward = (dials: string[], next?: object): object => ({
    handler: 'reverse_proxy',
    upstreams: dials.map((dial) => ({ dial })),
    load_balancing: { selection_policy: { policy: 'first' }, try_duration: 5_000_000_000, try_interval: 100_000_000 },
    health_checks: { passive: { fail_duration: 30_000_000_000, max_fails: 1 } },
    headers: { request: { set: { [CHALLENGE_FORWARDED_HEADER]: ['1'] } } },
    transport: { protocol: 'http', dial_timeout: 2_000_000_000, response_header_timeout: 5_000_000_000 },
    ...(next ? { handle_response: [{ match: { status_code: [404] }, routes: [{ handle: [next] }] }] } : {}),
  });
  const chain = peers.reduceRight<object | undefined>((next, _dial, i) => forward(peers.slice(i), next), undefined)!;
  return [
    { match: [{ host: hosts, path: [CHALLENGE_PATH], header: { [CHALLENGE_FORWARDED_HEADER]: ['1'] } }], handle: [notFound()], terminal: true },
    { match: [{ host: hosts, path: [CHALLENGE_PATH] }], handle: [chain], terminal: true },
  ];
}

/** `host:80` as Caddy dials it (IPv6 literals in brackets), for challengePeers. */
export function peerDial(host: string): string {
  return `${host.includes(':') ? `[${host}]` : host}:80`;
}

/** The fragments of one app's web role. Throws when TLS is asked for without host names. */
export function routeFragments(r: RouteSpec): RouteFragments {
  if (r.tls !== 'off' && r.hosts.length === 0) throw new Error(`tls ${r.tls} needs host names (deploy.proxy.hosts)`);
  const j = (o: object) => JSON.stringify(o);
  const wildcard = r.hosts.some((h) => h.startsWith('*.'));
  if (r.tls === 'off') return { http: j(proxyRoute(r)), https: '', policies: '', catchAll: r.hosts.length === 0, wildcard };
  const redirect = {
    match: [{ host: r.hosts }],
    handle: [{ handler: 'static_response', status_code: 308, headers: { Location: ['https://{http.request.host}{http.request.uri}'] } }],
    terminal: true,
  };
  const several = r.tls === 'auto' && (r.challengePeers?.length ?? 0) > 0;
  const policies = r.tls === 'internal' ? j({ subjects: r.hosts, issuers: [{ module: 'internal' }] })
    : r.acme || several ? j({ subjects: r.hosts, issuers: acmeIssuers(r.acme ?? {}, several) }) : '';
  const challenges = several ? challengeRoutes(r.hosts, r.challengePeers!) : [];
  return { http: [...challenges, redirect].map(j).join(','), https: j(proxyRoute(r)), policies, catchAll: false, wildcard };
}

/**
 * Only the HTTP-01 challenge routes of `tls: auto` on several hosts (pure), for a host where the app
 * has no route yet: put on every such host before the first one switches, so that whichever host
 * the CA's request reaches passes it on to the host that asked. No redirect, no certificate
 * policy, no route to the app: the host's proxy asks the CA for nothing until its own switch.
 * undefined when the route has no challenge peers (one host, or another tls).
 */
export function challengeFragments(r: RouteSpec): RouteFragments | undefined {
  if (r.tls !== 'auto' || !r.challengePeers?.length || !r.hosts.length) return undefined;
  const wildcard = r.hosts.some((h) => h.startsWith('*.'));
  return { http: challengeRoutes(r.hosts, r.challengePeers).map((o) => JSON.stringify(o)).join(','), https: '', policies: '', catchAll: false, wildcard };
}

/**
 * The config around the fragments, as the strings the host script prints between them:
 * [beforeHttp, beforeHttps, beforePolicies, end]; each route list ends with NOT_FOUND_ROUTE.
 */
export function configFrame(): [string, string, string, string] {
  const nf = JSON.stringify(NOT_FOUND_ROUTE);
  return [
    '{"admin":{"listen":"localhost:2019","config":{"persist":false}},"apps":{"http":{"servers":{"http":{"listen":[":80"],"routes":[',
    `${nf}]},"https":{"listen":[":443"],"automatic_https":{"disable_redirects":true},"routes":[`,
    `${nf}]}}},"tls":{"automation":{"policies":[`,
    ']}}}}',
  ];
}

/** The config of a proxy that routes nothing yet (every host name gets the 404). */
export function emptyConfig(): string {
  const [a, b, c, d] = configFrame();
  return a + b + c + d;
}
