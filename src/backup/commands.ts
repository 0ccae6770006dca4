// The remote commands of deploy.backup and `pallet db`: a PostgreSQL dump (pg_dump's custom
// format) of the app's database, taken in a one-off container of a PostgreSQL client image with
// the release's env files, streamed into the app's backups/ directory on the host, listed,
// restored (pg_restore in one transaction) and read back for a download.
//
// The database password never appears in an argv, local or remote: the container gets the app's
// env files (--env-file paths only), and CONNECT (below) turns the URL held in the variable named
// by deploy.backup.url_env into libpq's PG* environment variables before it execs the client.
import { remoteScript } from '../host/script.js';
import { stateDir } from '../deploy/commands.js';

/** Where the backups of `app` live on its host: `/var/lib/pallet/APP/backups` (mode 0700). */
export function backupDir(app: string): string {
  return `${stateDir(app)}/backups`;
}

/** A backup's id: `YYYYMMDDTHHMMSSZ-TAG`, the UTC time it was taken and the release it precedes. */
export const BACKUP_ID = /^[0-9]{8}T[0-9]{6}Z-[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;

/**
 * Pure: the id of a backup taken at `time` before release `tag` (see BACKUP_ID), or of one taken
 * by hand (`pallet db backup`): `YYYYMMDDTHHMMSSZ-manual`. Each kind keeps its own newest `keep`.
 */
export function backupId(time: Date, tag: string | 'manual'): string {
  return `${time.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')}-${tag}`;
}

/** Runs inside the client container (sh -c CONNECT NAME VAR CLIENT...): see the comment above. */
// Runs inside the client container: $1 names the variables that may hold the database URL, the
// first one set wins
// (postgres://USER:PASSWORD@HOST:PORT/DBNAME?PARAM=VALUE, percent-encoded as RFC 3986 and libpq's
// "Connection URIs" describe). awk reads it from the environment, decodes it and prints shell
// assignments quoted with '...', which the shell evals: values never reach an argv. $2 is the
// client to exec (pg_dump or pg_restore); the rest are its options.
export const CONNECT = `v="$1"; shift
set -e
eval "$(LC_ALL=C awk -v names="$v" '
function hexval(c) { return index("0123456789abcdef", tolower(c)) - 1 }
function dec(s,   out, i, c) {
  out = ""
  for (i = 1; i <= length(s); i++) {
    c = substr(s, i, 1)
    if (c == "%" && i + 2 <= length(s) && hexval(substr(s, i + 1, 1)) >= 0 && hexval(substr(s, i + 2, 1)) >= 0) {
      out = out sprintf("%c", hexval(substr(s, i + 1, 1)) * 16 + hexval(substr(s, i + 2, 1))); i += 2
    } else out = out c
  }
  return out
}
function q(s,   out, i, c) {
  out = ""
  for (i = 1; i <= length(s); i++) { c = substr(s, i, 1); out = out (c == "\\047" ? "\\047\\\\\\047\\047" : c) }
  return "\\047" out "\\047"
}
function put(k, val) { print "export " k "=" q(val) }
function fail(msg) { print "echo " q("pallet: " msg) " >&2; exit 2"; exit }
BEGIN {
  n = split(names, cand, " "); name = ""; u = ""
  for (i = 1; i <= n && u == ""; i++) { name = cand[i]; u = ENVIRON[name] }
  if (u == "") fail((n > 1 ? "none of " names " is" : names " is") " set in the app environment (deploy.env, deploy.env_file); deploy.backup.url_env names the variable that holds the database URL")
  if (u !~ /^postgres(ql)?:\\/\\//) fail(name " is not a postgres:// or postgresql:// URL")
  sub(/^postgres(ql)?:\\/\\//, "", u)
  p = index(u, "?"); qs = ""
  if (p) { qs = substr(u, p + 1); u = substr(u, 1, p - 1) }
  p = index(u, "/"); db = ""
  if (p) { db = substr(u, p + 1); u = substr(u, 1, p - 1) }
  at = 0
  for (i = length(u); i > 0; i--) if (substr(u, i, 1) == "@") { at = i; break }
  if (at) {
    ui = substr(u, 1, at - 1); u = substr(u, at + 1)
    c = index(ui, ":")
    if (c) { put("PGUSER", dec(substr(ui, 1, c - 1))); put("PGPASSWORD", dec(substr(ui, c + 1))) }
    else if (ui != "") put("PGUSER", dec(ui))
  }
  n = split(u, hp, ","); hosts = ""; ports = ""; anyport = 0
  for (i = 1; i <= n; i++) {
    h = hp[i]; port = ""
    if (substr(h, 1, 1) == "[") { e = index(h, "]"); rest = substr(h, e + 1); h = substr(h, 2, e - 2); if (substr(rest, 1, 1) == ":") port = substr(rest, 2) }
    else { c = index(h, ":"); if (c) { port = substr(h, c + 1); h = substr(h, 1, c - 1) } }
    if (port != "") anyport = 1
    hosts = hosts (i > 1 ? "," : "") dec(h); ports = ports (i > 1 ? "," : "") port
  }
  if (hosts != "") put("PGHOST", hosts)
  if (anyport) put("PGPORT", ports)
  if (db != "") put("PGDATABASE", dec(db))
  split("sslmode=PGSSLMODE sslrootcert=PGSSLROOTCERT sslcert=PGSSLCERT sslkey=PGSSLKEY connect_timeout=PGCONNECT_TIMEOUT application_name=PGAPPNAME options=PGOPTIONS target_session_attrs=PGTARGETSESSIONATTRS gssencmode=PGGSSENCMODE", known, " ")
  for (k in known) { split(known[k], kv, "="); envof[kv[1]] = kv[2] }
  timeout = 0
  n = split(qs, pairs, "&")
  for (i = 1; i <= n; i++) {
    if (pairs[i] == "") continue
    c = index(pairs[i], "="); k = c ? substr(pairs[i], 1, c - 1) : pairs[i]; val = c ? dec(substr(pairs[i], c + 1)) : ""
    if (k in envof) { put(envof[k], val); if (k == "connect_timeout") timeout = 1 }
    else print "echo " q("pallet: " name ": URL parameter " k " is not passed on to the client") " >&2"
  }
  if (!timeout) put("PGCONNECT_TIMEOUT", "10")
}')"
exec "$@"`;

// On the host: the dump of one release. $1 backups dir, $2 id, $3 keep, $4 meta text; the rest
// is the client container's `docker run` arguments (env files, image). The archive is written
// 0600 under a dot name and renamed once it is complete and starts with pg_dump's custom-format
// magic (PGDMP); then the oldest beyond `keep` go. Prints `BACKUP ID SIZE MS` (bytes, the dump's ms).
const BACKUP = `d="$1"; id="$2"; keep="$3"; meta="$4"; shift 4
case "$id" in *-manual) kind='-manual[.]dump$' ;; *) kind='[.]dump$' ;; esac
umask 077
mkdir -p "$d" && chmod 700 "$d" || exit 1
tmp="$d/.$id.partial"
trap 'rm -f "$tmp"' EXIT
t0=$(date +%s%N)
err=$(docker run --rm --log-driver none "$@" 2>&1 >"$tmp"); rc=$?
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
if [ $rc -ne 0 ]; then printf '%s\\n' "$err" >&2; exit 3; fi
size=$(wc -c <"$tmp" | tr -d ' ')
if [ "$(head -c 5 "$tmp")" != PGDMP ]; then echo "the dump is not a pg_dump custom-format archive ($size bytes): $err" >&2; exit 4; fi
printf '%s\\nsize=%s\\nms=%s\\n' "$meta" "$size" "$ms" >"$d/$id.meta" && mv "$tmp" "$d/$id.dump" || exit 1
trap - EXIT
[ -n "$err" ] && printf '%s\\n' "$err" >&2
ls -1 "$d" | grep -e "$kind" | { [ "$kind" = '[.]dump$' ] && grep -v -e '-manual[.]dump$' || cat; } | sort -r | tail -n +$((keep + 1)) | while read -r f; do
  rm -f "$d/$f" "$d/\${f%.dump}.meta" && echo "PRUNED \${f%.dump}"
done
echo "BACKUP $id $size $ms"`;

/** The client container's name for a dump or restore (`APP-db-backup`): one at a time per app. */
export function clientName(app: string, what: 'backup' | 'restore'): string {
  return `${app}-db-${what}`;
}

export interface ClientSpec {
  app: string;
  /** PostgreSQL client image (deploy.backup.image). */
  image: string;
  /** The variables that may hold the database URL, the first one set wins (deploy.backup.url_env). */
  urlEnv: string[];
  /** --env-file paths, in order (the release's, then the host's). */
  envFiles: string[];
}

function clientArgs(c: ClientSpec, what: 'backup' | 'restore', client: string[]): string[] {
  return [
    ...(what === 'restore' ? ['-i'] : []), '--name', clientName(c.app, what),
    '--label', `pallet.app=${c.app}`, '--label', `pallet.role=db-${what}`,
    ...c.envFiles.flatMap((f) => ['--env-file', f]),
    '--entrypoint', 'sh', c.image, '-c', CONNECT, `pallet-db-${what}`, c.urlEnv.join(' '), ...client,
  ];
}

/** pg_dump's options: custom format (compressed, restorable selectively with pg_restore), no prompt. */
export const PG_DUMP = ['pg_dump', '--format=custom', '--no-password'];

/**
 * Takes one backup on the host: `docker run` of the client image (on the default bridge, where
 * the release tasks reach the database too) with CONNECT, its stdout into `backups/ID.dump`, `meta` (KEY=VALUE
 * lines) into `ID.meta`, keeping the newest `keep`. Output: `BACKUP ID SIZE MS`; exit 3 = the client
 * failed (its stderr), 4 = not an archive.
 */
export function backupArgv(c: ClientSpec & { id: string; keep: number; meta: string }): string[] {
  return remoteScript('db-backup', BACKUP, backupDir(c.app), c.id, String(c.keep), c.meta, ...clientArgs(c, 'backup', PG_DUMP));
}

/**
 * Pure: `BACKUP ID SIZE MS` -> its size in bytes and the dump's duration in ms, and the ids of the
 * `PRUNED ID` lines (older backups of the same kind removed for keep). Throws when BACKUP is missing.
 */
export function parseBackup(stdout: string): { id: string; size: number; ms: number; pruned: string[] } {
  const m = /^BACKUP (\S+) (\d+) (\d+)$/m.exec(stdout);
  if (!m) throw new Error(`unexpected backup output: ${stdout.trim() || '(none)'}`);
  return { id: m[1], size: Number(m[2]), ms: Number(m[3]), pruned: [...stdout.matchAll(/^PRUNED (\S+)$/gm)].map((x) => x[1]) };
}

// One line per backup, newest first: `ID\tSIZE\tmeta KEY=VALUE pairs joined by tabs`.
const LIST = `d="$1"
[ -d "$d" ] || exit 0
ls -1 "$d" | grep '\\.dump$' | sort -r | while read -r f; do
  id="\${f%.dump}"
  printf '%s\\t%s' "$id" "$(wc -c <"$d/$f" | tr -d ' ')"
  [ -f "$d/$id.meta" ] && tr '\\n' '\\t' <"$d/$id.meta" | sed 's/\\t$//; s/^/\\t/'
  printf '\\n'
done`;

/** Lists the app's backups on a host (see parseBackups). */
export function listBackupsArgv(app: string): string[] {
  return remoteScript('db-backups', LIST, backupDir(app));
}

/** One backup as listed on its host. `meta` holds what deploy/db backup recorded (app, tag, previous, created, ms). */
export interface BackupEntry {
  id: string;
  /** Bytes of the archive. */
  size: number;
  meta: Record<string, string>;
}

/** Pure: listBackupsArgv's output -> entries, newest first. */
export function parseBackups(stdout: string): BackupEntry[] {
  return stdout.split('\n').filter((l) => l.trim()).map((l) => {
    const [id, size, ...rest] = l.split('\t');
    const meta: Record<string, string> = {};
    for (const kv of rest) {
      const i = kv.indexOf('=');
      if (i > 0) meta[kv.slice(0, i)] = kv.slice(i + 1);
    }
    return { id, size: Number(size), meta };
  });
}

/** Pure: the meta lines of a backup (KEY=VALUE, no tabs or newlines in values). */
export function backupMeta(fields: Record<string, string>): string {
  return Object.entries(fields).map(([k, v]) => `${k}=${v.replace(/[\t\r\n]+/g, ' ')}`).join('\n');
}

// On the host: a restore of backups/ID.dump. $1 dir, $2 id, $3 app; the rest: docker run args.
// Refuses an archive whose meta names another app. pg_restore runs in one transaction, so a
// failure leaves the database as it was.
const RESTORE = `d="$1"; id="$2"; app="$3"; shift 3
f="$d/$id.dump"
if [ ! -f "$f" ]; then
  other=$(ls -d "$d"/../../*/backups/"$id.dump" 2>/dev/null | head -n 1)
  if [ -n "$other" ]; then echo "OTHER-APP $(basename "$(dirname "$(dirname "$other")")")"; exit 5; fi
  echo "NO-BACKUP"; exit 6
fi
owner=$(sed -n 's/^app=//p' "$d/$id.meta" 2>/dev/null)
if [ -n "$owner" ] && [ "$owner" != "$app" ]; then echo "OTHER-APP $owner"; exit 5; fi
docker run --rm --log-driver none "$@" <"$f" || exit 3
echo RESTORED`;

/** pg_restore's options: drop and recreate what the archive holds, all or nothing, objects owned by the connecting user. */
export const PG_RESTORE = ['pg_restore', '--clean', '--if-exists', '--no-owner', '--no-privileges', '--single-transaction', '--exit-on-error', '--no-password', '--dbname=postgres:///'];

/**
 * Restores backups/ID.dump into the app's database. Exit 5 with `OTHER-APP NAME` (a backup of
 * another app), 6 with NO-BACKUP, 3 when pg_restore failed (nothing changed: one transaction).
 */
export function restoreArgv(c: ClientSpec & { id: string }): string[] {
  return remoteScript('db-restore', RESTORE, backupDir(c.app), c.id, c.app, ...clientArgs(c, 'restore', PG_RESTORE));
}

// A backup's bytes on stdout (the download); exit 6 when there is none.
const READ = `f="$1/$2.dump"
[ -f "$f" ] || { echo "no backup $2" >&2; exit 6; }
exec cat "$f"`;

/** Writes backups/ID.dump to stdout. */
export function readBackupArgv(app: string, id: string): string[] {
  return remoteScript('db-read', READ, backupDir(app), id);
}
