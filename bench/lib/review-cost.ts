// Pure pieces of the review-app benchmark (unit-tested): the order of the measured steps in each
// round, the time of each top-level group of a CLI run's output, the ratios and the table.
import { median } from './static-cost.js';

export { median };

/**
 * The measured steps: plain is `pallet deploy --tag T` of the main app (a new tag, its layers
 * already on the host); new is the first `pallet review deploy N` on a host without review apps
 * (the services' images pulled, the services started, migrations against a fresh database); push
 * is a second `review deploy N` to the live review app (services kept); warm is the first `review
 * deploy M` of another pull request while N is live (the services' images on the host already);
 * destroy is `pallet review destroy N`, the last review app on the host (its services' images go too).
 */
export type Step = 'plain' | 'new' | 'push' | 'warm' | 'destroy';
export const STEPS: Step[] = ['plain', 'new', 'push', 'warm', 'destroy'];
/** The steps compared with the plain deploy. */
export type ReviewStep = Exclude<Step, 'plain'>;
const REVIEW_STEPS: ReviewStep[] = ['new', 'push', 'warm', 'destroy'];

/**
 * Round i (0-based): the plain deploy before the review apps' life (new, push, warm, destroy) in
 * even rounds, after it in odd ones. The review steps keep their order (each needs the one before;
 * M is destroyed, unmeasured, between warm and destroy), and the plain deploy never runs while a
 * review app is live, so it measures the same host every time.
 */
export function stepOrder(round: number): Step[] {
  return round % 2 === 0 ? ['plain', 'new', 'push', 'warm', 'destroy'] : ['new', 'push', 'warm', 'destroy', 'plain'];
}

/** One line of a CLI run's output and when it arrived (ms since the process was started). */
export interface TimedLine { t: number; line: string }

/**
 * Splits output chunks into lines, each stamped with the arrival time of the chunk that ended it
 * (pure; `rest` is the unfinished line carried between chunks, returned with the lines).
 */
export function splitChunk(rest: string, chunk: string, t: number): { lines: TimedLine[]; rest: string } {
  const parts = (rest + chunk).split('\n');
  const tail = parts.pop()!;
  return { lines: parts.map((line) => ({ t, line: line.replace(/\r$/, '') })), rest: tail };
}

/**
 * The wall time of each top-level group ("▸ Name ..." at the start of a line) of one run, in
 * order (pure): a group lasts until the next one starts, the last until the process ended
 * (`totalMs`); before the first group is "start" (the process starting, reading pallet.yml,
 * resolving the tag). The name is the group's title up to the first ':' or ' on ', with host
 * addresses and image references dropped (e.g. "Services of app-pr-1", "Pulling", "Tasks").
 */
export function groupTimes(lines: TimedLine[], totalMs: number): { name: string; ms: number }[] {
  const starts = lines.filter((l) => /^▸ /.test(l.line)).map((l) => ({ name: groupName(l.line), t: l.t }));
  const out: { name: string; ms: number }[] = [];
  out.push({ name: 'start', ms: starts.length ? starts[0].t : totalMs });
  starts.forEach((s, i) => out.push({ name: s.name, ms: (starts[i + 1]?.t ?? totalMs) - s.t }));
  return out;
}

/** "▸ Services of shop-pr-1 on 127.0.0.1:2213" -> "Services of shop-pr-1"; "▸ Pulling 127.0.0.1:5000/x:y; the proxy ..." -> "Pulling". */
export function groupName(line: string): string {
  const title = line.replace(/^▸ /, '');
  if (/^Pulling\b/.test(title)) return 'Pulling';
  return title.split(/:| on /)[0].replace(/\s+\d+ host\(s\)$/, '').trim();
}

/** One round: each step's wall time (ms) and the machine's 1-minute load average before it. */
export interface ReviewRound {
  round: number;
  order: Step[];
  load: number;
  ms: Record<Step, number>;
}

/** Each review step over the same round's plain deploy. */
export function ratios(r: ReviewRound): Record<ReviewStep, number> {
  return Object.fromEntries(REVIEW_STEPS.map((k) => [k, r.ms[k] / r.ms.plain])) as Record<ReviewStep, number>;
}

export interface ReviewSummary {
  rounds: number;
  /** Median wall time of each step (ms). */
  ms: Record<Step, number>;
  /** Median over the rounds of each round's ratio. */
  ratio: Record<ReviewStep, number>;
}

export function summarize(rounds: ReviewRound[]): ReviewSummary {
  const m = (f: (r: ReviewRound) => number) => median(rounds.map(f));
  return {
    rounds: rounds.length,
    ms: Object.fromEntries(STEPS.map((k) => [k, m((r) => r.ms[k])])) as Record<Step, number>,
    ratio: Object.fromEntries(REVIEW_STEPS.map((k) => [k, m((r) => ratios(r)[k])])) as Record<ReviewStep, number>,
  };
}

const sec = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

const LABELS: Record<ReviewStep, string> = {
  new: 'A: new review app (service images pulled) / plain',
  warm: "A': new review app, service images on the host / plain",
  push: 'B: second push / plain',
  destroy: 'C: review destroy (the last review app) / plain',
};

/**
 * The table (markdown): one row per ratio (A new / plain, A' warm / plain, B push / plain, C
 * destroy / plain) with the median of the rounds' ratios, each round's ratio, and the median wall
 * times; then the rounds' order, load average and times.
 */
export function reviewTable(rounds: ReviewRound[]): string[] {
  const s = summarize(rounds);
  const each = (k: ReviewStep) => rounds.map((r) => ratios(r)[k].toFixed(2)).join(' ');
  return [
    `| ratio to the plain deploy (same round) | median | rounds (${rounds.map((r) => r.round + 1).join(', ')}) | step, median time | plain deploy, median time |`,
    '|---|---|---|---|---|',
    ...(['new', 'warm', 'push', 'destroy'] as ReviewStep[]).map((k) => `| ${LABELS[k]} | **${s.ratio[k].toFixed(2)}** | ${each(k)} | ${sec(s.ms[k])} | ${sec(s.ms.plain)} |`),
    '',
    '| round | order | load (1 min) | plain | new | push | warm | destroy |',
    '|---|---|---|---|---|---|---|---|',
    ...rounds.map((r) => `| ${r.round + 1} | ${r.order.join(', ')} | ${r.load.toFixed(2)} | ${STEPS.map((k) => sec(r.ms[k])).join(' | ')} |`),
  ];
}
