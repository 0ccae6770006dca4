// Runs readiness probes: a protocol exchange over TCP (from the runner to the container's
// address on the run network, or to 127.0.0.1 and the published port), or a command run inside
// the container. Every wait is bounded in time and attempts and stops when the run is cancelled.
import net from 'node:net';
import type { Verdict, WireProbe } from './probe-protocols.js';

const ATTEMPT_TIMEOUT_MS = 2000;
const MAX_ANSWER_BYTES = 64 * 1024;

/** One exchange: connect, send the request, read until the probe can judge the answer. */
export function exchange(wire: WireProbe, host: string, port: number, timeoutMs = ATTEMPT_TIMEOUT_MS): Promise<Verdict> {
  return new Promise((resolve) => {
    let answer = Buffer.alloc(0);
    let settled = false;
    const socket = net.connect({ host, port });
    const finish = (v: Verdict) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(v);
    };
    const timer = setTimeout(() => finish({ state: 'not-ready', reason: `no answer within ${timeoutMs}ms` }), timeoutMs);
    socket.on('connect', () => {
      if (wire.connectOnly) return finish({ state: 'ready', detail: 'connected' });
      if (wire.request) socket.write(wire.request);
    });
    socket.on('data', (chunk: Buffer) => {
      answer = Buffer.concat([answer, chunk]);
      const v = wire.judge(answer);
      if (v.state !== 'more') finish(v);
      else if (answer.length > MAX_ANSWER_BYTES) finish({ state: 'not-ready', reason: 'answer too long' });
    });
    socket.on('error', (e: NodeJS.ErrnoException) => finish({ state: 'not-ready', reason: e.code ?? e.message }));
    socket.on('close', () => {
      if (settled) return;
      const v = answer.length ? wire.judge(answer) : undefined;
      finish(v && v.state !== 'more' ? v : { state: 'not-ready', reason: 'connection closed without a complete answer' });
    });
  });
}

export interface WaitOptions {
  /** One probe attempt. */
  check: () => Promise<Verdict>;
  /** Resolves to a reason when the container is gone or exited (no point waiting any longer). */
  dead?: () => Promise<string | undefined>;
  timeoutMs: number;
  signal?: AbortSignal;
  /** Delay between attempts grows from first to max (ms). */
  delays?: { first: number; max: number };
  now?: () => number;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

export type WaitResult =
  | { ready: true; attempts: number; elapsedMs: number; detail?: string }
  | { ready: false; attempts: number; elapsedMs: number; reason: string; why: 'timeout' | 'dead' };

/** Polls `check` until ready, the container dies, the deadline passes, or the signal aborts (throws). */
export async function waitUntilReady(opts: WaitOptions): Promise<WaitResult> {
  const now = opts.now ?? Date.now;
  const sleep = opts.sleep ?? abortableSleep;
  const { first, max } = opts.delays ?? { first: 100, max: 250 };
  const start = now();
  // A hard cap on attempts as well as time, so a fake or frozen clock cannot loop forever.
  const maxAttempts = Math.ceil(opts.timeoutMs / first) + 10;
  let delay = first;
  let lastReason = 'not checked yet';
  for (let attempt = 1; attempt <= maxAttempts; attempt++) {
    opts.signal?.throwIfAborted();
    const v = await opts.check();
    if (v.state === 'ready') return { ready: true, attempts: attempt, elapsedMs: now() - start, detail: v.detail };
    lastReason = v.state === 'not-ready' ? v.reason : 'incomplete answer';
    const died = opts.dead ? await opts.dead() : undefined;
    if (died) return { ready: false, attempts: attempt, elapsedMs: now() - start, reason: died, why: 'dead' };
    const left = opts.timeoutMs - (now() - start);
    if (left <= 0) return { ready: false, attempts: attempt, elapsedMs: now() - start, reason: lastReason, why: 'timeout' };
    await sleep(Math.min(delay, left), opts.signal);
    delay = Math.min(max, Math.round(delay * 1.5));
  }
  return { ready: false, attempts: maxAttempts, elapsedMs: now() - start, reason: lastReason, why: 'timeout' };
}

export function abortableSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(signal?.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
