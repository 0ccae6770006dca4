// The lab registry from the test side: pushing images there with the lab's credentials, and the
// Authorization header for its HTTP API (Docker Registry HTTP API V2 / OCI distribution).
import type Docker from 'dockerode';
import type { LabDescriptor } from './lab.js';

/** `Basic ...` for the lab registry's user. */
export function labRegistryAuth(lab: LabDescriptor): string {
  return `Basic ${Buffer.from(`${lab.registry.username}:${lab.registry.password}`).toString('base64')}`;
}

/**
 * Tags the local image `source` as `repo:tag` (repo in the lab registry) and pushes it; throws
 * with the error the engine reported. The local tag stays (callers remove what they made).
 */
export async function pushToLab(docker: Docker, lab: LabDescriptor, source: string, repo: string, tag: string): Promise<void> {
  if (source !== `${repo}:${tag}`) await docker.getImage(source).tag({ repo, tag });
  const authconfig = { username: lab.registry.username, password: lab.registry.password, serveraddress: lab.registry.address };
  const stream = (await docker.getImage(`${repo}:${tag}`).push({ authconfig } as never)) as unknown as NodeJS.ReadableStream;
  const events = await new Promise<{ error?: string }[]>((res, rej) => docker.modem.followProgress(stream, (e: Error | null, r: { error?: string }[]) => (e ? rej(e) : res(r))));
  const failed = events.find((e) => e.error);
  if (failed) throw new Error(`push ${repo}:${tag}: ${failed.error}`);
}
