// Pure: every command a deploy runs on a host, as an argument vector. Small shell scripts are
// constants run as `sh -c SCRIPT sh ARG...`, so data (tags, names, owner text) only ever
// travels as positional arguments and is never spliced into shell code.
import { CRON_SWAP } from '../cron/commands.js';
import { remoteScript } from '../host/script.js';

export const STATE_ROOT = '/var/lib/pallet';

export function stateDir(app: string): string {
  return `${STATE_ROOT}/${app}`;
}

export function containerName(app: string, role: string): string {
  return `${app}-${role}`;
}

export function imageRef(image: string, tag: string): string {
  return `${image}:${tag}`;
}


export function dockerVersionArgv(): string[] {
  return ['docker', 'version', '--format', '{{.Server.Version}}'];
}

// --- state: TAG, REVERT, lock --------------------------------------------------------------

const READ_STATE_STEPS = `printf 'tag=%s\\n' "$(cat "$d/TAG" 2>/dev/null)"
printf 'revert=%s\\n' "$(cat "$d/REVERT" 2>/dev/null)"
printf 'env=%s\\n' "$(cd "$d/env" 2>/dev/null && for f in *.env; do [ -f "$f" ] && printf '%s ' "\${f%.env}"; done)"`;
const READ_STATE = `d="$1"
${READ_STATE_STEPS}`;

export function readStateArgv(app: string): string[] {
  return remoteScript('read-state', READ_STATE, stateDir(app));
}

export interface HostState {
  tag: string;
  revert: string;
  /** Release tags with a deploy.env file on the host (env/TAG.env); omitted when there are none. */
  envTags?: string[];
}

export function parseState(stdout: string): HostState {
  const get = (k: string) => (new RegExp(`^${k}=(.*)$`, 'm').exec(stdout)?.[1] ?? '').trim();
  const envTags = get('env').split(/\s+/).filter(Boolean);
  return { tag: get('tag'), revert: get('revert'), ...(envTags.length ? { envTags } : {}) };
}

// mkdir is atomic: exactly one deploy creates lock/. The token proves ownership on release.
// A lock marked "retiring" belongs to the previous deploy's retire (see retireLaterArgv): wait for
// it (at most $5 seconds); if its process is gone (host rebooted), its lock is stale and removed.
const ACQUIRE_LOCK = `d="$1"; tok="$2"; owner="$3"; brk="$4"; wait="\${5:-0}"
mkdir -p "$d/storage" || exit 3
if [ -f "$d/lock/retiring" ]; then
  held=$(cat "$d/lock/token" 2>/dev/null); i=0
  while [ -d "$d/lock" ] && [ "$i" -lt $((wait * 10)) ]; do
    p=$(cat "$d/lock/retire-pid" 2>/dev/null)
    if [ -n "$p" ] && [ ! -d "/proc/$p" ]; then
      [ "$(cat "$d/lock/token" 2>/dev/null)" = "$held" ] && rm -rf "$d/lock" && echo "RETIRE-GONE $p"
      break
    fi
    i=$((i+1)); sleep 0.1
  done
  [ "$i" -gt 0 ] && echo "WAITED $((i / 10)).$((i % 10))"
fi
if [ "$brk" = 1 ] && [ -d "$d/lock" ]; then
  printf 'BROKE %s\\n' "$(cat "$d/lock/owner" 2>/dev/null)"; rm -rf "$d/lock"
fi
if mkdir "$d/lock" 2>/dev/null; then
  printf '%s\\n' "$tok" > "$d/lock/token" && printf '%s\\n' "$owner" > "$d/lock/owner" || exit 3
  echo ACQUIRED
${READ_STATE_STEPS}
  exit 0
fi
r=""; [ -f "$d/lock/retiring" ] && r=" (stopping its previous containers)"
printf 'HELD %s%s\\n' "$(cat "$d/lock/owner" 2>/dev/null)" "$r"
exit 1`;

/**
 * Takes the app's deploy lock (stdout ACQUIRED, then the state as readStateArgv prints it, exit 0;
 * HELD OWNER, exit 1). `retireWait`:
 * seconds to wait for a retire the previous deploy left running (see retireLaterArgv), which
 * then prints "WAITED S.S", or "RETIRE-GONE PID" when its process had died.
 */
export function acquireLockArgv(app: string, token: string, owner: string, breakStale: boolean, retireWait = 0): string[] {
  return remoteScript('acquire-lock', ACQUIRE_LOCK, stateDir(app), token, owner, breakStale ? '1' : '0', String(retireWait));
}

export type LockAttempt = { acquired: true; broke?: string } | { acquired: false; holder: string };

export function parseLockAttempt(exitCode: number, stdout: string): LockAttempt {
  const broke = /^BROKE (.*)$/m.exec(stdout)?.[1];
  if (exitCode === 0 && /^ACQUIRED$/m.test(stdout)) return broke === undefined ? { acquired: true } : { acquired: true, broke };
  const held = /^HELD (.*)$/m.exec(stdout);
  if (exitCode === 1 && held) return { acquired: false, holder: held[1].trim() || 'an unknown owner' };
  throw new Error(`could not take the deploy lock (exit ${exitCode}): ${stdout.trim() || 'no output'}`);
}

// Only the holder of the token removes the lock; releasing twice, or someone else's lock, is a no-op.
const RELEASE_LOCK = `d="$1"; tok="$2"
[ -d "$d/lock" ] || exit 0
if [ "$(cat "$d/lock/token" 2>/dev/null)" = "$tok" ]; then rm -rf "$d/lock"; fi`;

export function releaseLockArgv(app: string, token: string): string[] {
  return remoteScript('release-lock', RELEASE_LOCK, stateDir(app), token);
}

/** Owner line written into the lock: who holds it since when (shown to a waiting deploy). */
export function lockOwner(runId: string, actor: string, since: Date): string {
  return `run ${runId} by ${actor} since ${since.toISOString()}`;
}

// The tag running before this deploy becomes REVERT (unless we redeploy the same tag).
const RECORD_REVERT = `d="$1"; new="$2"; cur="$(cat "$d/TAG" 2>/dev/null)"
if [ -n "$cur" ] && [ "$cur" != "$new" ]; then printf '%s\\n' "$cur" > "$d/REVERT.tmp" && mv "$d/REVERT.tmp" "$d/REVERT"; fi`;

export function recordRevertArgv(app: string, newTag: string): string[] {
  return remoteScript('record-revert', RECORD_REVERT, stateDir(app), newTag);
}

/**
 * Finish: TAG ('' = leave), REVERT ('' = leave, '-' = remove, else write), deploy.cron's prepared
 * jobs swapped in with a new TAG or dropped without one (CRON_SWAP), audit line appended.
 */
export const FINISH_STEPS = `if [ -n "$tag" ]; then printf '%s\\n' "$tag" > "$d/TAG.tmp" && mv "$d/TAG.tmp" "$d/TAG" || exit 1; fi
if [ "$rev" = "-" ]; then rm -f "$d/REVERT"; elif [ -n "$rev" ]; then printf '%s\\n' "$rev" > "$d/REVERT"; fi
${CRON_SWAP}
printf '%s\\n' "$line" >> "$d/audit.log" || exit 1`;
const FINISH = `d="$1"; tag="$2"; rev="$3"; line="$4"
${FINISH_STEPS}`;

/** What finish writes on one host: TAG ('' = leave), REVERT ('' = leave, '-' = remove), the audit line. */
export interface FinishFields {
  tag: string;
  revert: string;
  auditLine: string;
}

export function finishArgv(app: string, tag: string, revert: string, auditLine: string): string[] {
  return remoteScript('finish', FINISH, stateDir(app), tag, revert, auditLine);
}

export interface AuditEntry {
  time: Date;
  actor: string;
  app: string;
  command: 'deploy' | 'rollback';
  from: string;
  to: string;
  result: string;
  runId: string;
}

/** One tab-separated line, no secrets: time, actor, app, command, from->to, result, run. */
export function auditLine(e: AuditEntry): string {
  return auditRecord({ ...e, what: `${e.from || '(none)'}->${e.to}` });
}

/** An audit entry of a day-2 operation: `what` takes the from->to column (e.g. `web@build-7 $ manage.py check`). */
export interface OpsAuditEntry {
  time: Date;
  actor: string;
  app: string;
  command: 'exec' | 'lock-release';
  what: string;
  result: string;
  runId: string;
}

/** The audit.log line format shared by deploys and day-2 operations (tabs and newlines in values become spaces). */
export function auditRecord(e: Omit<OpsAuditEntry, 'command'> & { command: string }): string {
  const clean = (s: string) => s.replace(/[\t\r\n]+/g, ' ');
  return [e.time.toISOString(), e.actor, e.app, e.command, e.what, e.result, `run=${e.runId}`].map(clean).join('\t');
}

const APPEND_AUDIT = `d="$1"; line="$2"
mkdir -p "$d" && printf '%s\\n' "$line" >> "$d/audit.log"`;

/** Appends one line to the app's audit.log on a host (the line travels as an argument). */
export function appendAuditArgv(app: string, line: string): string[] {
  return remoteScript('append-audit', APPEND_AUDIT, stateDir(app), line);
}

// --- images ----------------------------------------------------------------------------

// With a per-deploy DOCKER_CONFIG (see host-commands.ts) login and pull use only that directory.
const withConfig = (dir: string | undefined, argv: string[]) => (dir ? ['env', `DOCKER_CONFIG=${dir}`, ...argv] : argv);

export function loginArgv(registry: string, username: string, dockerConfig?: string): string[] {
  return withConfig(dockerConfig, ['docker', 'login', '-u', username, '--password-stdin', registry]);
}

export function pullArgv(ref: string, dockerConfig?: string): string[] {
  return withConfig(dockerConfig, ['docker', 'pull', ref]);
}

// The release's tag is made to name exactly the digest on this host: a tag re-pushed to the
// registry after the deploy resolved it changes nothing here. DOCKER_CONFIG ($4) when logging in.
const PULL_DIGEST = `[ -z "$4" ] || export DOCKER_CONFIG="$4"
docker pull "$1@$2" && docker tag "$1@$2" "$1:$3"`;

/** Pulls `image@digest` and tags it `image:tag` on the host (docker pull's output on stdout). */
export function pullDigestArgv(image: string, digest: string, tag: string, dockerConfig?: string): string[] {
  return remoteScript('pull-digest', PULL_DIGEST, image, digest, tag, dockerConfig ?? '');
}

/** The image's repository digests as JSON (`["repo@sha256:..."]`); exit 1 when the host lacks the image. */
export function imageDigestsArgv(ref: string): string[] {
  return ['docker', 'image', 'inspect', '--format', '{{json .RepoDigests}}', ref];
}

/** Pure: the digest of `image` among imageDigestsArgv's output ('' when the image was never pulled by or pushed with one). */
export function digestOf(repoDigestsJson: string, image: string): string {
  try {
    const list = JSON.parse(repoDigestsJson.trim() || '[]') as unknown;
    const hit = Array.isArray(list) ? list.find((d): d is string => typeof d === 'string' && d.startsWith(`${image}@`)) : undefined;
    return hit ? hit.slice(image.length + 1) : '';
  } catch {
    return '';
  }
}

// What a host runs for the app: its TAG and that image's repository digests (one line each).
const LIVE_RELEASE = `tag=$(cat "$1/TAG" 2>/dev/null)
echo "tag=$tag"
[ -z "$tag" ] || docker image inspect --format 'digests={{json .RepoDigests}}' "$2:$tag" 2>/dev/null || true`;

/** The release a host runs: `tag=T` and `digests=[...]` lines (parseLiveRelease). */
export function liveReleaseArgv(app: string, image: string): string[] {
  return remoteScript('live-release', LIVE_RELEASE, stateDir(app), image);
}

/** Pure: liveReleaseArgv's output -> the tag ('' when the app is not deployed there) and its digest ('' when unknown). */
export function parseLiveRelease(stdout: string, image: string): { tag: string; digest: string } {
  const tag = /^tag=(.*)$/m.exec(stdout)?.[1]?.trim() ?? '';
  const digests = /^digests=(.*)$/m.exec(stdout)?.[1] ?? '';
  return { tag, digest: digests ? digestOf(digests, image) : '' };
}

/** `tag@sha256:...` as the audit log and reports write a release ('tag' alone when the digest is unknown). */
export function releaseRef(tag: string, digest?: string): string {
  return digest ? `${tag}@${digest}` : tag;
}

export function imageInspectArgv(ref: string): string[] {
  return ['docker', 'image', 'inspect', '--format', '{{.Id}}', ref];
}

export function listTagsArgv(image: string): string[] {
  return ['docker', 'image', 'ls', '--format', '{{.Tag}}\t{{.CreatedAt}}', image];
}

/**
 * Pure: tags to remove so that `keep` remain (newest first), never the protected ones (which
 * count towards `keep`) nor those in `others` (another app's TAG or REVERT: not counted, not removed).
 */
export function tagsToPrune(listing: string, keep: number, protect: string[], others: string[] = []): string[] {
  const rows = listing.split('\n').map((l) => l.split('\t')).filter((r) => r[0] && r[0] !== '<none>')
    .map(([tag, created]) => ({ tag, t: parseDockerTime(created ?? '') }));
  rows.sort((a, b) => b.t - a.t);
  const kept = new Set(protect.filter(Boolean));
  const out: string[] = [];
  const theirs = new Set(others);
  for (const r of rows) {
    if (kept.has(r.tag) || theirs.has(r.tag)) continue;
    if (kept.size < Math.max(keep, protect.filter(Boolean).length)) kept.add(r.tag);
    else out.push(r.tag);
  }
  return out;
}

/** docker's `2026-11-22 03:58:59 +0000 UTC` -> epoch ms (0 if unreadable). */
export function parseDockerTime(s: string): number {
  const m = /^(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d) ([+-]\d\d)(\d\d)/.exec(s.trim());
  return m ? Date.parse(`${m[1]}T${m[2]}${m[3]}:${m[4]}`) || 0 : 0;
}

/**
 * Shell lines printing every tag another app's TAG or REVERT names on the host, one per line (with
 * blank lines); they read $root (the state root) and $app (this app). Another app may deploy the same
 * repository (another environment on the host): its running and rollback releases are not ours to prune.
 */
export const OTHER_APPS_TAGS = `for d in "$root"/*/; do [ "$(basename "$d")" = "$app" ] || cat "$d/TAG" "$d/REVERT" 2>/dev/null; echo; done`;

/** Lists the tags other apps' TAG and REVERT name on the host (see OTHER_APPS_TAGS). */
export function otherAppsTagsArgv(app: string): string[] {
  return remoteScript('other-apps-tags', `root="$1"; app="$2"\n${OTHER_APPS_TAGS}`, STATE_ROOT, app);
}

export function removeImagesArgv(image: string, tags: string[]): string[] {
  return ['docker', 'image', 'rm', ...tags.map((t) => imageRef(image, t))];
}

// --- containers --------------------------------------------------------------------------

export interface ContainerSpec {
  app: string;
  role: string;
  tag: string;
  image: string;
  command: string[];
  /** The host's own env file (deploy.env_file); given after releaseEnvFile, so it wins. */
  envFile?: string;
  /** The release's env file written from deploy.env (env-file.ts). */
  releaseEnvFile?: string;
  /** Container port published as hostPort (web roles). */
  port?: number;
  hostPort?: number;
  /** Recorded on the container (`--stop-signal`, `--stop-timeout`) so a manual `docker stop` matches the deploy's. */
  stopSignal?: string;
  stopTimeout?: number;
  /**
   * Container name (default APP-ROLE); behind the proxy each start gets its own, also kept as the
   * label `pallet.name` (its identity while it holds the role's live name, see liveName).
   */
  name?: string;
  /** Network to attach (the proxy's), instead of the default bridge. */
  network?: string;
}

/** `--env-file` flags: the release's file first, then the host's (docker lets later files win). */
export function envFileArgs(c: { envFile?: string; releaseEnvFile?: string }): string[] {
  return [...(c.releaseEnvFile ? ['--env-file', c.releaseEnvFile] : []), ...(c.envFile ? ['--env-file', c.envFile] : [])];
}

export function runContainerArgv(c: ContainerSpec): string[] {
  const argv = ['docker', 'run', '-d', '--restart', 'unless-stopped', '--name', c.name ?? containerName(c.app, c.role)];
  if (c.network) argv.push('--network', c.network);
  argv.push(...envFileArgs(c));
  if (c.port) argv.push('-p', `${c.hostPort ?? c.port}:${c.port}`);
  if (c.stopSignal) argv.push('--stop-signal', c.stopSignal);
  if (c.stopTimeout !== undefined) argv.push('--stop-timeout', String(c.stopTimeout));
  argv.push(
    '--label', `pallet.app=${c.app}`, '--label', `pallet.role=${c.role}`, '--label', `pallet.tag=${c.tag}`,
    ...(c.name ? ['--label', `pallet.name=${c.name}`] : []),
    '-v', `${stateDir(c.app)}/storage:/storage`,
    imageRef(c.image, c.tag), ...c.command,
  );
  return argv;
}

// Graceful: the role's stop signal, then SIGKILL after the timeout (printing KILLED); a missing
// container is fine (first deploy). Not `docker stop --signal` (Docker 23+ only) and not the
// container's own stop signal (the one running may predate a stop_signal change): the restart
// policy is lifted first so the signalled container is not restarted by the engine.
const STOP_REMOVE = `n="$1"; t="$2"; sig="$3"
docker container inspect "$n" >/dev/null 2>&1 || exit 0
if [ "$(docker inspect --format '{{.State.Running}}' "$n")" = true ]; then
  docker update --restart no "$n" >/dev/null || exit 1
  docker kill --signal "$sig" "$n" >/dev/null 2>&1
  if [ "$t" -gt 0 ] && timeout "$t" docker wait "$n" >/dev/null 2>&1; then :
  elif [ "$(docker inspect --format '{{.State.Running}}' "$n" 2>/dev/null)" = true ]; then
    docker kill "$n" >/dev/null 2>&1; echo KILLED
  fi
fi
docker rm -f "$n" >/dev/null`;

/** Stops the role's container with `signal` (e.g. SIGTERM), SIGKILL after `stopTimeout` seconds; stdout holds KILLED then. */
export function stopRemoveArgv(app: string, role: string, stopTimeout: number, signal: string): string[] {
  return remoteScript('stop-remove', STOP_REMOVE, containerName(app, role), String(stopTimeout), signal);
}

/** Pure: whether the stop command had to kill the container after the timeout. */
export function wasKilled(stdout: string): boolean {
  return /^KILLED$/m.test(stdout);
}

/**
 * A one-off container of the app's image: release tasks (kind `task`) and `pallet exec` (kind
 * `exec`, `tty` for an interactive terminal). Same env file and volumes as the roles; removed
 * when it exits; its exit code is docker run's.
 */
export function taskArgv(c: { app: string; image: string; tag: string; envFile?: string; releaseEnvFile?: string; command: string[]; name: string; kind?: 'task' | 'exec'; tty?: boolean; network?: string }): string[] {
  const argv = ['docker', 'run', '--rm', ...(c.tty ? ['-i', '-t'] : []), '--name', c.name, ...envFileArgs(c)];
  if (c.network) argv.push('--network', c.network);
  argv.push('--label', `pallet.app=${c.app}`, '--label', `pallet.role=${c.kind ?? 'task'}`);
  if (c.kind === 'exec') argv.push('--label', `pallet.tag=${c.tag}`);
  argv.push('-v', `${stateDir(c.app)}/storage:/storage`, imageRef(c.image, c.tag), ...c.command);
  return argv;
}

// Background roles: running, and the restart count unchanged after `stable` seconds.
const STABLE = `n="$1"; s="$2"
a=$(docker inspect --format '{{.State.Running}} {{.RestartCount}}' "$n") || exit 1
sleep "$s"
b=$(docker inspect --format '{{.State.Running}} {{.RestartCount}}' "$n") || exit 1
case "$a" in true*) ;; *) echo "container $n is not running ($a)"; exit 1;; esac
[ "$a" = "$b" ] || { echo "container $n was not stable over \${s}s: $a -> $b"; exit 1; }
echo "stable: $b"`;

export function stableArgv(app: string, role: string, stable: number): string[] {
  return remoteScript('stable', STABLE, containerName(app, role), String(stable));
}

// Web roles on a published port: before the old container is stopped, the new version runs
// once as an unpublished candidate (a leftover of a crashed deploy is replaced) and must pass
// its health check on its bridge address (health.ts). A version that fails never gets the
// published port, so the load balancer never sends users to it.
const START_CANDIDATE = `n="$1"; shift
docker rm -f "$n" >/dev/null 2>&1
docker run -d --name "$n" "$@" >/dev/null`;

/** Name of a role's candidate container (published-port mode). */
export function candidateName(app: string, role: string): string {
  return `${containerName(app, role)}-candidate`;
}

/** Starts the candidate of `c` (no published port, no restart policy); remove it with removeContainerArgv. */
export function startCandidateArgv(c: ContainerSpec): string[] {
  const args: string[] = envFileArgs(c);
  args.push(
    '--label', `pallet.app=${c.app}`, '--label', `pallet.role=${c.role}-candidate`, '--label', `pallet.tag=${c.tag}`,
    '-v', `${stateDir(c.app)}/storage:/storage`, imageRef(c.image, c.tag), ...c.command,
  );
  return remoteScript('start-candidate', START_CANDIDATE, candidateName(c.app, c.role), ...args);
}

/** Removes one container by name, whatever its state; a missing one is fine. */
export function removeContainerArgv(name: string): string[] {
  return remoteScript('remove-container', 'docker rm -f "$1" >/dev/null 2>&1; exit 0', name);
}
