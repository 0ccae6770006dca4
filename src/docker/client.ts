// One place that decides which Docker Engine we talk to (DOCKER_HOST or the local socket).
import Docker from 'dockerode';
import { UserError } from '../errors.js';
import { engineUserError } from './engine-errors.js';

let shared: Docker | undefined;

export function dockerClient(): Docker {
  if (!shared) shared = new Docker();
  return shared;
}

/** Fails with a clear message when no engine answers, before anything else is attempted. */
export async function ensureEngine(docker: Docker = dockerClient()): Promise<void> {
  try {
    await docker.ping();
  } catch (e) {
    const known = engineUserError(e);
    if (known) throw known;
    throw new UserError(
      `no Docker Engine answers (${(e as Error).message})`,
      'start Docker (dockerd) or set DOCKER_HOST; on GitHub ubuntu runners it is already running',
    );
  }
}
