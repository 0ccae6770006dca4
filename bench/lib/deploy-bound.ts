// Pure pieces of the deploy benchmark's modes part (unit-tested): phase times from a deploy's
// log and the lower bound a deploy is held to.

/** Wall time of each top-level group of a deploy's log (ms), by name (first word(s) of the group). */
export type Phases = Record<string, number>;

const PHASES: [RegExp, string][] = [
  [/^▸ Preflight/, 'preflight'], [/^▸ Pulling/, 'pull'], [/^▸ Proxy on every/, 'proxy'], [/^▸ Tasks on/, 'tasks'],
  [/^▸ Rolling restart/, 'rolling'], [/^▸ Finishing/, 'finish'],
];

/**
 * Phase durations from the log of one deploy (pure): each top-level group ("▸ Name" without
 * indentation) lasts until the next one starts; the last until the deploy returned (`totalMs`).
 * Between "Pulling" and "Tasks" lies the revert-tag record step, counted in the earlier phase.
 */
export function phaseTimes(lines: string[], at: number[], totalMs: number): Phases {
  const starts: { name: string; t: number }[] = [];
  lines.forEach((l, i) => {
    const hit = PHASES.find(([re]) => re.test(l));
    if (hit) starts.push({ name: hit[1], t: at[i] });
  });
  const out: Phases = {};
  starts.forEach((s, i) => { out[s.name] = (starts[i + 1]?.t ?? totalMs) - s.t; });
  return out;
}

/**
 * The lower bound of a deploy (ms, pure), from the issue: slowest pull + tasks + batches x
 * (start + boot + one probe). The pull and the tasks are the deploy's own timings (the report's
 * per-host pullMs, the "Tasks" group of its log); start + boot + one probe is `referenceMs`, measured
 * on a lab host right before the deploy, under the same request loop: `docker run -d` of the same
 * image with the same env file (BOOT_DELAY=6) until its /health/ first answers 200, polled every
 * 100 ms (bench/lib/deploy-modes.ts also measures it idle, for the stricter ratio). Preflight (ssh,
 * locks), the revert-tag record, the proxy check, the drain of the old containers and finishing
 * are not in the bound: what the proxy mode adds over it is their cost plus its health loop's poll
 * interval and the route switch.
 */
export function lowerBoundMs(p: { pullMaxMs: number; tasksMs: number; batches: number; referenceMs: number }): number {
  return p.pullMaxMs + p.tasksMs + p.batches * p.referenceMs;
}

