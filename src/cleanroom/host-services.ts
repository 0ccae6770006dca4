// Services for a command that runs on this machine (`pallet run -- ./manage.py test`): the same
// containers and variables as a cleanroom run, but each port published on 127.0.0.1 (random host
// port) and the variables pointing there. Removed when `fn` finishes, however it finishes.
import type Docker from 'dockerode';
import type { PalletConfig } from '../config/types.js';
import type { CleanupItem, CleanupLedger } from '../util/cleanup.js';
import { reporter } from '../util/reporter.js';
import { errorMessage } from '../errors.js';
import { dockerClient, ensureEngine } from '../docker/client.js';
import { appEnvironment, newRunId, planShards, secretValues, RUN_LABEL } from './plan.js';
import { createNetwork } from './docker-ops.js';
import { startServices, type StartedService } from './services.js';
import { removeByLabels } from './cleanup.js';

export async function withPublishedServices<T>(
  config: PalletConfig,
  ledger: CleanupLedger,
  signal: AbortSignal,
  fn: (env: Record<string, string>, services: StartedService[]) => Promise<T>,
  docker: Docker = dockerClient(),
): Promise<T> {
  const runId = newRunId();
  const [plan] = planShards(config, { runId, shards: 1, publish: true });
  for (const s of secretValues(plan.services, config.test.environment)) reporter().setSecret(s);
  await ensureEngine(docker);
  const item: CleanupItem = { kind: 'docker-label', label: RUN_LABEL, value: runId };
  ledger.add(item);
  try {
    await createNetwork(docker, plan.network.name, plan.network.labels);
    const services = await startServices(docker, plan, signal);
    const env = appEnvironment(plan.app, services.map((s) => ({ svc: s.plan, endpoint: s.endpoint })), config.test.environment);
    for (const s of services) reporter().info(`${s.plan.name}: 127.0.0.1:${s.endpoint.port}`);
    return await fn(env, services);
  } finally {
    try {
      await removeByLabels(docker, [`${RUN_LABEL}=${runId}`]);
      ledger.done(item);
    } catch (e) {
      reporter().warning(`could not remove the services of run ${runId}: ${errorMessage(e)}`);
    }
  }
}
