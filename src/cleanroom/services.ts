// Starts a shard's service containers in parallel on its network and waits until each one
// passes its readiness probe. The first failure aborts the others' waits; everything started is
// removed by the run's `finally` (and by label from the ledger).
import type Docker from 'dockerode';
import { UserError } from '../errors.js';
import { reporter, formatDuration } from '../util/reporter.js';
import type { Endpoint } from './catalog.js';
import { ensureImage, execExitCode, logTail } from './docker-ops.js';
import { describeProbe, wireProbe, type Verdict } from './probe-protocols.js';
import { exchange, waitUntilReady } from './probe.js';
import { toEnvList, type ServicePlan, type ShardPlan } from './plan.js';

export interface StartedService {
  plan: ServicePlan;
  containerId: string;
  /** Where the app reaches it: the unique alias (network mode) or 127.0.0.1:published port. */
  endpoint: Endpoint;
  readyMs: number;
}

/** The create body for a service container (exported for tests). */
export function serviceContainerSpec(svc: ServicePlan, networkName: string): Docker.ContainerCreateOptions {
  const portKey = svc.port ? `${svc.port}/tcp` : undefined;
  const publish = svc.publish && portKey;
  return {
    name: svc.containerName,
    Image: svc.image,
    Env: toEnvList(svc.containerEnv),
    Labels: svc.labels,
    ExposedPorts: publish ? { [portKey]: {} } : undefined,
    HostConfig: {
      NetworkMode: networkName,
      // Random host port on loopback only: never reachable from outside the machine.
      PortBindings: publish ? { [portKey]: [{ HostIp: '127.0.0.1', HostPort: '' }] } : undefined,
    },
    NetworkingConfig: { EndpointsConfig: { [networkName]: { Aliases: svc.aliases } } },
  };
}

export async function startServices(docker: Docker, shard: ShardPlan, signal: AbortSignal): Promise<StartedService[]> {
  const local = new AbortController();
  const onAbort = () => local.abort(signal.reason);
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    const settled = await Promise.allSettled(
      shard.services.map((svc) =>
        startOne(docker, svc, shard.network.name, local.signal).catch((e) => {
          // One failure is enough: stop the others' waits so the run fails fast.
          local.abort(e);
          throw e;
        }),
      ),
    );
    signal.throwIfAborted();
    const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (failed) throw failed.reason;
    return settled.map((s) => (s as PromiseFulfilledResult<StartedService>).value);
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
}

async function startOne(docker: Docker, svc: ServicePlan, network: string, signal: AbortSignal): Promise<StartedService> {
  const started = Date.now();
  const who = `service '${svc.name}'`;
  await ensureImage(docker, svc.image, who, signal);
  signal.throwIfAborted();
  const container = await docker.createContainer(serviceContainerSpec(svc, network));
  await container.start();
  const info = await container.inspect();
  const ip = info.NetworkSettings.Networks?.[network]?.IPAddress;
  const published = (cport: number) => {
    const b = info.NetworkSettings.Ports?.[`${cport}/tcp`]?.[0];
    return b ? Number(b.HostPort) : undefined;
  };
  // Probes go where this process can reach: the published loopback port, else the container's IP.
  const target = (cport: number) =>
    svc.publish && published(cport) ? { host: '127.0.0.1', port: published(cport)! } : { host: ip ?? '', port: cport };
  const endpoint: Endpoint = svc.publish
    ? { host: '127.0.0.1', port: (svc.port && published(svc.port)) || 0 }
    : { host: svc.aliases[1], port: svc.port ?? 0 };

  const check = async (): Promise<Verdict> => {
    if (svc.probe.kind === 'none') return { state: 'ready', detail: 'running' };
    if (svc.probe.kind === 'command') {
      const code = await execExitCode(container, svc.probe.command).catch(() => -1);
      return code === 0 ? { state: 'ready' } : { state: 'not-ready', reason: `ready command exited ${code}` };
    }
    const wire = wireProbe(svc.probe, svc.aliases[1])!;
    const t = target(wire.port);
    if (!t.host) return { state: 'not-ready', reason: `no address on network ${network}` };
    return exchange(wire, t.host, t.port);
  };
  const dead = async () => {
    const s = (await container.inspect().catch(() => undefined))?.State;
    if (!s) return 'container is gone';
    return s.Running ? undefined : `container exited with code ${s.ExitCode}${s.OOMKilled ? ' (out of memory)' : ''}`;
  };
  const timeoutMs = svc.readyTimeoutS * 1000;
  const res = await waitUntilReady({ check, dead, timeoutMs, signal });
  if (!res.ready) {
    const tail = await logTail(container, 20);
    const what = res.why === 'timeout' ? `was not ready after ${svc.readyTimeoutS}s (${describeProbe(svc.probe)}: ${res.reason})` : `stopped before it was ready: ${res.reason}`;
    throw new UserError(
      `${who} (${svc.image}) ${what}\nlast ${tail.length} log lines of ${svc.name}:\n${tail.map((l) => `  | ${l}`).join('\n')}`,
      res.why === 'timeout' ? `raise test.services[].ready_timeout for ${svc.name}, or check its image, env and ready probe` : `check the image and env of ${svc.name}`,
    );
  }
  const readyMs = Date.now() - started;
  reporter().info(`${svc.name} (${svc.image}) ready in ${formatDuration(readyMs)}: ${describeProbe(svc.probe)}`);
  return { plan: svc, containerId: container.id, endpoint, readyMs };
}
