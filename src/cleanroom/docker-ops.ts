// Small Docker Engine operations the cleanroom needs: make sure an image is there (pulling it
// with progress), create the run network, read a container's last log lines, run a command in a
// container. Everything here talks to dockerode; the decisions are made in plan.ts.
import type Docker from 'dockerode';
import { UserError, errorMessage } from '../errors.js';
import { reporter } from '../util/reporter.js';
import { demuxBuffer, lastLines } from './stream-lines.js';

const pulling = new Map<string, Promise<void>>();

export async function imageExists(docker: Docker, image: string): Promise<boolean> {
  try {
    await docker.getImage(image).inspect();
    return true;
  } catch (e) {
    if ((e as { statusCode?: number }).statusCode === 404) return false;
    throw e;
  }
}

/**
 * Pulls the image when the engine does not have it. Shards share one pull per image.
 * `who` names what needs it (e.g. "service 'postgres'") for the error message.
 */
export function ensureImage(docker: Docker, image: string, who: string, signal?: AbortSignal): Promise<void> {
  let p = pulling.get(image);
  if (!p) {
    p = pullIfMissing(docker, image, who, signal).finally(() => pulling.delete(image));
    pulling.set(image, p);
  }
  return p;
}

async function pullIfMissing(docker: Docker, image: string, who: string, signal?: AbortSignal): Promise<void> {
  if (await imageExists(docker, image)) return;
  const r = reporter();
  r.info(`pulling ${image} for ${who}`);
  try {
    const stream = (await docker.pull(image, { abortSignal: signal })) as NodeJS.ReadableStream;
    let lastLog = 0;
    await new Promise<void>((resolve, reject) => {
      docker.modem.followProgress(
        stream,
        (err: Error | null) => (err ? reject(err) : resolve()),
        (ev: { status?: string; progress?: string; id?: string; error?: string }) => {
          if (ev.error) return;
          // Progress at most every 2 s: enough to see it moving, not a line per layer chunk.
          if (Date.now() - lastLog > 2000 || /Digest|Status/.test(ev.status ?? '')) {
            lastLog = Date.now();
            r.info(`  ${image}: ${[ev.id, ev.status, ev.progress].filter(Boolean).join(' ')}`);
          }
        },
      );
    });
  } catch (e) {
    signal?.throwIfAborted();
    throw new UserError(
      `${who}: image '${image}' is not on this Docker Engine and cannot be pulled (${errorMessage(e).trim()})`,
      'check the image name in pallet.yml, log in to its registry, or build/pull it before the run',
    );
  }
  if (!(await imageExists(docker, image))) {
    throw new UserError(`${who}: image '${image}' could not be pulled`, 'check the image name and the registry');
  }
}

export async function createNetwork(docker: Docker, name: string, labels: Record<string, string>): Promise<Docker.Network> {
  return docker.createNetwork({ Name: name, Driver: 'bridge', Labels: labels, CheckDuplicate: true });
}

/** The container's last `n` log lines (stdout and stderr), or a note why they could not be read. */
export async function logTail(container: Docker.Container, n = 20): Promise<string[]> {
  try {
    const buf = (await container.logs({ stdout: true, stderr: true, tail: n, follow: false })) as unknown as Buffer;
    const { stdout, stderr } = demuxBuffer(Buffer.isBuffer(buf) ? buf : Buffer.from(String(buf)));
    return lastLines(`${stdout}\n${stderr}`, n);
  } catch (e) {
    return [`(logs unavailable: ${errorMessage(e)})`];
  }
}

/** Runs a command inside a running container; resolves to its exit code (bounded in time). */
export async function execExitCode(container: Docker.Container, cmd: string[], timeoutMs = 10000): Promise<number> {
  const exec = await container.exec({ Cmd: cmd, AttachStdout: true, AttachStderr: true });
  const stream = await exec.start({ hijack: true, stdin: false });
  await new Promise<void>((resolve) => {
    const t = setTimeout(() => { stream.destroy(); resolve(); }, timeoutMs);
    stream.on('end', () => { clearTimeout(t); resolve(); });
    stream.on('close', () => { clearTimeout(t); resolve(); });
    stream.on('error', () => { clearTimeout(t); resolve(); });
    stream.resume();
  });
  // The exec may still be finishing when the stream closes: a few bounded re-reads.
  for (let i = 0; i < 20; i++) {
    const info = await exec.inspect();
    if (!info.Running && info.ExitCode !== null) return info.ExitCode ?? -1;
    await new Promise((r) => setTimeout(r, 50));
  }
  return -1;
}

/** Removes by id; a container that is already gone is fine. */
export async function removeContainer(docker: Docker, id: string): Promise<void> {
  await docker.getContainer(id).remove({ force: true, v: true }).catch((e) => {
    if (e?.statusCode !== 404) throw e;
  });
}
