// Reads a BuildKit build's progress (pure; tested with a recorded stream in test/fixtures).
// The engine's build endpoint sends JSON lines; BuildKit's are
// {"id":"moby.buildkit.trace","aux":"<base64 StatusResponse>"} (moby/buildkit
// api/services/control/control.proto: vertexes = build steps with started/completed/cached/
// error, logs = their output, tagged with the step's digest), then
// {"id":"moby.image.id","aux":{"ID":...}} and, on failure, {"error", "errorDetail"}.
//
// protobufjs decodes the StatusResponse, with the schema dockerode ships for the same purpose
// (dockerode/lib/proto/buildkit_status.proto). dockerode's followProgress is not used for
// this: it flattens each message to text, drops which step a log line belongs to (parallel
// stages interleave), reports no step completion (so no "done in 1.2s"), and in 5.0.1 prints
// the output bytes base64-encoded.
import protobuf from 'protobufjs';
import type { BuildStep, BuildStreamResult } from './build-stream.js';
import { instructionForStep, type ParsedDockerfile } from './dockerfile.js';

const ts = { fields: { seconds: { type: 'int64', id: 1 }, nanos: { type: 'int32', id: 2 } } };
const root = protobuf.Root.fromJSON({
  nested: {
    StatusResponse: {
      fields: {
        vertexes: { rule: 'repeated', type: 'Vertex', id: 1 },
        statuses: { rule: 'repeated', type: 'VertexStatus', id: 2 },
        logs: { rule: 'repeated', type: 'VertexLog', id: 3 },
        warnings: { rule: 'repeated', type: 'VertexWarning', id: 4 },
      },
    },
    Vertex: {
      fields: {
        digest: { type: 'string', id: 1 }, inputs: { rule: 'repeated', type: 'string', id: 2 }, name: { type: 'string', id: 3 },
        cached: { type: 'bool', id: 4 }, started: { type: 'Timestamp', id: 5 }, completed: { type: 'Timestamp', id: 6 }, error: { type: 'string', id: 7 },
      },
    },
    VertexStatus: {
      fields: {
        ID: { type: 'string', id: 1 }, vertex: { type: 'string', id: 2 }, name: { type: 'string', id: 3 }, current: { type: 'int64', id: 4 }, total: { type: 'int64', id: 5 },
      },
    },
    VertexLog: { fields: { vertex: { type: 'string', id: 1 }, timestamp: { type: 'Timestamp', id: 2 }, stream: { type: 'int64', id: 3 }, msg: { type: 'bytes', id: 4 } } },
    VertexWarning: { fields: { vertex: { type: 'string', id: 1 }, level: { type: 'int64', id: 2 }, short: { type: 'bytes', id: 3 } } },
    Timestamp: ts,
  },
});
const StatusResponse = root.lookupType('StatusResponse');

export interface Timestamp { seconds: number; nanos?: number }
export interface Vertex { digest: string; inputs?: string[]; name?: string; cached?: boolean; started?: Timestamp; completed?: Timestamp; error?: string }
export interface VertexLog { vertex: string; timestamp?: Timestamp; stream?: number; msg: Uint8Array }
export interface VertexWarning { vertex?: string; short?: Uint8Array }
export interface Status { vertexes?: Vertex[]; logs?: VertexLog[]; warnings?: VertexWarning[] }

/** One JSON line of the build endpoint's stream, as docker-modem's followProgress parses it. */
export interface BuildkitEvent {
  id?: string;
  aux?: string | { ID?: string };
  stream?: string;
  error?: string;
  errorDetail?: { message?: string };
}

/** Decodes the base64 StatusResponse of a moby.buildkit.trace event. */
export function decodeTrace(aux: string): Status {
  return StatusResponse.toObject(StatusResponse.decode(Buffer.from(aux, 'base64')), { longs: Number }) as Status;
}

// "[2/5] RUN ...", "[builder 2/5] RUN ...", "[linux/amd64 builder 2/5] RUN ...".
const STEP = /^\[(?:([^\]]*) )?(\d+)\/(\d+)\] (.*)$/s;
const TAIL = 20;

const seconds = (t?: Timestamp) => (t ? t.seconds + (t.nanos ?? 0) / 1e9 : undefined);

export interface BuildkitStep extends BuildStep {
  digest: string;
  /** Stage label as BuildKit prints it ("builder", "stage-1"); undefined in a single-stage build. */
  stage?: string;
  /** 1-based Dockerfile line of the instruction, when it could be matched. */
  line?: number;
  /** Time BuildKit spent on the step (0 for a cached one). */
  ms?: number;
  /** BuildKit finished the step (ran it, took it from cache, or failed it). */
  completed: boolean;
  error?: string;
}

interface VertexState {
  n: number;
  name: string;
  step?: BuildkitStep;
  output: string[];
  partial: string;
  started?: number;
  completed?: number;
  cached: boolean;
  error?: string;
  printedStart: boolean;
  printedEnd: boolean;
}

/**
 * Turns BuildKit's status messages into log lines and build steps. Lines follow Docker's plain
 * progress: `#N [2/5] RUN ...` when a step starts, `#N <output>`, `#N DONE 1.2s`,
 * `#N [2/5] RUN ...: CACHED`, `#N ERROR: ...`. Steps are the Dockerfile's instructions
 * (`[stage i/n] ...` vertexes); FROM is neither cached nor run in the counts.
 */
export class BuildkitProgress {
  private vertexes = new Map<string, VertexState>();
  private printed = 0;
  private imageId?: string;
  private errorMessage?: string;

  constructor(private readonly dockerfile?: ParsedDockerfile) {}

  /** Feeds one event of the build stream; returns the log lines it produced. */
  push(ev: BuildkitEvent): string[] {
    if (ev.id === 'moby.image.id' && typeof ev.aux === 'object') { this.imageId = ev.aux.ID; return []; }
    if (ev.error || ev.errorDetail) {
      this.errorMessage = (ev.errorDetail?.message ?? ev.error ?? 'build failed').trim();
      return [];
    }
    if (ev.id === 'moby.buildkit.trace' && typeof ev.aux === 'string') return this.status(decodeTrace(ev.aux));
    // Plain stream text (e.g. "Successfully tagged ...") adds nothing BuildKit did not say.
    return [];
  }

  /** Feeds one decoded StatusResponse; returns the log lines it produced. */
  status(s: Status): string[] {
    const out: string[] = [];
    for (const v of s.vertexes ?? []) out.push(...this.vertex(v));
    for (const l of s.logs ?? []) out.push(...this.log(l));
    for (const w of s.warnings ?? []) {
      const st = w.vertex ? this.vertexes.get(w.vertex) : undefined;
      out.push(`${st ? `#${st.n} ` : ''}WARNING: ${Buffer.from(w.short ?? []).toString('utf8').trim()}`);
    }
    return out;
  }

  private state(v: Vertex): VertexState {
    let st = this.vertexes.get(v.digest);
    if (!st) {
      st = { n: 0, name: v.name ?? '', output: [], partial: '', cached: false, printedStart: false, printedEnd: false };
      this.vertexes.set(v.digest, st);
      const m = st.name.match(STEP);
      if (m) {
        const [, prefix, n, total, instruction] = m;
        const stage = prefix?.split(' ').at(-1);
        const found = this.dockerfile ? instructionForStep(this.dockerfile, stage, instruction) : undefined;
        st.step = {
          digest: v.digest, header: st.name, n: Number(n), total: Number(total), instruction, cached: false, output: st.output,
          stage, line: found?.instruction.line, completed: false,
        };
      }
    }
    if (v.name) st.name = v.name;
    return st;
  }

  private vertex(v: Vertex): string[] {
    const st = this.state(v);
    const out: string[] = [];
    if (v.started && st.started === undefined) st.started = seconds(v.started);
    if (v.cached) st.cached = true;
    if (v.error) st.error = v.error;
    if (v.completed) st.completed = seconds(v.completed);
    if (st.step) {
      st.step.cached = st.cached;
      st.step.completed = st.completed !== undefined;
      if (st.error) st.step.error = st.error;
      if (st.completed !== undefined && st.started !== undefined) st.step.ms = st.cached ? 0 : Math.max(0, Math.round((st.completed - st.started) * 1000));
    }
    if (st.printedEnd || (!v.started && !v.completed)) return out;
    // Numbered in the order steps start, as Docker's plain progress does.
    if (!st.n) st.n = ++this.printed;
    if (v.completed) {
      st.printedEnd = true;
      out.push(...this.flush(st));
      if (st.cached) out.push(st.printedStart ? `#${st.n} CACHED` : `#${st.n} ${st.name}: CACHED`);
      else {
        if (!st.printedStart) out.push(`#${st.n} ${st.name}`);
        out.push(st.error ? `#${st.n} ERROR: ${st.error}` : `#${st.n} DONE ${(((st.completed ?? 0) - (st.started ?? st.completed ?? 0))).toFixed(1)}s`);
      }
      st.printedStart = true;
    } else if (!st.printedStart) {
      st.printedStart = true;
      out.push(`#${st.n} ${st.name}`);
    }
    return out;
  }

  private log(l: VertexLog): string[] {
    const st = this.vertexes.get(l.vertex);
    if (!st) return [];
    if (!st.n) st.n = ++this.printed;
    const lines = (st.partial + Buffer.from(l.msg ?? []).toString('utf8')).split(/\r?\n/);
    st.partial = lines.pop() ?? '';
    return lines.map((x) => this.keep(st, x));
  }

  private flush(st: VertexState): string[] {
    if (!st.partial) return [];
    const line = this.keep(st, st.partial);
    st.partial = '';
    return [line];
  }

  private keep(st: VertexState, raw: string): string {
    // Progress bars redraw with \r: keep what the line finally showed.
    const line = raw.split('\r').filter(Boolean).at(-1) ?? '';
    if (line.trim()) st.output.push(line);
    return `#${st.n} ${line}`;
  }

  /** The steps (Dockerfile instructions) in the order BuildKit first mentioned them. */
  steps(): BuildkitStep[] {
    return [...this.vertexes.values()].map((v) => v.step).filter((s): s is BuildkitStep => !!s);
  }

  result(): BuildStreamResult & { steps: BuildkitStep[] } {
    for (const st of this.vertexes.values()) this.flush(st);
    const steps = this.steps();
    let error: BuildStreamResult['error'];
    if (this.errorMessage) {
      const failed = steps.find((s) => s.error) ?? [...this.vertexes.values()].find((v) => v.error)?.step;
      const parseLine = this.errorMessage.match(/\bline (\d+)\b/);
      if (failed && failed.line === undefined && parseLine) failed.line = Number(parseLine[1]);
      error = { message: this.errorMessage, step: failed, tail: (failed?.output ?? []).slice(-TAIL), line: failed?.line ?? (parseLine ? Number(parseLine[1]) : undefined) };
    }
    return { ...countSteps(steps), imageId: this.imageId, error };
  }
}

/** Cached and run counts of BuildKit steps: finished Dockerfile instructions other than FROM. */
export function countSteps(steps: BuildkitStep[]): { steps: BuildkitStep[]; cachedSteps: number; ranSteps: number } {
  const counted = steps.filter((s) => s.completed && !/^FROM\s/i.test(s.instruction));
  return { steps, cachedSteps: counted.filter((s) => s.cached).length, ranSteps: counted.filter((s) => !s.cached).length };
}

/**
 * The steps of several builds of one Dockerfile in one run (stage cache images, then the
 * target), each instruction of each stage once: a step that ran in an earlier build shows up as
 * cached in the later ones, and the first build's account of it is the true one.
 */
export function mergeBuildSteps(builds: BuildkitStep[][]): { steps: BuildkitStep[]; cachedSteps: number; ranSteps: number } {
  const byStep = new Map<string, BuildkitStep>();
  const key = (s: BuildkitStep) => `${s.stage ?? ''}\0${s.line ?? s.instruction}`;
  for (const steps of builds) for (const s of steps) if (!byStep.get(key(s))?.completed) byStep.set(key(s), s);
  return countSteps([...byStep.values()]);
}
