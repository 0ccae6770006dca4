// Step 5 on one host and role, published-port mode. Web roles first run the new version as an
// unpublished candidate and health-check it (probeCandidate); then switchRole stops the old
// container gracefully, starts the given tag with the published port and waits for health. The
// revert uses switchRole alone, with the revert tag. Health: health.ts, the same for every target.
import { formatDuration, reporter } from '../util/reporter.js';
import { lastLines } from '../ssh/errors.js';
import { HostConnectionError } from '../ssh/connection.js';
import { candidateName, containerName, removeContainerArgv, runContainerArgv, startCandidateArgv, stopRemoveArgv, wasKilled, type ContainerSpec } from './commands.js';
import { waitHealthy, waitStable, type HealthResult } from './health.js';
import { envFilesFor } from './release-env.js';
import type { RolePlan } from './plan.js';
import { StepError, type DeployRun } from './types.js';

/** Runs a named step of a (host, role) restart; failures become StepErrors naming host and step. */
export function stepRunner(run: DeployRun, label: string, role: RolePlan) {
  const h = run.hosts.get(label)!;
  return async (name: string, fn: () => Promise<void>) => {
    try {
      await fn();
    } catch (e) {
      if (e instanceof StepError) throw e;
      if (e instanceof HostConnectionError) h.lost = e.detail;
      throw new StepError(label, `${name} (${role.role})`, (e as Error).message);
    }
  };
}

/** What `docker run` starts for this role at `tag` on host `label` (published port mode; the proxy mode adjusts it). */
export function containerSpec(run: DeployRun, label: string, role: RolePlan, tag: string): ContainerSpec {
  const { app, image } = run.plan;
  return {
    app, role: role.role, tag, image, command: role.command, ...envFilesFor(run, label, tag), port: role.port, hostPort: role.hostPort,
    stopSignal: role.stopSignal, stopTimeout: role.stopTimeout, ...(run.plan.network ? { network: run.plan.network } : {}),
  };
}

/** Web roles: the new version must pass its health check before it may take the published port. */
export async function probeCandidate(run: DeployRun, label: string, role: RolePlan, tag: string): Promise<void> {
  const h = run.hosts.get(label)!;
  const name = candidateName(run.plan.app, role.role);
  await stepRunner(run, label, role)('health', async () => {
    let res: HealthResult;
    try {
      const started = await h.conn.run(startCandidateArgv(containerSpec(run, label, role, tag)));
      if (started.exitCode !== 0) throw new Error(`could not start the candidate: ${lastLines(started.stderr || started.stdout) || `exit ${started.exitCode}`}`);
      res = await waitHealthy(h.conn, {
        container: name, via: '', port: role.port ?? 8000, path: role.healthPath, host: role.healthHost ?? '', proto: '',
        timeout: role.healthTimeout, subject: 'candidate',
      }, role, { signal: run.signal });
    } finally {
      await h.conn.run(removeContainerArgv(name)).catch(() => undefined);
    }
    if (!res.ok) {
      h.health.push(`${role.role}: candidate FAILED`);
      throw new Error(`new version never served: ${res.detail}`);
    }
  });
}

/** The health check after a start: HTTP on the published port (web), else steady running. */
function checkStarted(run: DeployRun, label: string, role: RolePlan): Promise<HealthResult> {
  const h = run.hosts.get(label)!;
  if (!role.web) return waitStable(h.conn, run.plan.app, role);
  return waitHealthy(h.conn, {
    container: containerName(run.plan.app, role.role), via: 'published', port: role.hostPort!, path: role.healthPath,
    host: role.healthHost ?? '', proto: '', timeout: role.healthTimeout, subject: `container ${containerName(run.plan.app, role.role)}`,
  }, role, { signal: run.signal });
}

/** Stop the running container gracefully, start `tag`, wait for health. */
export async function switchRole(run: DeployRun, label: string, role: RolePlan, tag: string, onTouch?: () => void): Promise<void> {
  const h = run.hosts.get(label)!;
  const step = stepRunner(run, label, role);
  const spec = containerSpec(run, label, role, tag);
  const t0 = Date.now();
  onTouch?.();
  await step('stop', async () => {
    const r = await h.conn.run(stopRemoveArgv(run.plan.app, role.role, role.stopTimeout, role.stopSignal));
    if (r.exitCode !== 0) throw new Error(lastLines(r.stderr || r.stdout) || `exit ${r.exitCode}`);
    if (wasKilled(r.stdout)) {
      reporter().warning(`${label}: the ${role.role} container did not exit within stop_timeout (${role.stopTimeout} s) after ${role.stopSignal} and was killed (SIGKILL); `
        + `in-flight work may be lost. Make the process exit on ${role.stopSignal}, set deploy.roles.${role.role}.stop_signal to the signal it shuts down on, or raise deploy.roles.${role.role}.stop_timeout`);
    }
  });
  await step('start', async () => {
    const r = await h.conn.run(runContainerArgv(spec));
    if (r.exitCode !== 0) throw new Error(lastLines(r.stderr || r.stdout) || `exit ${r.exitCode}`);
  });
  await run.hooks.beforeHealth?.({ host: label, role: role.role });
  await step('health', async () => {
    const res = await checkStarted(run, label, role);
    h.health.push(`${role.role}: ${res.ok ? 'ok' : 'FAILED'}`);
    if (!res.ok) throw new Error(res.detail);
  });
  const ms = Date.now() - t0;
  h.restartMs += ms;
  reporter().info(`${label}: ${role.role} now on ${tag} (healthy, ${formatDuration(ms)})`);
}

/**
 * Rolls one role out batch by batch. Web candidates of the next batch are probed while the
 * current batch switches, so the health wait of a new version overlaps the previous restart.
 */
export async function rollRole(run: DeployRun, role: RolePlan, cancelled: () => void, forBatch: (batch: string[], fn: (host: string) => Promise<void>) => Promise<void>): Promise<void> {
  const probes = new Map<string, Promise<void>>();
  const probe = (host: string) => {
    let p = probes.get(host);
    if (!p) {
      p = probeCandidate(run, host, role, run.hosts.get(host)!.target);
      p.catch(() => undefined); // awaited (and reported) when its batch comes
      probes.set(host, p);
    }
    return p;
  };
  try {
    for (const [index, batch] of role.batches.entries()) {
      cancelled();
      reporter().info(`${role.role}: restarting ${batch.join(', ')}`);
      if (role.web) for (const host of [...batch, ...(role.batches[index + 1] ?? [])]) void probe(host);
      await forBatch(batch, async (host) => {
        if (role.web) await probe(host);
        await switchRole(run, host, role, run.hosts.get(host)!.target, () => run.touched.push({ host, role: role.role }));
      });
      await run.hooks.afterBatch?.({ role: role.role, batch, index });
    }
  } finally {
    // Never leave a probe running behind the revert or the end of the deploy.
    await Promise.allSettled(probes.values());
  }
}
