import { registerCleanupHandler } from '../util/cleanup.js';
import { dockerClient } from '../docker/client.js';

// Removes every container and network carrying the run's label (force: running ones too).
registerCleanupHandler('docker-label', async ({ label, value }) => {
  const docker = dockerClient();
  const filters = JSON.stringify({ label: [`${label}=${value}`] });
  const containers = await docker.listContainers({ all: true, filters });
  await Promise.all(containers.map((c) => docker.getContainer(c.Id).remove({ force: true, v: true }).catch((e) => {
    if (e?.statusCode !== 404) throw e;
  })));
  const networks = await docker.listNetworks({ filters });
  await Promise.all(networks.map((n) => docker.getNetwork(n.Id).remove().catch((e) => {
    if (e?.statusCode !== 404) throw e;
  })));
});
