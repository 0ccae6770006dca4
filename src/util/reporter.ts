// Where output goes. In GitHub Actions: @actions/core (log groups, annotations, masked secrets,
// outputs, state, job summary). On the command line: plain text on stdout/stderr with the
// same masking, and the summary printed as text tables. Stages only ever talk to `reporter()`.
import * as core from '@actions/core';

export type Row = (string | number | boolean)[];

export interface AnnotationProps {
  title?: string;
  file?: string;
  startLine?: number;
}

export interface Summary {
  heading(text: string, level?: number): Summary;
  text(markdown: string): Summary;
  table(header: string[], rows: Row[]): Summary;
  list(items: string[]): Summary;
  write(): Promise<void>;
}

export interface Reporter {
  readonly kind: 'actions' | 'cli';
  info(message: string): void;
  debug(message: string): void;
  warning(message: string, props?: AnnotationProps): void;
  error(message: string, props?: AnnotationProps): void;
  group<T>(name: string, fn: () => Promise<T>): Promise<T>;
  /** Masks value from now on; call the moment a secret is read. */
  setSecret(value: string): void;
  setOutput(name: string, value: string): void;
  saveState(name: string, value: string): void;
  getState(name: string): string;
  readonly summary: Summary;
}

class ActionsReporter implements Reporter {
  readonly kind = 'actions' as const;
  readonly summary: Summary = new ActionsSummary();
  info(m: string) { core.info(m); }
  debug(m: string) { core.debug(m); }
  warning(m: string, p?: AnnotationProps) { core.warning(m, p); }
  error(m: string, p?: AnnotationProps) { core.error(m, p); }
  group<T>(name: string, fn: () => Promise<T>) { return core.group(name, fn); }
  setSecret(v: string) { if (v) core.setSecret(v); }
  setOutput(n: string, v: string) { core.setOutput(n, v); }
  saveState(n: string, v: string) { core.saveState(n, v); }
  getState(n: string) { return core.getState(n); }
}

class ActionsSummary implements Summary {
  heading(t: string, level = 3) { core.summary.addHeading(t, level); return this; }
  text(md: string) { core.summary.addRaw(md, true); return this; }
  table(header: string[], rows: Row[]) {
    core.summary.addTable([
      header.map((h) => ({ data: h, header: true })),
      ...rows.map((r) => r.map((c) => String(c))),
    ]);
    return this;
  }
  list(items: string[]) { core.summary.addList(items); return this; }
  async write() {
    if (process.env.GITHUB_STEP_SUMMARY) await core.summary.write();
  }
}

/** Plain-text reporter for the `pallet` CLI (and tests). Masks secrets like the runner does. */
export class CliReporter implements Reporter {
  readonly kind = 'cli' as const;
  private secrets = new Set<string>();
  private state = new Map<string, string>();
  readonly outputs = new Map<string, string>();
  private depth = 0;
  readonly summary: Summary;
  constructor(
    private readonly out: (line: string) => void = (l) => process.stdout.write(l + '\n'),
    private readonly err: (line: string) => void = (l) => process.stderr.write(l + '\n'),
    readonly verbose = !!process.env.PALLET_DEBUG,
  ) {
    this.summary = new TextSummary((l) => this.out(this.mask(l)));
  }
  mask(text: string): string {
    let t = text;
    for (const s of this.secrets) t = t.split(s).join('***');
    return t;
  }
  private pad() { return '  '.repeat(this.depth); }
  info(m: string) { for (const l of this.mask(m).split('\n')) this.out(this.pad() + l); }
  debug(m: string) { if (this.verbose) this.info(`[debug] ${m}`); }
  warning(m: string) { this.err(`warning: ${this.mask(m)}`); }
  error(m: string) { this.err(`error: ${this.mask(m)}`); }
  async group<T>(name: string, fn: () => Promise<T>) {
    this.out(`${this.pad()}▸ ${this.mask(name)}`);
    this.depth++;
    try { return await fn(); } finally { this.depth--; }
  }
  setSecret(v: string) {
    if (!v) return;
    this.secrets.add(v);
    // Multi-line secrets (keys) are masked line by line too, as the runner does.
    for (const line of v.split(/\r?\n/)) if (line.trim().length > 3) this.secrets.add(line);
  }
  setOutput(n: string, v: string) { this.outputs.set(n, v); }
  saveState(n: string, v: string) { this.state.set(n, v); }
  getState(n: string) { return this.state.get(n) ?? ''; }
}

class TextSummary implements Summary {
  private lines: string[] = [];
  constructor(private readonly print: (line: string) => void) {}
  heading(t: string) { this.lines.push('', `== ${t} ==`); return this; }
  text(md: string) { this.lines.push(md); return this; }
  list(items: string[]) { for (const i of items) this.lines.push(`  - ${i}`); return this; }
  table(header: string[], rows: Row[]) {
    const all = [header, ...rows.map((r) => r.map(String))];
    const widths = header.map((_, i) => Math.max(...all.map((r) => (r[i] ?? '').length)));
    const fmt = (r: string[]) => r.map((c, i) => (c ?? '').padEnd(widths[i])).join('  ').trimEnd();
    this.lines.push(fmt(header), widths.map((w) => '-'.repeat(w)).join('  '), ...all.slice(1).map(fmt));
    return this;
  }
  async write() {
    for (const l of this.lines) this.print(l);
    this.lines = [];
  }
}

let current: Reporter | undefined;

export function setReporter(r: Reporter): Reporter {
  current = r;
  return r;
}

/** The reporter of this process: Actions when running as an action, CLI otherwise. */
export function reporter(): Reporter {
  if (!current) current = process.env.GITHUB_ACTIONS === 'true' && process.env.PALLET_ENTRY === 'action'
    ? new ActionsReporter()
    : new CliReporter();
  return current;
}

export function actionsReporter(): Reporter {
  return new ActionsReporter();
}

/** Human-friendly durations for logs and summaries. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)}s`;
  return `${Math.floor(s / 60)}m${Math.round(s % 60)}s`;
}

export function formatBytes(n: number): string {
  const units = ['B', 'KB', 'MB', 'GB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return `${n.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
}
