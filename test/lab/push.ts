// Pushes a lab image into the lab registry, so hosts pull it like any other image (the proxy
// image: deploy.proxy.image on the lab's hosts). Skipped when the registry already holds the
// same image id under that name.
import { docker } from './engine.js';
import type { LabState } from './state.js';
import { log } from './util.js';

/**
 * Tags `local` as 127.0.0.1:PORT/`name` and pushes it with the lab's credentials.
 * Returns the registry reference. Throws with the registry's error text when the push fails.
 */
export async function pushToLabRegistry(state: LabState, local: string, name: string): Promise<string> {
  const address = `127.0.0.1:${state.registry.port}`;
  const [repoPart, tag] = name.split(':');
  const repo = `${address}/${repoPart}`;
  const ref = `${repo}:${tag}`;
  await docker.getImage(local).tag({ repo, tag });
  const auth = { username: state.registry.username, password: state.registry.password, serveraddress: address };
  const stream = (await docker.getImage(ref).push({ authconfig: auth } as never)) as unknown as NodeJS.ReadableStream;
  const events = await new Promise<Array<{ error?: string; status?: string }>>((resolve, reject) =>
    docker.modem.followProgress(stream, (e: Error | null, r: Array<{ error?: string }>) => (e ? reject(e) : resolve(r))));
  const failed = events.find((e) => e.error);
  if (failed) throw new Error(`push ${ref}: ${failed.error}`);
  log(`pushed ${local} as ${ref}`);
  return ref;
}
