// Reads the classic builder's JSON progress stream ({stream}, {aux}, {error}) into steps:
// which came from cache ("---> Using cache"), which ran, the image ID, and for a failure the
// step and its last output lines (pure; tested with recorded streams).

export interface BuildEvent {
  stream?: string;
  status?: string;
  aux?: { ID?: string };
  error?: string;
  errorDetail?: { code?: number; message?: string };
}

export interface BuildStep {
  /** "Step 7/12 : RUN pip install ..." */
  header: string;
  n: number;
  total: number;
  instruction: string;
  cached: boolean;
  output: string[];
  /** BuildKit only: the stage label ("builder", "stage-1"), the 1-based Dockerfile line, the step's time. */
  stage?: string;
  line?: number;
  ms?: number;
}

export interface BuildStreamResult {
  steps: BuildStep[];
  cachedSteps: number;
  /** Steps that executed (not FROM, not from cache). */
  ranSteps: number;
  imageId?: string;
  /** line: the Dockerfile line (1-based) of the failing instruction, when known. */
  error?: { message: string; step?: BuildStep; tail: string[]; line?: number };
}

const STEP = /^Step (\d+)\/(\d+) : (.*)$/;
const TAIL = 20;

export class BuildStreamParser {
  private steps: BuildStep[] = [];
  private imageId?: string;
  private error?: BuildStreamResult['error'];
  private partial = '';

  /** Feeds one event; returns the complete lines it carried (for the log). */
  push(ev: BuildEvent): string[] {
    if (ev.aux?.ID) this.imageId = ev.aux.ID;
    if (ev.error || ev.errorDetail) {
      const message = (ev.errorDetail?.message ?? ev.error ?? 'build failed').trim();
      const step = this.steps.at(-1);
      this.error = { message, step, tail: (step?.output ?? []).slice(-TAIL) };
      return [message];
    }
    const text = ev.stream ?? (ev.status ? ev.status + '\n' : '');
    if (!text) return [];
    const lines = (this.partial + text).split('\n');
    this.partial = lines.pop() ?? '';
    for (const l of lines) this.line(l);
    return lines;
  }

  private line(raw: string) {
    const line = raw.replace(/\r$/, '');
    const m = line.match(STEP);
    if (m) {
      this.steps.push({ header: line, n: Number(m[1]), total: Number(m[2]), instruction: m[3], cached: false, output: [] });
      return;
    }
    const step = this.steps.at(-1);
    if (!step) return;
    if (/^ ---> Using cache$/.test(line)) step.cached = true;
    else if (/^ ---> /.test(line) || /^Removing intermediate container /.test(line)) return;
    else if (line.trim()) step.output.push(line);
  }

  result(): BuildStreamResult {
    if (this.partial) { this.line(this.partial); this.partial = ''; }
    const isFrom = (s: BuildStep) => /^FROM\s/i.test(s.instruction);
    // FROM and the global ARGs before the first FROM are not build steps: neither cached nor run.
    const firstFrom = this.steps.findIndex(isFrom);
    const real = this.steps.filter((s, i) => i > firstFrom && !isFrom(s));
    return {
      steps: this.steps,
      cachedSteps: real.filter((s) => s.cached).length,
      ranSteps: real.filter((s) => !s.cached).length,
      imageId: this.imageId,
      error: this.error,
    };
  }
}

/**
 * The annotation for a failed build (either builder): title names the step (and its Dockerfile
 * line when known), body is its last output lines and the engine's message.
 */
export function buildFailureAnnotation(err: NonNullable<BuildStreamResult['error']>, file = 'Dockerfile'): { title: string; body: string } {
  const where = err.line ? ` (${file}:${err.line})` : '';
  const title = err.step ? `docker build failed at ${err.step.header}${where}` : `docker build failed${where}`;
  const body = [...err.tail, err.message].join('\n');
  return { title, body };
}
