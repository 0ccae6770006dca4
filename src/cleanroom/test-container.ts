// Runs the app image's test entrypoint on the shard's network: output streamed live line by
// line, a time limit, out-of-memory detection, and the exit code handed back.
import type Docker from 'dockerode';
import { reporter } from '../util/reporter.js';
import { LineWriter } from './stream-lines.js';
import { toEnvList, ROLE_LABEL } from './plan.js';

export interface TestRunSpec {
  image: string;
  name: string;
  cmd: string[];
  env: Record<string, string>;
  labels: Record<string, string>;
  network: string;
  timeoutS: number;
  /** Memory limit in bytes (no swap on top); unset = the engine's default (none). */
  memoryBytes?: number;
  /** Prefix for output lines (the shard when there are several). */
  prefix?: string;
  /** Called for every output line (benchmarks time the first one). */
  onLine?: (line: string) => void;
}

export interface TestRunOutcome {
  containerId: string;
  exitCode: number;
  oomKilled: boolean;
  timedOut: boolean;
  /** Why the run failed beyond a non-zero exit code, in words. */
  problem?: string;
  durationMs: number;
}

export const EXIT_TIMEOUT = 124;

export function testContainerSpec(spec: TestRunSpec): Docker.ContainerCreateOptions {
  return {
    name: spec.name,
    Image: spec.image,
    Cmd: spec.cmd,
    Env: toEnvList(spec.env),
    Labels: { ...spec.labels, [ROLE_LABEL]: 'test' },
    Tty: false,
    AttachStdout: true,
    AttachStderr: true,
    HostConfig: {
      NetworkMode: spec.network,
      ...(spec.memoryBytes ? { Memory: spec.memoryBytes, MemorySwap: spec.memoryBytes } : {}),
    },
  };
}

/** Words for how the test container ended, for logs and the summary. */
export function describeExit(o: { exitCode: number; oomKilled: boolean; timedOut: boolean }, timeoutS: number): string | undefined {
  if (o.timedOut) return `test container was stopped: it ran longer than test.timeout (${timeoutS}s)`;
  if (o.oomKilled) return `test container was killed: out of memory (exit ${o.exitCode})`;
  if (o.exitCode === 137) return 'test container was killed (exit 137: SIGKILL)';
  return undefined;
}

export async function runTestContainer(docker: Docker, spec: TestRunSpec, signal: AbortSignal): Promise<TestRunOutcome> {
  const r = reporter();
  const container = await docker.createContainer(testContainerSpec(spec));
  const emit = (line: string) => {
    spec.onLine?.(line);
    r.info(spec.prefix ? `${spec.prefix} ${line}` : line);
  };
  const out = new LineWriter(emit);
  const err = new LineWriter(emit);
  // Attach before start so the first line is never missed.
  const stream = (await container.attach({ stream: true, stdout: true, stderr: true })) as NodeJS.ReadableStream;
  docker.modem.demuxStream(stream, out, err);
  const streamEnded = new Promise<void>((resolve) => {
    stream.on('end', resolve);
    stream.on('close', resolve);
    stream.on('error', () => resolve());
  });

  const started = Date.now();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    r.warning(`test container ran longer than ${spec.timeoutS}s: stopping it`);
    container.stop({ t: 5 }).catch(() => undefined);
  }, spec.timeoutS * 1000);
  try {
    await container.start();
    const waited = container.wait() as Promise<{ StatusCode: number }>;
    await raceAbort(waited, signal);
  } finally {
    clearTimeout(timer);
  }
  // The stream ends just after the container; bounded so a stuck attach cannot hang the run.
  let grace: NodeJS.Timeout | undefined;
  await Promise.race([streamEnded, new Promise((res) => { grace = setTimeout(res, 5000); })]);
  clearTimeout(grace);
  out.flush();
  err.flush();
  const state = (await container.inspect()).State;
  const outcome = {
    containerId: container.id,
    exitCode: timedOut ? EXIT_TIMEOUT : state.ExitCode,
    oomKilled: !!state.OOMKilled,
    timedOut,
    durationMs: Date.now() - started,
  };
  return { ...outcome, problem: describeExit(outcome, spec.timeoutS) };
}

/** Resolves like `p`, or rejects with the signal's reason as soon as it aborts. */
export function raceAbort<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => { signal.removeEventListener('abort', onAbort); resolve(v); },
      (e) => { signal.removeEventListener('abort', onAbort); reject(e); },
    );
  });
}
