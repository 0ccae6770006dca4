// Pure: deploy.cron on a host, as argument vectors (scripts run as `sh -c SCRIPT pallet-NAME ARG...`,
// data only as positional arguments).
//
// The scheduler is the host's own cron daemon (Debian's `cron`): it survives a reboot and keeps
// firing when the runner and pallet are gone. The deploy user's crontab gets one line per app,
// `* * * * * sh STATE/cron/tick STATE APP # pallet-cron APP`; every minute the tick (TICK, a file
// the deploy writes) matches each job's schedule in its own time zone (`TZ=ZONE date`) against
// the expanded values the deploy wrote, and starts RUN for each job due. RUN reads the release
// from STATE/TAG at that moment, so a deploy, rollback or revert switches every job with TAG,
// atomically; it holds a per-job flock, so a run never overlaps the previous one (a due run that
// finds it held is skipped, and the audit log says so).
//
//   STATE/cron/jobs -> jobs.N       the job definitions the tick reads (swapped at finish)
//   STATE/cron/next/                written in the pull phase, swapped in by CRON_SWAP on success
//   STATE/cron/jobs.N/JOB/when      minute, hour, day of month, month, day of week values; and|or; zone
//                        /image     the app's repository (the tag is TAG's at run time)
//                        /envfile   the host's deploy.env_file (used if it exists at run time)
//                        /options   docker run options, one per line
//                        /command   entrypoint arguments, one per line
//   STATE/cron/state/JOB/last       start=, end=, tag=, exit=, ms= of the last finished run
//                       /running    start=, tag= while a run goes on
//                       /skipped    when a run was last skipped (the previous one still ran)
//                       /output.log the last 200 lines of the last run's output
import { remoteScript } from '../host/script.js';
import type { ExpandedSchedule } from './schedule.js';

// Runs every minute from the crontab: $1 the app's state dir, $2 the app.
export const TICK = `d="$1"; app="$2"; j="$d/cron/jobs"
[ -d "$j" ] || exit 0
tag=$(cat "$d/TAG" 2>/dev/null); [ -n "$tag" ] || exit 0
has() { case " $1 " in *" $2 "*) return 0 ;; esac; return 1; }
for jd in "$j"/*; do
  [ -f "$jd/when" ] || continue
  { read -r mi; read -r ho; read -r dm; read -r mo; read -r dw; read -r days; read -r tz; } < "$jd/when"
  set -- $(TZ="$tz" date '+%M %H %d %m %w')
  has "$mi" "\${1#0}" && has "$ho" "\${2#0}" && has "$mo" "\${4#0}" || continue
  a=0; has "$dm" "\${3#0}" && a=1
  b=0; has "$dw" "$5" && b=1
  if [ "$days" = or ]; then [ $a = 1 ] || [ $b = 1 ] || continue; else [ $a = 1 ] && [ $b = 1 ] || continue; fi
  nohup sh "$d/cron/run" "$d" "$app" "\${jd##*/}" "$tag" </dev/null >/dev/null 2>&1 &
done`;

// One run of job $3 of app $2 with release $4: a one-off container like \`pallet exec\`'s (the
// release's env file, the host's, /storage), its output kept, its result recorded and audited.
export const RUN = `d="$1"; app="$2"; name="$3"; tag="$4"
jd="$d/cron/jobs/$name"; s="$d/cron/state/$name"
mkdir -p "$s" || exit 1
now() { date -u +%Y-%m-%dT%H:%M:%SZ; }
audit() { printf '%s\\tcron\\t%s\\tcron\\t%s@%s\\t%s\\trun=cron\\n' "$(now)" "$app" "$name" "$tag" "$1" >> "$d/audit.log"; }
exec 9>>"$s/lock"
if ! flock -n 9; then
  now > "$s/skipped"
  audit "skipped: the run that started $(sed -n 's/^start=//p' "$s/running" 2>/dev/null) still runs"
  exit 0
fi
set -- --rm --name "$app-cron-$name-$(date +%s)" --label "pallet.app=$app" --label "pallet.role=cron" --label "pallet.cron=$name" --label "pallet.tag=$tag"
[ -f "$d/env/$tag.env" ] && set -- "$@" --env-file "$d/env/$tag.env"
ef=$(cat "$jd/envfile" 2>/dev/null); [ -n "$ef" ] && [ -f "$ef" ] && set -- "$@" --env-file "$ef"
while IFS= read -r a; do set -- "$@" "$a"; done < "$jd/options"
set -- "$@" "$(cat "$jd/image"):$tag"
while IFS= read -r a; do set -- "$@" "$a"; done < "$jd/command"
start=$(now); t0=$(date +%s%N)
printf 'start=%s\\ntag=%s\\n' "$start" "$tag" > "$s/running"
docker run "$@" > "$s/output.new" 2>&1 </dev/null; rc=$?
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
tail -n 200 "$s/output.new" > "$s/output.log"; rm -f "$s/output.new"
printf 'start=%s\\nend=%s\\ntag=%s\\nexit=%s\\nms=%s\\n' "$start" "$(now)" "$tag" "$rc" "$ms" > "$s/last.tmp" && mv "$s/last.tmp" "$s/last"
audit "exit $rc ($((ms / 1000)).$((ms % 1000 / 100))s)"
# Last: a run is over for whoever watches once \`running\` is gone (its result and audit line are written).
rm -f "$s/running"`;

// Removes the app's line from the deploy user's crontab (crontab -r when nothing else is left).
const UNSCHEDULE_FN = `unschedule() {
  command -v crontab >/dev/null 2>&1 || return 0
  cur=$(crontab -l 2>/dev/null) || return 0
  case "$cur" in *"$mark"*) ;; *) return 0 ;; esac
  new=$(printf '%s\\n' "$cur" | awk -v m="$mark" 'length($0) < length(m) || substr($0, length($0) - length(m) + 1) != m')
  if [ -n "$new" ]; then printf '%s\\n' "$new" | crontab -; else crontab -r; fi
}`;

// The pull phase: the next job definitions (swapped in at finish, CRON_SWAP), the tick and run
// scripts, and the app's crontab line. Each job: NAME SCHEDULE MI HO DM MO DW DAYS TZ IMAGE
// ENVFILE K OPTIONS... K COMMAND... Prints jobs=N; exit 5: cron is not installed.
const PREPARE = `d="$1"; app="$2"; tick="$3"; runner="$4"; shift 4
c="$d/cron"; mark=" # pallet-cron $app"
${UNSCHEDULE_FN}
# No job now and none before: nothing of cron on this host.
if [ "$#" -eq 0 ] && [ -z "$(ls -A "$c/jobs/" 2>/dev/null)" ]; then
  unschedule; rm -rf "$c/next"; echo jobs=0; exit 0
fi
mkdir -p "$c" && rm -rf "$c/next" && mkdir "$c/next" || exit 3
n=0
while [ "$#" -ge 13 ]; do
  j="$c/next/$1"; mkdir "$j" || exit 3
  printf '%s\\n' "$2" > "$j/schedule"; shift 2
  printf '%s\\n' "$1" "$2" "$3" "$4" "$5" "$6" "$7" > "$j/when" && printf '%s\\n' "$8" > "$j/image" || exit 3
  shift 8
  printf '%s\\n' "$1" > "$j/envfile"; k="$2"; shift 2
  : > "$j/options"; while [ "$k" -gt 0 ]; do printf '%s\\n' "$1" >> "$j/options"; shift; k=$((k-1)); done
  k="$1"; shift
  : > "$j/command"; while [ "$k" -gt 0 ]; do printf '%s\\n' "$1" >> "$j/command"; shift; k=$((k-1)); done
  n=$((n+1))
done
printf '%s\\n' "$tick" > "$c/tick.new" && mv "$c/tick.new" "$c/tick" || exit 3
printf '%s\\n' "$runner" > "$c/run.new" && mv "$c/run.new" "$c/run" || exit 3
if [ "$n" -gt 0 ]; then
  command -v crontab >/dev/null 2>&1 || { echo "cron is not installed on this host (deploy.cron runs the jobs from it): apt-get install cron"; exit 5; }
  line="* * * * * sh $c/tick $d $app$mark"
  cur=$(crontab -l 2>/dev/null)
  case "$cur" in
    *"$line"*) ;;
    *) { [ -n "$cur" ] && printf '%s\\n' "$cur" | awk -v m="$mark" 'length($0) < length(m) || substr($0, length($0) - length(m) + 1) != m'; printf '%s\\n' "$line"; } | crontab - \\
         || { echo "could not write the crontab of $(id -un)"; exit 5; } ;;
  esac
fi
echo "jobs=$n"`;

/**
 * Part of FINISH_STEPS (src/deploy/commands.ts), with $d the state dir and $tag the tag written
 * ('' after a failure): on success the prepared definitions become the ones the tick reads
 * (a symlink swapped with mv -T), and with none left the app's crontab line goes; after a failure
 * they are dropped.
 */
export const CRON_SWAP = `if [ -d "$d/cron/next" ]; then
  if [ -n "$tag" ]; then
    cj="jobs.$(date +%s%N)"
    mv "$d/cron/next" "$d/cron/$cj" && ln -sfn "$cj" "$d/cron/jobs.new" && mv -T "$d/cron/jobs.new" "$d/cron/jobs" || exit 1
    for o in "$d"/cron/jobs.[0-9]*; do [ "$o" = "$d/cron/$cj" ] || rm -rf "$o"; done
    # No job left on this host: its crontab line goes now (the app is the state dir's name).
    if [ -z "$(ls -A "$d/cron/$cj")" ]; then
      mark=" # pallet-cron \${d##*/}"
${UNSCHEDULE_FN}
      unschedule
    fi
  else rm -rf "$d/cron/next"; fi
fi`;

/** One job as a host gets it: what to run (without the tag, read at run time) and when. */
export interface HostCronJob {
  name: string;
  /** As written in pallet.yml (kept on the host for `pallet cron status`). */
  schedule: string;
  when: ExpandedSchedule;
  timezone: string;
  /** The app's repository, without a tag. */
  image: string;
  /** The host's env file (deploy.env_file), passed if it exists when the job runs. */
  envFile?: string;
  /** docker run options, e.g. the /storage volume. */
  options: string[];
  command: string[];
}

/** prepareCronArgv's exit code when the host has no cron. */
export const PREPARE_NO_CRON = 5;

/**
 * The pull phase on one host: `jobs` become the host's next definitions (the tick reads them
 * once finish swaps them in), the tick and run scripts are written, and the crontab line is
 * there when jobs run here. With no jobs here now and none before, nothing is written. Output:
 * jobs=N. Exit PREPARE_NO_CRON: no crontab command on the host.
 */
export function prepareCronArgv(stateDirPath: string, app: string, jobs: HostCronJob[]): string[] {
  const args = jobs.flatMap((j) => [
    j.name, j.schedule,
    ...[j.when.minute, j.when.hour, j.when.dayOfMonth, j.when.month, j.when.dayOfWeek].map((v) => v.join(' ')),
    j.when.days, j.timezone, j.image, j.envFile ?? '',
    String(j.options.length), ...j.options, String(j.command.length), ...j.command,
  ]);
  return remoteScript('prepare-cron', PREPARE, stateDirPath, app, TICK, RUN, ...args);
}

// `pallet remove`: the app's crontab line (its state directory, with cron/, goes separately).
const REMOVE = `mark=" # pallet-cron $1"
${UNSCHEDULE_FN}
if crontab -l 2>/dev/null | grep -qF "$mark"; then unschedule && echo removed=1; else echo removed=0; fi`;

/** Removes `app`'s line from the deploy user's crontab (a missing line or crontab is fine); prints removed=0|1. */
export function unscheduleCronArgv(app: string): string[] {
  return remoteScript('unschedule-cron', REMOVE, app);
}

// `pallet cron status`: whether the crontab line is there, the live tag, then each job's files.
const STATUS = `d="$1"; app="$2"; s="$d/cron/state"
if crontab -l 2>/dev/null | grep -qF " # pallet-cron $app"; then echo scheduled=1; else echo scheduled=0; fi
echo "tag=$(cat "$d/TAG" 2>/dev/null)"
for jd in "$d"/cron/jobs/*; do
  [ -d "$jd" ] || continue; n="\${jd##*/}"; echo "job=$n"
  printf '%s.schedule=%s\\n' "$n" "$(cat "$jd/schedule" 2>/dev/null)"; printf '%s.zone=%s\\n' "$n" "$(sed -n 7p "$jd/when")"
  for f in last running; do [ -f "$s/$n/$f" ] && while IFS= read -r l; do printf '%s.%s.%s\\n' "$n" "$f" "$l"; done < "$s/$n/$f"; done
  [ -f "$s/$n/skipped" ] && printf '%s.skipped=%s\\n' "$n" "$(cat "$s/$n/skipped")"
  [ -f "$s/$n/output.log" ] && tail -n "$3" "$s/$n/output.log" | while IFS= read -r l; do printf '%s.output=%s\\n' "$n" "$l"; done
done
exit 0`;

/** Reads the cron state of `app` on a host (parse with parseCronStatus); `tail` output lines per job. */
export function cronStatusArgv(stateDirPath: string, app: string, tail = 5): string[] {
  return remoteScript('cron-status', STATUS, stateDirPath, app, String(tail));
}

/** One job on one host, as cronStatusArgv reads it. */
export interface HostJobState {
  name: string;
  /** The last finished run, when there was one. */
  last?: { start: string; end: string; tag: string; exit: number; ms: number };
  /** The run going on now (its start and tag). */
  running?: { start: string; tag: string };
  /** When a due run was last skipped because the previous one still ran. */
  skipped?: string;
  /** The last lines of the last run's output. */
  output: string[];
  /** The schedule and time zone the host runs it on (those of the last deploy). */
  schedule?: string;
  zone?: string;
}

/** A host's cron state: whether the crontab line is there, the live tag, the jobs. */
export interface HostCronState {
  scheduled: boolean;
  tag: string;
  jobs: HostJobState[];
}

/** Pure: cronStatusArgv's lines (`job=NAME`, `NAME.last.KEY=V`, `NAME.running.KEY=V`, `NAME.skipped=T`, `NAME.output=LINE`). */
export function parseCronStatus(stdout: string): HostCronState {
  const jobs = new Map<string, HostJobState>();
  const kv = new Map<string, Record<string, string>>();
  let scheduled = false;
  let tag = '';
  for (const line of stdout.split('\n')) {
    if (line === 'scheduled=1') scheduled = true;
    else if (line.startsWith('tag=')) tag = line.slice(4).trim();
    else if (line.startsWith('job=')) jobs.set(line.slice(4), { name: line.slice(4), output: [] });
    else {
      const m = /^([a-z][a-z0-9_-]*)\.(last\.|running\.)?(skipped|output|[a-z]+)=(.*)$/.exec(line);
      const job = m && jobs.get(m[1]);
      if (!m || !job) continue;
      if (m[2]) {
        const key = `${m[1]}.${m[2]}`;
        kv.set(key, { ...(kv.get(key) ?? {}), [m[3]]: m[4] });
      } else if (m[3] === 'skipped') job.skipped = m[4];
      else if (m[3] === 'output') job.output.push(m[4]);
      else if (m[3] === 'schedule' && m[4]) job.schedule = m[4];
      else if (m[3] === 'zone' && m[4]) job.zone = m[4];
    }
  }
  for (const job of jobs.values()) {
    const last = kv.get(`${job.name}.last.`);
    if (last) job.last = { start: last.start ?? '', end: last.end ?? '', tag: last.tag ?? '', exit: Number(last.exit ?? -1), ms: Number(last.ms ?? 0) };
    const running = kv.get(`${job.name}.running.`);
    if (running) job.running = { start: running.start ?? '', tag: running.tag ?? '' };
  }
  return { scheduled, tag, jobs: [...jobs.values()] };
}

const OUTPUT = `s="$1/cron/state/$2"; v() { sed -n "s/^$1=//p" "$2" 2>/dev/null; }
[ -f "$s/output.log" ] || [ -f "$s/running" ] || { echo "no run of $2 on this host yet"; exit 3; }
if [ -f "$s/output.log" ]; then
  echo "--- the last run: started $(v start "$s/last") ($(v tag "$s/last")), exit $(v exit "$s/last") after $(v ms "$s/last") ms ---"
  cat "$s/output.log"
fi
if [ -f "$s/running" ]; then echo "--- running since $(v start "$s/running") ($(v tag "$s/running")), its output so far ---"; tail -n 200 "$s/output.new" 2>/dev/null; fi
exit 0`;

/**
 * \`pallet logs --cron NAME\`: the output of the job's last run on a host (up to 200 lines), then
 * the output so far of a run going on, each after a line naming its start, release and exit code.
 */
export function cronOutputArgv(stateDirPath: string, job: string): string[] {
  return remoteScript('cron-output', OUTPUT, stateDirPath, job);
}
