// Step 5 on one host and role: stop the old container gracefully, start the given tag, wait for
// health. Used for the rollout and, with the revert tag, for the revert.
import { formatDuration, reporter } from '../util/reporter.js';
import { lastLines } from '../ssh/errors.js';
import { HostConnectionError } from '../ssh/connection.js';
import { probeArgv, runContainerArgv, stopRemoveArgv, type ContainerSpec } from './commands.js';
import { checkHealth } from './health.js';
import type { RolePlan } from './plan.js';
import { StepError, type DeployRun } from './types.js';

export async function restartRole(run: DeployRun, label: string, role: RolePlan, tag: string, opts: { probe: boolean; onTouch?: () => void } = { probe: true }): Promise<void> {
  const h = run.hosts.get(label)!;
  const { app, image, envFile } = run.plan;
  const t0 = Date.now();
  const step = async (name: string, fn: () => Promise<void>) => {
    try {
      await fn();
    } catch (e) {
      if (e instanceof StepError) throw e;
      if (e instanceof HostConnectionError) h.lost = e.detail;
      throw new StepError(label, `${name} (${role.role})`, (e as Error).message);
    }
  };
  const spec: ContainerSpec = { app, role: role.role, tag, image, command: role.command, envFile, port: role.port, hostPort: role.hostPort };
  if (role.web && opts.probe) {
    await step('health', async () => {
      const r = await h.conn.run(probeArgv(spec, role.healthPath, role.healthTimeout));
      if (r.exitCode !== 0) {
        h.health.push(`${role.role}: candidate FAILED`);
        throw new Error(`new version never served: ${r.stdout.trim() || r.stderr.trim() || `exit ${r.exitCode}`}`);
      }
    });
  }
  opts.onTouch?.();
  await step('stop', async () => {
    const r = await h.conn.run(stopRemoveArgv(app, role.role, role.stopTimeout));
    if (r.exitCode !== 0) throw new Error(lastLines(r.stderr || r.stdout) || `exit ${r.exitCode}`);
  });
  await step('start', async () => {
    const r = await h.conn.run(runContainerArgv(spec));
    if (r.exitCode !== 0) throw new Error(lastLines(r.stderr || r.stdout) || `exit ${r.exitCode}`);
  });
  await step('health', async () => {
    const res = await checkHealth(h.conn, app, role);
    h.health.push(`${role.role}: ${res.ok ? 'ok' : 'FAILED'}`);
    if (!res.ok) throw new Error(res.detail);
  });
  const ms = Date.now() - t0;
  h.restartMs += ms;
  reporter().info(`${label}: ${role.role} now on ${tag} (healthy, ${formatDuration(ms)})`);
}
