// Pure: `pallet cron status` as rows and problems, from what each host holds (HostCronState) and
// what pallet.yml says (the plan's jobs: schedules, time zones, which hosts run them).
import type { CronJobPlan } from '../deploy/plan.js';
import type { HostCronState } from './commands.js';
import { nextRuns } from './schedule.js';

/** One host's answer, or why it could not be read. */
export type HostCron = { host: string; error?: string } & Partial<HostCronState>;

/** One job on one host, as the table and --json show it. */
export interface CronRow {
  host: string;
  job: string;
  schedule: string;
  timezone: string;
  /** ISO time (UTC) of the next run on the schedule the host holds ('' when the host does not hold the job). */
  next: string;
  /** The last finished run: its start, exit code, duration (ms) and release. */
  last?: { start: string; exit: number; ms: number; tag: string };
  running?: { start: string; tag: string };
  skipped?: string;
  /** The last lines of the last run's output (only kept when it failed). */
  output: string[];
  /** What a person should know: not deployed yet, removed at the next deploy, not scheduled. */
  note: string;
}

export const CRON_HEADER = ['host', 'job', 'schedule', 'next run', 'last run', 'exit', 'duration', 'note'];

/**
 * Pure: a row per (host, job) of pallet.yml and per job a host still holds; the schedule shown is
 * the host's (the last deploy's), with a note when pallet.yml now says another; `now` for the next run.
 */
export function cronRows(jobs: readonly CronJobPlan[], hosts: readonly HostCron[], now: Date): CronRow[] {
  const rows: CronRow[] = [];
  for (const h of hosts) {
    if (h.error) continue;
    const held = new Map((h.jobs ?? []).map((j) => [j.name, j]));
    const wanted = jobs.filter((j) => j.hosts.includes(h.host));
    for (const name of [...new Set([...wanted.map((j) => j.name), ...held.keys()])].sort()) {
      const plan = wanted.find((j) => j.name === name);
      const state = held.get(name);
      // What the host runs is what the last deploy wrote; pallet.yml may say otherwise until the next one.
      const schedule = state?.schedule ?? plan?.schedule;
      const timezone = state?.zone ?? plan?.timezone;
      const changed = plan && state?.schedule && (state.schedule !== plan.schedule || state.zone !== plan.timezone);
      const note = !state ? 'not on this host yet: deploy'
        : !plan ? 'not in pallet.yml (here): the next deploy removes it'
          : !h.scheduled ? "the host's crontab has no line for this app: deploy again"
            : changed ? `pallet.yml says ${plan.schedule} (${plan.timezone}): the next deploy changes it`
              : '';
      rows.push({
        host: h.host, job: name, schedule: schedule ?? '-', timezone: timezone ?? '-',
        next: state && schedule && timezone ? nextRuns(schedule, timezone, now)[0].toISOString().replace(/\.000Z$/, 'Z') : '',
        ...(state?.last ? { last: { start: state.last.start, exit: state.last.exit, ms: state.last.ms, tag: state.last.tag } } : {}),
        ...(state?.running ? { running: state.running } : {}),
        ...(state?.skipped ? { skipped: state.skipped } : {}),
        output: state?.last && state.last.exit !== 0 ? state.output : [],
        note: [note, state?.running ? `running since ${state.running.start} (${state.running.tag})` : '', state?.skipped ? `last skipped ${state.skipped}: the run before still ran` : ''].filter(Boolean).join('; '),
      });
    }
  }
  return rows;
}

/** Pure: the table cells of `rows` (times as written, durations in seconds). */
export function cronTable(rows: readonly CronRow[]): string[][] {
  return rows.map((r) => [
    r.host, r.job, r.schedule === '-' ? '-' : `${r.schedule} (${r.timezone})`, r.next || '-',
    r.last ? `${r.last.start} (${r.last.tag})` : '-', r.last ? String(r.last.exit) : '-',
    r.last ? `${(r.last.ms / 1000).toFixed(1)}s` : '-', r.note || '-',
  ]);
}
