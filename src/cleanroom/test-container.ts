// Runs the app image's test entrypoint on the shard's network: output streamed live line by
// line, a time limit, out-of-memory detection, and the exit code handed back.
import type { Readable } from 'node:stream';
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
  /** The kernel killed a process in the container for memory (the engine's flag or its `oom` event). */
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

/** What is known about how the test container ended. */
export interface ExitSignals {
  exitCode: number;
  timedOut: boolean;
  /** State.OOMKilled from the engine's inspect: set when the engine processes the OOM, which may be after the exit. */
  oomFlag: boolean;
  /** The engine sent an `oom` event for the container (see watchContainerEvents). */
  oomEvent: boolean;
  /** The container's memory limit in bytes, when it had one. */
  memoryBytes?: number;
}

/**
 * Words for how the test container ended, for logs and the summary; undefined for a plain exit.
 * Either OOM signal counts: the engine delivers them independently of each other and of the exit.
 * A timeout wins (its stop ends in a SIGKILL too).
 */
export function describeExit(o: ExitSignals, timeoutS: number): string | undefined {
  if (o.timedOut) return `test container was stopped: it ran longer than test.timeout (${timeoutS}s)`;
  if (o.oomFlag || o.oomEvent) {
    return o.exitCode === 137
      ? 'test container was killed: out of memory (exit 137)'
      : `test container ran out of memory: a process in it was killed (exit ${o.exitCode})`;
  }
  // Some engines (cgroup v2 with Docker 20.10) report neither signal: under a memory limit, say what is likely.
  if (o.exitCode === 137 && o.memoryBytes) return `test container was killed (exit 137: SIGKILL), most likely out of memory under its ${Math.round(o.memoryBytes / 1048576)} MiB limit (the engine reported no OOM)`;
  if (o.exitCode === 137) return 'test container was killed (exit 137: SIGKILL)';
  return undefined;
}

/** How long the engine may take to report an OOM after the exit (cgroup v1 sends the two independently). */
const LATE_OOM_MS = 5000;
/** Bound on waiting for the `die` event, should the event stream be broken. */
const DIE_EVENT_MS = 5000;

/** A container's engine events seen so far; see watchContainerEvents. */
export interface ContainerEvents {
  /**
   * Resolves true once the engine has reported `action` for the container (at once if it already has),
   * false after `ms` or as soon as the event stream has ended.
   */
  saw(action: 'oom' | 'die', ms: number): Promise<boolean>;
  /** Stops listening (closes the stream). */
  close(): void;
}

/**
 * Listens to the engine's `oom` and `die` events for one container: Docker Engine API `GET /events`
 * with filters type=container, container=<id>, event=oom|die, answered with one JSON message per line
 * (`{"Type":"container","Action":"oom","Actor":{"ID":"<id>",...},"time":...}`). The engine logs `oom`
 * from the cgroup's OOM notification (cgroup v1 and v2), so it reports kills that State.OOMKilled
 * misses when the exit is processed first; anything logged before the exit precedes the `die` event.
 * `sinceS` (Unix seconds, engine clock: e.g. the container's creation) makes the engine replay what it
 * logged since: it sends the response header before it subscribes, an event in between would be lost.
 * Never throws: if the engine refuses the stream (a socket proxy, say), nothing is seen and the stream
 * counts as ended, which leaves the flag as the only OOM signal.
 */
export async function watchContainerEvents(docker: Pick<Docker, 'getEvents'>, containerId: string, sinceS: number): Promise<ContainerEvents> {
  const seen = new Set<string>();
  const waiters = new Set<() => void>();
  const wake = () => { for (const w of [...waiters]) w(); };
  let ended = false;
  let stream: Readable | undefined;
  try {
    stream = (await docker.getEvents({
      since: sinceS,
      filters: { type: ['container'], container: [containerId], event: ['oom', 'die'] },
    })) as Readable;
    stream.pipe(new LineWriter((line) => {
      const action = eventAction(line, containerId);
      if (action) { seen.add(action); wake(); }
    }));
    const end = () => { ended = true; wake(); };
    stream.on('end', end);
    stream.on('close', end);
    stream.on('error', end);
  } catch {
    ended = true;
  }
  return {
    saw(action, ms) {
      if (seen.has(action) || ended || ms <= 0) return Promise.resolve(seen.has(action));
      return new Promise((resolve) => {
        const finish = () => { clearTimeout(timer); waiters.delete(check); resolve(seen.has(action)); };
        const check = () => { if (seen.has(action) || ended) finish(); };
        const timer = setTimeout(finish, ms);
        waiters.add(check);
      });
    },
    close() {
      stream?.destroy();
    },
  };
}

function eventAction(line: string, containerId: string): string | undefined {
  try {
    const m = JSON.parse(line) as { Action?: string; Actor?: { ID?: string } };
    return m.Actor?.ID === containerId ? m.Action : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Creates the test container, streams its output line by line to the reporter (and spec.onLine) and
 * waits for it. Resolves with its exit code (EXIT_TIMEOUT once stopped for test.timeout), whether the
 * kernel killed a process in it for memory, and describeExit's words; the container is left in place
 * for artifacts and the run's cleanup. Rejects with the signal's reason when it aborts, and with the
 * engine's error when create, attach or start fail.
 */
export async function runTestContainer(docker: Docker, spec: TestRunSpec, signal: AbortSignal): Promise<TestRunOutcome> {
  const r = reporter();
  const container = await docker.createContainer(testContainerSpec(spec));
  const { Created } = await container.inspect();
  // Subscribed before start, so no OOM of the run can happen unseen.
  const events = await watchContainerEvents(docker, container.id, Math.floor(Date.parse(Created) / 1000));
  try {
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
    const durationMs = Date.now() - started;
    await events.saw('die', DIE_EVENT_MS);
    const state = (await container.inspect()).State;
    const exitCode = timedOut ? EXIT_TIMEOUT : state.ExitCode;
    // An OOM the engine processes after the exit follows the `die` event: worth a wait only when the exit looks like one.
    const lateOom = !timedOut && exitCode === 137 && !state.OOMKilled;
    const oomEvent = await events.saw('oom', lateOom ? LATE_OOM_MS : 0);
    // The flag can be set late too (a loaded engine): read it again when neither signal came yet.
    const oomFlag = !!state.OOMKilled || (lateOom && !oomEvent && !!(await container.inspect()).State.OOMKilled);
    const signals = { exitCode, timedOut, oomFlag, oomEvent, ...(spec.memoryBytes ? { memoryBytes: spec.memoryBytes } : {}) };
    return {
      containerId: container.id,
      exitCode,
      oomKilled: signals.oomFlag || signals.oomEvent,
      timedOut,
      problem: describeExit(signals, spec.timeoutS),
      durationMs,
    };
  } finally {
    events.close();
  }
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
