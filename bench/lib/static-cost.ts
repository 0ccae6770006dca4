// Pure pieces of the deploy benchmark's "static" part (unit-tested): the order of the two arms
// in each round, what a deploy's log says about its static files, medians and the table.

/** The two arms: an app with deploy.proxy.static, and the same app without it. */
export type StaticArm = 'static' | 'nostatic';

/** Round i (0-based) measures the arms in this order: static first in even rounds, last in odd ones. */
export function armOrder(round: number): StaticArm[] {
  return round % 2 === 0 ? ['static', 'nostatic'] : ['nostatic', 'static'];
}

/** Median of a non-empty list (the mean of the middle two for an even count). */
export function median(xs: number[]): number {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** The static files a deploy placed, from its log. */
export interface StaticPlaced {
  /** Hosts that logged `static files of TAG: N files (K KiB)`. */
  hosts: number;
  files: number;
  kib: number;
  /**
   * From the last line before the first host's static-files line (the end of the pull and proxy
   * preparation, after which placeStaticFiles starts) to the last host's: the placement step on
   * all hosts at once (ms, as the log lines arrived; 0 without such lines).
   */
  ms: number;
}

const PLACED = /: static files of \S+: (\d+) files \((\d+) KiB\)/;

/** Pure: reads the placement lines of a deploy's log (`lines` with their arrival times `at`). */
export function staticPlaced(lines: string[], at: number[]): StaticPlaced {
  const idx = lines.map((l, i) => (PLACED.test(l) ? i : -1)).filter((i) => i >= 0);
  if (!idx.length) return { hosts: 0, files: 0, kib: 0, ms: 0 };
  const first = PLACED.exec(lines[idx[0]])!;
  const start = idx[0] > 0 ? at[idx[0] - 1] : 0;
  return { hosts: idx.length, files: Number(first[1]), kib: Number(first[2]), ms: at[idx[idx.length - 1]] - start };
}

/** One measured deploy of one arm. */
export interface ArmRun {
  arm: StaticArm;
  app: string;
  /** Position in its round (0: measured first). */
  position: number;
  wallMs: number;
  /** The slowest host's `docker pull` (the report's pullMs). */
  pullMaxMs: number;
  /** The "Pulling ...; the proxy (and the static files) on every web host" group of the log, to the next group. */
  pullPhaseMs: number;
  /** The static files placed (zeros for the arm without). */
  placed: StaticPlaced;
  /** The whole phase breakdown from the log (preflight, pull, tasks, rolling, finish). */
  phases: Record<string, number>;
}

export interface StaticRound {
  round: number;
  /** The 1-minute load average of the machine before the round. */
  load: number;
  static: ArmRun;
  nostatic: ArmRun;
  /** static / nostatic, wall time and pull phase. */
  wallRatio: number;
  pullPhaseRatio: number;
  /**
   * (pull phase + finish) with static minus the same without: the two phases the feature's own
   * steps run in (placing the release's files after the pull; dropping the pruned release's files
   * at finish), without the noise of the phases it does not touch (tasks, rolling restart).
   */
  stepsExtraMs: number;
}

export function roundOf(round: number, load: number, runs: ArmRun[]): StaticRound {
  const s = runs.find((r) => r.arm === 'static')!;
  const n = runs.find((r) => r.arm === 'nostatic')!;
  const steps = (r: ArmRun) => r.pullPhaseMs + (r.phases.finish ?? 0);
  return { round, load, static: s, nostatic: n, wallRatio: s.wallMs / n.wallMs, pullPhaseRatio: s.pullPhaseMs / n.pullPhaseMs, stepsExtraMs: steps(s) - steps(n) };
}

/** The medians over the rounds: wall times, pull phases, placement, and the ratios (median of each round's ratio). */
export interface StaticSummary {
  rounds: number;
  wallMs: { static: number; nostatic: number };
  pullPhaseMs: { static: number; nostatic: number };
  pullMaxMs: { static: number; nostatic: number };
  finishMs: { static: number; nostatic: number };
  placementMs: number;
  wallRatio: number;
  pullPhaseRatio: number;
  stepsExtraMs: number;
  /** stepsExtraMs over the median wall time without static files: the cost the feature's steps add, as a ratio. */
  stepsRatio: number;
}

export function summarize(rounds: StaticRound[]): StaticSummary {
  const m = (f: (r: StaticRound) => number) => median(rounds.map(f));
  return {
    rounds: rounds.length,
    wallMs: { static: m((r) => r.static.wallMs), nostatic: m((r) => r.nostatic.wallMs) },
    pullPhaseMs: { static: m((r) => r.static.pullPhaseMs), nostatic: m((r) => r.nostatic.pullPhaseMs) },
    pullMaxMs: { static: m((r) => r.static.pullMaxMs), nostatic: m((r) => r.nostatic.pullMaxMs) },
    finishMs: { static: m((r) => r.static.phases.finish ?? 0), nostatic: m((r) => r.nostatic.phases.finish ?? 0) },
    placementMs: m((r) => r.static.placed.ms),
    wallRatio: m((r) => r.wallRatio),
    pullPhaseRatio: m((r) => r.pullPhaseRatio),
    stepsExtraMs: m((r) => r.stepsExtraMs),
    stepsRatio: 1 + m((r) => r.stepsExtraMs) / m((r) => r.nostatic.wallMs),
  };
}

const s = (ms: number) => `${(ms / 1000).toFixed(1)}s`;
const signed = (ms: number) => `${ms < 0 ? '-' : '+'}${(Math.abs(ms) / 1000).toFixed(2)}s`;

/** The table (plain text): one line per round, then the medians (of each column, and of each round's ratio). */
export function staticTable(rounds: StaticRound[]): string[] {
  const out = ['round  order            load  wall static  without  ratio  pull phase static  without  ratio  docker pull max (static, without)  placing  finish static  without  steps extra (pull+finish)'];
  type Cells = { ws: number; wn: number; wr: number; ps: number; pn: number; pr: number; ds: number; dn: number; pl: number; fs: number; fn: number; x: number };
  const line = (round: string, order: string, load: string, c: Cells) =>
    `${round.padEnd(5)}  ${order.padEnd(15)}  ${load.padEnd(4)}  ${s(c.ws).padEnd(11)}  ${s(c.wn).padEnd(7)}  ${c.wr.toFixed(2).padEnd(5)}  ${s(c.ps).padEnd(17)}  ${s(c.pn).padEnd(7)}  ${c.pr.toFixed(2).padEnd(5)}  ${`${s(c.ds)}, ${s(c.dn)}`.padEnd(33)}  ${`${(c.pl / 1000).toFixed(2)}s`.padEnd(7)}  ${s(c.fs).padEnd(13)}  ${s(c.fn).padEnd(7)}  ${signed(c.x)}`;
  for (const r of rounds) {
    const order = r.static.position === 0 ? 'static, without' : 'without, static';
    out.push(line(String(r.round + 1), order, r.load.toFixed(1), {
      ws: r.static.wallMs, wn: r.nostatic.wallMs, wr: r.wallRatio, ps: r.static.pullPhaseMs, pn: r.nostatic.pullPhaseMs, pr: r.pullPhaseRatio,
      ds: r.static.pullMaxMs, dn: r.nostatic.pullMaxMs, pl: r.static.placed.ms, fs: r.static.phases.finish ?? 0, fn: r.nostatic.phases.finish ?? 0, x: r.stepsExtraMs,
    }));
  }
  const m = summarize(rounds);
  out.push(line('med', '', '', {
    ws: m.wallMs.static, wn: m.wallMs.nostatic, wr: m.wallRatio, ps: m.pullPhaseMs.static, pn: m.pullPhaseMs.nostatic, pr: m.pullPhaseRatio,
    ds: m.pullMaxMs.static, dn: m.pullMaxMs.nostatic, pl: m.placementMs, fs: m.finishMs.static, fn: m.finishMs.nostatic, x: m.stepsExtraMs,
  }));
  return out;
}
