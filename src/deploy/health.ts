// Health after a start: web roles must answer HTTP 200 on their path from the host itself;
// background roles must keep running without restarts for `stable` seconds. A web role that
// answers the same redirect or client error several times in a row fails at once, with what
// that status usually means for a Django app (explainSteadyAnswer, shared by the candidate
// probe and the check after the switch).
import { lastLines } from '../ssh/errors.js';
import type { SshConnection } from '../ssh/connection.js';
import { stableArgv, webHealthArgv } from './commands.js';
import type { RolePlan } from './plan.js';

export interface HealthResult {
  ok: boolean;
  detail: string;
}

export async function checkHealth(conn: SshConnection, app: string, role: RolePlan): Promise<HealthResult> {
  const argv = role.web
    ? webHealthArgv(app, role.role, role.hostPort!, role.healthPath, role.healthTimeout, role.healthHost ?? '')
    : stableArgv(app, role.role, role.stable);
  const r = await conn.run(argv);
  const detail = lastLines(r.stdout || r.stderr, 2);
  return { ok: r.exitCode === 0, detail: r.exitCode === 0 ? detail : explainSteadyAnswer(detail, role) ?? detail };
}

/**
 * Pure: a health loop's last words ("steady HTTP 400: the same answer 5 times in a row") -> what
 * is wrong (status, path, role), what it usually means for a Django app and what to do, naming
 * the pallet.yml keys. Undefined when the output is not about a steady answer.
 */
export function explainSteadyAnswer(output: string, role: Pick<RolePlan, 'role' | 'healthPath' | 'healthHost'>): string | undefined {
  const m = /steady HTTP (\d{3})/.exec(output);
  if (!m) return undefined;
  const code = Number(m[1]);
  const key = `deploy.roles.${role.role}.health`;
  const sent = role.healthHost ? `Host: ${role.healthHost} (${key}.host)` : 'the address it connects to as Host (an IP and port)';
  const what = `${role.healthPath} answered HTTP ${code} every time (the same answer several times in a row, so waiting longer will not help)`;
  const setHost = `set ${key}.host to a name listed in ALLOWED_HOSTS (it is sent as the Host header), or add that name to ALLOWED_HOSTS in the app's environment`;
  let why: string;
  if (code === 400) {
    why = `for Django this almost always means ALLOWED_HOSTS does not accept the Host header the check sends (${sent}): ${setHost}`;
  } else if (code === 404) {
    why = `for Django this means no URL pattern matches ${role.healthPath}: set ${key}.path to a URL the app serves (mind the trailing slash), or add a health view to urls.py`;
  } else if (code === 401 || code === 403) {
    why = `the view refuses anonymous requests (login required, a permission or an IP allow-list middleware); make ${role.healthPath} public, or, if a middleware checks the host, ${setHost}`;
  } else if (code === 405) {
    why = `the view does not accept GET; allow GET on ${role.healthPath}`;
  } else if (code >= 300 && code < 400) {
    why = `the app redirects the plain-HTTP check (Django: SECURE_SSL_REDIRECT, APPEND_SLASH or a login redirect); add the path to SECURE_REDIRECT_EXEMPT, or set ${key}.path to the final URL (with its trailing slash)`;
  } else {
    why = `the app refuses the check; make ${role.healthPath} answer 200 to a plain GET (the check sends ${sent})`;
  }
  return `${what}: ${why}`;
}
