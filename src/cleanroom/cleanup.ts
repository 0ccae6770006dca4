// Removes what a cleanroom run made, found by label: containers first (forced, with their
// anonymous volumes), then networks. Used by a run's `finally` and, through the ledger, by the
// action's post step after a crash or cancellation. Idempotent: gone is fine.
import type Docker from 'dockerode';
import { registerCleanupHandler } from '../util/cleanup.js';
import { dockerClient } from '../docker/client.js';

const isGone = (e: unknown) => {
  const code = (e as { statusCode?: number })?.statusCode;
  // 404: already removed; 409 on a container: removal already in progress.
  return code === 404 || code === 409;
};

/** Removes every container and network carrying all the given labels (`key=value`). Returns counts. */
export async function removeByLabels(docker: Docker, labels: string[]): Promise<{ containers: number; networks: number }> {
  const filters = JSON.stringify({ label: labels });
  const containers = await docker.listContainers({ all: true, filters });
  await Promise.all(containers.map((c) => docker.getContainer(c.Id).remove({ force: true, v: true }).catch((e) => {
    if (!isGone(e)) throw e;
  })));
  const networks = await docker.listNetworks({ filters });
  for (const n of networks) {
    // A network still lists an endpoint for a moment after its container is removed: retry, bounded.
    for (let attempt = 1; ; attempt++) {
      try {
        await docker.getNetwork(n.Id).remove();
        break;
      } catch (e) {
        const code = (e as { statusCode?: number })?.statusCode;
        if (code === 404) break;
        if (attempt >= 10) throw e;
        await new Promise((r) => setTimeout(r, 200 * attempt));
      }
    }
  }
  return { containers: containers.length, networks: networks.length };
}

registerCleanupHandler('docker-label', async ({ label, value }) => {
  await removeByLabels(dockerClient(), [`${label}=${value}`]);
});
