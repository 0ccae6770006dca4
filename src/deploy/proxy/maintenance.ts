// Maintenance mode on the per-host proxy: each web role's route answers 503 with Retry-After and
// a page instead of going to the app; the containers keep running and the static files are still
// served (the page may use them). Turning it off points the route at the same container again.
// `pallet maintenance on|off` and a deploy with deploy.maintenance.during_tasks use this.
import { lastLines } from '../../ssh/errors.js';
import type { HostConnection } from '../../ssh/connection.js';
import { reporter } from '../../util/reporter.js';
import { failures, forEachHost } from '../parallel.js';
import type { DeployPlan } from '../plan.js';
import { StepError } from '../types.js';
import { parsePrepare, prepareSwitchArgv, setRouteArgv } from './commands.js';
import { roleFragments } from './rollout.js';

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** The built-in page (HTML), with `message` (escaped) when given. */
export function defaultMaintenancePage(message?: string): string {
  return [
    '<!doctype html>',
    '<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">',
    '<title>Down for maintenance</title>',
    '<style>body{font-family:system-ui,sans-serif;max-width:36rem;margin:4rem auto;padding:0 1rem;color:#222}</style></head>',
    '<body><h1>Back in a moment</h1>',
    `<p>${message ? escapeHtml(message) : 'We are updating the site. Please try again in a minute.'}</p>`,
    '</body></html>',
    '',
  ].join('\n');
}

/** What the 503 carries: deploy.maintenance's page (or the built-in one with `message`) and Retry-After. */
export function maintenanceAnswer(plan: DeployPlan, message?: string): { page: string; retryAfter: number } {
  const m = plan.maintenance;
  return { page: message !== undefined || !m?.page ? defaultMaintenancePage(message) : m.page, retryAfter: m?.retryAfter ?? 60 };
}

/** One host's result: the roles switched, and those skipped because they have no route yet. */
export interface MaintenanceResult { host: string; roles: string[]; notDeployed: string[] }

/**
 * Points every web role's route on each host of `conns` (labels from `plan`) at the page (`on`:
 * the answer) or back at the container it routes to (`undefined`). A role without a route yet
 * (never deployed there) is skipped. Throws a StepError naming the first host that failed.
 */
export async function setMaintenance(plan: DeployPlan, conns: Map<string, HostConnection>, answer: { page: string; retryAfter: number } | undefined): Promise<MaintenanceResult[]> {
  const web = plan.roles.filter((r) => r.behindProxy);
  const hosts = [...conns.keys()].filter((l) => web.some((r) => r.hosts.includes(l)));
  const outcomes = await forEachHost(hosts, async (label) => {
    const conn = conns.get(label)!;
    const result: MaintenanceResult = { host: label, roles: [], notDeployed: [] };
    for (const role of web.filter((r) => r.hosts.includes(label))) {
      const { upstream } = parsePrepare((await conn.check(prepareSwitchArgv(plan.app, role.role), 'reading the route')).stdout);
      if (!upstream) { result.notDeployed.push(role.role); continue; }
      const r = await conn.run(setRouteArgv(plan.app, role.role, upstream, roleFragments(plan, role, label, upstream, answer)));
      if (r.exitCode !== 0) throw new Error(lastLines(r.stdout || r.stderr, 2) || `exit ${r.exitCode}`);
      result.roles.push(role.role);
    }
    return result;
  });
  const f = failures(outcomes)[0];
  if (f) throw new StepError(f.host, answer ? 'maintenance on' : 'maintenance off', f.error instanceof Error ? f.error.message : String(f.error));
  const done = outcomes.flatMap((o) => (o.ok ? [o.value] : []));
  for (const d of done) {
    if (d.roles.length) reporter().info(`${d.host}: ${d.roles.join(', ')} ${answer ? 'answers 503 with the maintenance page' : 'routed to the app again'}`);
    if (d.notDeployed.length) reporter().info(`${d.host}: ${d.notDeployed.join(', ')} not deployed here yet (no route): left as it is`);
  }
  return done;
}
