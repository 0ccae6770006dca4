// Health after a start: web roles must answer HTTP 200 on their path from the host itself;
// background roles must keep running without restarts for `stable` seconds.
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
    ? webHealthArgv(app, role.role, role.hostPort!, role.healthPath, role.healthTimeout, role.healthHost)
    : stableArgv(app, role.role, role.stable);
  const r = await conn.run(argv);
  return { ok: r.exitCode === 0, detail: lastLines(r.stdout || r.stderr, 2) };
}
