// Pure: `pallet proxy status` tables from each host's parsed proxy state (see parseProxyStatus).
import type { ProxyStatus } from './commands.js';

/** One host's answer: its proxy state, or why it could not be read. */
export interface HostProxyStatus extends ProxyStatus {
  host: string;
  error?: string;
}

export const PROXY_HEADER = ['host', 'proxy', 'image', 'restarts', 'started'];
export const ROUTE_HEADER = ['host', 'app', 'role', 'host names', 'tls', 'live container', 'state', 'tag', 'answers'];

/** Rows of the proxy table: one per host ('not running' when the host has no proxy container). */
export function proxyRows(hosts: HostProxyStatus[]): string[][] {
  return hosts.map((h) => h.error
    ? [h.host, `unreachable: ${h.error}`, '-', '-', '-']
    : [h.host, h.state || 'not running', h.image || '-', String(h.restarts), h.startedAt ? h.startedAt.replace(/\.\d+Z$/, 'Z') : '-']);
}

/** Rows of the route table: every route on every host, `app` limiting them to one app when given. */
export function routeRows(hosts: HostProxyStatus[], app?: string): string[][] {
  return hosts.flatMap((h) => h.routes
    .filter((r) => !app || r.app === app)
    .map((r) => [h.host, r.app, r.role, r.hosts, r.tls, r.container, r.containerState, r.tag || '-',
      `${r.serves === 'maintenance' ? 'maintenance page (503)' : 'the app'}${r.static ? ', static files' : ''}`]));
}

/**
 * What an operator should look at: a host without a running proxy, a proxy of another image than
 * `image` (deploy.proxy.image, when given), a route whose live container is not running. Lines
 * name the host (and app/role); empty when all is well.
 */
export function proxyProblems(hosts: HostProxyStatus[], app?: string, image?: string): string[] {
  const out: string[] = [];
  for (const h of hosts) {
    if (h.error) { out.push(`${h.host}: could not be asked (${h.error})`); continue; }
    if (h.state !== 'running') out.push(`${h.host}: the proxy container is ${h.state || 'missing'}; the next deploy starts it, or run: docker start pallet-proxy`);
    else if (image && h.image && h.image !== image) out.push(`${h.host}: the proxy runs ${h.image}, deploy.proxy.image names ${image}; the next deploy replaces it, one host at a time`);
    for (const r of h.routes) {
      if (app && r.app !== app) continue;
      if (r.serves === 'maintenance') out.push(`${h.host}: ${r.app} ${r.role} answers the maintenance page (503); end it with: pallet maintenance off`);
      if (r.containerState !== 'running') out.push(`${h.host}: ${r.app} ${r.role} routes to ${r.container}, which is ${r.containerState}; deploy or roll back to give it a live container`);
    }
  }
  return out;
}
