// Follows one of the engine's JSON-lines progress streams (build, pull, push) to its end,
// handing each event to a callback. Bounded: a stream silent for `idleMs` is cut and fails
// with a timeout, so a stuck registry cannot hang the job.
import type Docker from 'dockerode';

export class StreamIdleError extends Error {
  constructor(ms: number) {
    super(`no progress from the Docker Engine for ${Math.round(ms / 1000)}s (timeout)`);
    this.name = 'StreamIdleError';
  }
}

export function followJson<E>(
  docker: Docker,
  stream: NodeJS.ReadableStream,
  onEvent: (ev: E) => void,
  opts: { idleMs?: number; signal?: AbortSignal } = {},
): Promise<void> {
  const idleMs = opts.idleMs ?? 10 * 60 * 1000;
  return new Promise<void>((resolve, reject) => {
    let timer: NodeJS.Timeout | undefined;
    const destroy = (err: Error) => {
      (stream as unknown as { destroy?: (e?: Error) => void }).destroy?.();
      finish(err);
    };
    const arm = () => {
      if (timer) clearTimeout(timer);
      timer = setTimeout(() => destroy(new StreamIdleError(idleMs)), idleMs);
    };
    let done = false;
    const onAbort = () => destroy(new Error('cancelled'));
    const finish = (err?: Error | null) => {
      if (done) return;
      done = true;
      if (timer) clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      if (err) reject(err); else resolve();
    };
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    arm();
    docker.modem.followProgress(stream, (err: Error | null) => finish(err), (ev: E) => {
      arm();
      try { onEvent(ev); } catch (e) { destroy(e as Error); }
    });
  });
}
