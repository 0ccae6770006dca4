// Pure: the remote commands of review apps, each one concern, data only as positional arguments,
// output as key=value lines. A review app's record is the file `review` in its state directory
// (/var/lib/pallet/APP-pr-N/review): `of=APP number= host= tag= created= activity= owned=`, times in
// epoch seconds of the host's clock. The orchestration is in src/review/deploy.ts and destroy.ts.
import { remoteScript } from '../host/script.js';
import { OTHER_APPS_TAGS, STATE_ROOT, stateDir } from '../deploy/commands.js';
import { REVIEW_LABEL, type ReviewApp } from './plan.js';

/** The record file of review app `app` on its host. */
export function reviewRecordPath(app: string): string {
  return `${stateDir(app)}/review`;
}

/** Where the generated passwords of a review app's services are kept on its host (0600, `NAME=PASSWORD` lines). */
export function reviewCredentialsPath(app: string): string {
  return `${stateDir(app)}/services/credentials`;
}

/** The env file of one service container of a review app (0600). */
export function serviceEnvPath(app: string, service: string): string {
  return `${stateDir(app)}/services/${service}.env`;
}

// Every review app of $2 on this host: `now=EPOCH`, then per app `app=NAME` and its record's lines,
// closed by `end`. A state directory without a record (not a review app) is not listed.
const LIST = `root="$1"; of="$2"
echo "now=$(date +%s)"
for f in "$root"/*/review; do
  [ -f "$f" ] || continue
  grep -qxF "of=$of" "$f" || continue
  d=\${f%/review}; echo "app=\${d##*/}"
  cat "$f"; echo end
done
exit 0`;

/** Lists the review apps of `app` on the host (see parseReviewList). */
export function reviewListArgv(app: string): string[] {
  return remoteScript('review-list', LIST, STATE_ROOT, app);
}

/** Pure: reviewListArgv's output on host `on`: the host's clock and its review apps. */
export function parseReviewList(stdout: string, on: string): { now: number; apps: ReviewApp[] } {
  const now = Number(/^now=(\d+)$/m.exec(stdout)?.[1] ?? 0);
  const apps: ReviewApp[] = [];
  let cur: Record<string, string> | undefined;
  for (const line of stdout.split('\n')) {
    const m = /^([a-z]+)=(.*)$/.exec(line.trim());
    if (line.trim() === 'end' && cur) {
      apps.push({
        app: cur.app, number: Number(cur.number), host: cur.host ?? '', on, tag: cur.tag ?? '',
        created: Number(cur.created ?? 0), activity: Number(cur.activity ?? cur.created ?? 0), owned: (cur.owned ?? '').split(' ').filter(Boolean),
      });
      cur = undefined;
    } else if (m && m[1] === 'app') cur = { app: m[2] };
    else if (m && cur) cur[m[1]] = m[2];
  }
  return { now, apps: apps.filter((a) => a.app && Number.isInteger(a.number) && a.number > 0) };
}

// Writes the record: $1 dir, $2 of, $3 number, $4 host name, $5 tag ('' keeps the recorded one),
// $6 owned tags (space-separated, replaces the recorded list). created stays; activity is now.
const MARK = `d="$1"; of="$2"; n="$3"; name="$4"; tag="$5"; owned="$6"
mkdir -p "$d" || exit 1
f="$d/review"; now=$(date +%s)
created=$(sed -n 's/^created=//p' "$f" 2>/dev/null); [ -n "$created" ] || created=$now
[ -n "$tag" ] || tag=$(sed -n 's/^tag=//p' "$f" 2>/dev/null)
printf 'of=%s\\nnumber=%s\\nhost=%s\\ntag=%s\\ncreated=%s\\nactivity=%s\\nowned=%s\\n' "$of" "$n" "$name" "$tag" "$created" "$now" "$owned" > "$f.tmp" && mv "$f.tmp" "$f"`;

/** Records review app `app` (of `of`, pull request `number`, at `hostName`): its tag and owned tags, activity now. */
export function markReviewArgv(app: string, of: string, number: number, hostName: string, tag: string, owned: string[]): string[] {
  return remoteScript('review-mark', MARK, stateDir(app), of, String(number), hostName, tag, owned.join(' '));
}

// A file only its owner reads, its content on stdin (never an argv): $1 the file. Replaced whole.
const WRITE_PRIVATE = `f="$1"
umask 077; mkdir -p "\${f%/*}" || exit 1
cat > "$f.tmp" && chmod 600 "$f.tmp" && mv "$f.tmp" "$f"`;

/** Writes `file` with mode 0600 (its directory 0700 when made) from stdin. */
export function writePrivateFileArgv(file: string): string[] {
  return remoteScript('write-private-file', WRITE_PRIVATE, file);
}

// Prints the file when there is one (nothing otherwise).
const READ_PRIVATE = `[ -f "$1" ] && cat "$1"; exit 0`;

/** Prints `file` if it exists (the credentials file: its values are masked as soon as they are read). */
export function readPrivateFileArgv(file: string): string[] {
  return remoteScript('read-private-file', READ_PRIVATE, file);
}

/** Pure: `NAME=VALUE` lines -> a map (comments and blank lines skipped). */
export function parseKeyValues(stdout: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of stdout.split('\n')) {
    const i = line.indexOf('=');
    if (i > 0 && !line.startsWith('#')) out[line.slice(0, i).trim()] = line.slice(i + 1).trim();
  }
  return out;
}

// The review app's network ($1, labelled as the proxy's ensure-proxy labels an app network), made
// once before its services start side by side.
const NETWORK = `docker network inspect "$1" >/dev/null 2>&1 || docker network create --label "pallet.app-network=$2" "$1" >/dev/null`;

/** Makes the network `network` of app `app` when missing. */
export function ensureNetworkArgv(network: string, app: string): string[] {
  return remoteScript('ensure-network', NETWORK, network, app);
}

// One service of a review app: $1 container, $2 image, $3 network (ensureNetworkArgv made it), $4
// alias, $5 env file, $6 the review app, $7 seconds to be ready, then the readiness command (run
// inside the container). A running container of the same image is kept (its data with it);
// a stopped one is started; one of another image is replaced, its volumes with it. Prints
// state=kept|started|created|replaced; exit 4: could not start, 5: not ready in time (its last log lines).
const SERVICE_UP = `name="$1"; img="$2"; net="$3"; alias="$4"; envf="$5"; review="$6"; t="$7"; shift 7
cur=$(docker inspect --format '{{.Config.Image}} {{.State.Running}}' "$name" 2>/dev/null)
case "$cur" in
  "$img true") state=kept ;;
  "$img false") docker start "$name" >/dev/null || exit 4; state=started ;;
  *)
    state=created
    if [ -n "$cur" ]; then docker rm -f -v "$name" >/dev/null || exit 4; state=replaced; fi
    out=$(docker run -d --name "$name" --network "$net" --network-alias "$alias" --label "${REVIEW_LABEL}=$review" --label "pallet.service=$alias" \\
      --env-file "$envf" --restart unless-stopped "$img" 2>&1) || { docker rm -f -v "$name" >/dev/null 2>&1; echo "$out" | tail -n 2; exit 4; } ;;
esac
echo "state=$state"
i=0
until said=$(docker exec "$name" "$@" 2>&1); do
  i=$((i + 1))
  if [ "$i" -ge $((t * 2)) ]; then
    said=$(printf '%s' "$said" | tail -n 2 | tr '\\n' ' '); [ -n "$said" ] || said=nothing
    echo "not ready after \${t}s; its check ($*) said: $said; its last log lines: $(docker logs --tail 3 "$name" 2>&1 | tr '\\n' ' ')"; exit 5
  fi
  if [ "$(docker inspect --format '{{.State.Running}}' "$name" 2>/dev/null)" != true ]; then echo "it exited; its last log lines: $(docker logs --tail 5 "$name" 2>&1 | tr '\\n' ' ')"; exit 5; fi
  sleep 0.5
done
echo ready`;

/** Starts (or keeps) one review service and waits, at most `readySeconds`, until `probe` passes in it. */
export function serviceUpArgv(s: { container: string; image: string; network: string; alias: string; envFile: string; review: string; readySeconds: number; probe: string[] }): string[] {
  return remoteScript('review-service-up', SERVICE_UP, s.container, s.image, s.network, s.alias, s.envFile, s.review, String(s.readySeconds), ...s.probe);
}

// Every service container of review app $1 with its volumes. Prints removed=N; exit 1 with left=N.
const SERVICES_DOWN = `review="$1"
ids=$(docker ps -aq --filter "label=${REVIEW_LABEL}=$review")
n=$(printf '%s\\n' $ids | grep -c .)
[ "$n" -gt 0 ] && docker rm -f -v $ids >/dev/null 2>&1
left=$(docker ps -aq --filter "label=${REVIEW_LABEL}=$review" | grep -c .)
echo "removed=$((n - left))"
[ "$left" -eq 0 ] || { echo "left=$left"; exit 1; }`;

/** Removes the service containers of review app `app` and their volumes (the data is the review app's alone). */
export function servicesDownArgv(app: string): string[] {
  return remoteScript('review-services-down', SERVICES_DOWN, app);
}

// The tags $4.. of repository $1 that the review app $3 owns: each one no container uses and no
// other app's TAG or REVERT names is removed. Prints removed=N kept=N.
const REMOVE_OWNED = `repo="$1"; root="$2"; app="$3"; shift 3
named=$(${OTHER_APPS_TAGS})
removed=0; kept=0
for tag in "$@"; do
  docker image inspect "$repo:$tag" >/dev/null 2>&1 || continue
  if printf '%s\\n' "$named" | grep -qxF -- "$tag"; then kept=$((kept + 1)); continue; fi
  if docker image rm "$repo:$tag" >/dev/null 2>&1; then removed=$((removed + 1)); else kept=$((kept + 1)); fi
done
echo "removed=$removed"; echo "kept=$kept"`;

/** Removes the tags of `repo` that review app `app` owns, but those still in use (see REMOVE_OWNED). */
export function removeOwnedImagesArgv(repo: string, app: string, tags: string[]): string[] {
  return remoteScript('review-remove-images', REMOVE_OWNED, repo, STATE_ROOT, app, ...tags);
}

/** `docker image inspect` of `ref`, quiet: exit 0 when the host has the image. */
export function hasImageArgv(ref: string): string[] {
  return ['docker', 'image', 'inspect', '--format', '{{.Id}}', ref];
}

/**
 * The host's list of service images the review apps of `app` pulled (absent before): a dot file
 * beside the apps' state directories (never taken for an app's). They go when the last review app
 * of `app` on the host does.
 */
export function pulledImagesPath(app: string): string {
  return `${STATE_ROOT}/.review-${app}-images`;
}

// Adds $2 to the list $1 (once).
const RECORD_PULLED = `f="$1"; ref="$2"
grep -qxF -- "$ref" "$f" 2>/dev/null || printf '%s\\n' "$ref" >> "$f"`;

/** Records that a review app pulled service image `ref` onto the host (see pulledImagesPath). */
export function recordPulledArgv(file: string, ref: string): string[] {
  return remoteScript('review-record-pulled', RECORD_PULLED, file, ref);
}

// Removes every image of the list $1 that no container uses; keeps the others listed. Prints removed=N kept=N.
const REMOVE_PULLED = `f="$1"
[ -f "$f" ] || { echo removed=0; echo kept=0; exit 0; }
removed=0; kept=""
while IFS= read -r ref; do
  [ -n "$ref" ] || continue
  if ! docker image inspect "$ref" >/dev/null 2>&1 || docker image rm "$ref" >/dev/null 2>&1; then removed=$((removed + 1)); else kept="$kept$ref
"; fi
done < "$f"
if [ -n "$kept" ]; then printf '%s' "$kept" > "$f"; else rm -f "$f"; fi
echo "removed=$removed"; echo "kept=$(printf '%s' "$kept" | grep -c .)"`;

/** Removes the service images the review apps pulled, but those a container still uses. */
export function removePulledImagesArgv(file: string): string[] {
  return remoteScript('review-remove-pulled', REMOVE_PULLED, file);
}
