// Pure: the remote commands of `pallet remove`, each one concern, data only as positional
// arguments, output as key=value lines. The orchestration is in src/commands/remove.ts.
import { remoteScript } from '../host/script.js';
import { OTHER_APPS_TAGS, STATE_ROOT } from '../deploy/commands.js';
import { PROXY_DIR } from '../deploy/proxy/commands.js';

// The app's route keys on the host, from its fragment files (ORDER+APP+ROLE.http|https|policy)
// and upstream files (APP+ROLE.upstream); `+` appears in no app or role name.
const APP_ROUTES = `r="$1"; app="$2"
for f in "$r"/*"+$app+"*.* "$r/$app+"*.upstream; do
  [ -e "$f" ] || continue
  b=$(basename "$f"); b=\${b%.*}
  case "$b" in "$app+"*) ;; *) b=\${b#*+} ;; esac
  echo "route=$b"
done | sort -u
exit 0`;

/** Lists the route keys the proxy holds for `app` on the host (stdout `route=APP+ROLE` lines). */
export function appRoutesArgv(app: string): string[] {
  return remoteScript('app-routes', APP_ROUTES, `${PROXY_DIR}/routes`, app);
}

/** The names of every container of `app` on the host, running or not (one per line). */
export function appContainerNamesArgv(app: string): string[] {
  return ['docker', 'ps', '-a', '--filter', `label=pallet.app=${app}`, '--format', '{{.Names}}'];
}

/** The roles of `app` that have a route, from appRoutesArgv's output. */
export function parseAppRoutes(stdout: string, app: string): string[] {
  return [...stdout.matchAll(/^route=(.*)$/gm)].map((m) => m[1].trim()).filter((k) => k.startsWith(`${app}+`)).map((k) => k.slice(app.length + 1));
}

// Every container labelled with the app (roles, candidates, one-off tasks): a graceful stop
// (SIGTERM, then SIGKILL after $2 seconds), then removal. Prints removed=N; exit 1 with left=N.
const REMOVE_CONTAINERS = `app="$1"; t="$2"
ids=$(docker ps -aq --filter "label=pallet.app=$app")
n=$(printf '%s\\n' $ids | grep -c .)
if [ "$n" -gt 0 ]; then docker stop -t "$t" $ids >/dev/null 2>&1; docker rm -f $ids >/dev/null 2>&1; fi
left=$(docker ps -aq --filter "label=pallet.app=$app" | grep -c .)
echo "removed=$((n - left))"
[ "$left" -eq 0 ] || { echo "left=$left"; exit 1; }`;

/** Stops (at most `stopTimeout` seconds each) and removes every container of `app`. */
export function removeContainersArgv(app: string, stopTimeout: number): string[] {
  return remoteScript('remove-containers', REMOVE_CONTAINERS, app, String(stopTimeout));
}

// The app's network (the proxy is disconnected from it first). Prints removed=0|1.
const REMOVE_NETWORK = `n="$1"
docker network inspect "$n" >/dev/null 2>&1 || { echo removed=0; exit 0; }
for c in $(docker network inspect --format '{{range $k, $v := .Containers}}{{$v.Name}} {{end}}' "$n"); do
  docker network disconnect -f "$n" "$c" >/dev/null 2>&1
done
docker network rm "$n" >/dev/null || exit 1
echo removed=1`;

/** Removes the network `name`, disconnecting what is still on it (the proxy). */
export function removeNetworkArgv(name: string): string[] {
  return remoteScript('remove-network', REMOVE_NETWORK, name);
}

// Every tag of the app's repository that no container uses (docker image rm without -f keeps an
// image another app's container runs). Prints removed=N and kept=N.
// Another app of the same repository (another environment on this host) keeps what its TAG and
// REVERT name: its rollback target is not this removal's to take.
const REMOVE_IMAGES = `repo="$1"; root="$2"; app="$3"
refs=$(docker image ls "$repo" --format '{{.Repository}}:{{.Tag}}' | grep -v ':<none>$')
named=$(${OTHER_APPS_TAGS})
removed=0; kept=0
for ref in $refs; do
  if printf '%s\\n' "$named" | grep -qxF -- "\${ref##*:}"; then kept=$((kept + 1)); continue; fi
  if docker image rm "$ref" >/dev/null 2>&1; then removed=$((removed + 1)); else kept=$((kept + 1)); fi
done
echo "removed=$removed"; echo "kept=$kept"`;

/** Removes the tags of `repo` on the host that no container uses and no other app's TAG or REVERT names. */
export function removeImagesArgv(repo: string, app: string): string[] {
  return remoteScript('remove-images', REMOVE_IMAGES, repo, STATE_ROOT, app);
}

// The app's state directory. Its data (storage/, the /storage mount; backups/) stays unless
// $2 = 1; the lock stays (released by its token afterwards). Prints kept=NAMES.
const REMOVE_STATE = `d="$1"; all="$2"
[ -d "$d" ] || { echo "kept="; exit 0; }
if [ "$all" = 1 ]; then
  find "$d" -mindepth 1 -maxdepth 1 ! -name lock -exec rm -rf {} + || exit 1
  echo "kept="; exit 0
fi
find "$d" -mindepth 1 -maxdepth 1 ! -name lock ! -name storage ! -name backups -exec rm -rf {} + || exit 1
kept=""; for k in storage backups; do [ -e "$d/$k" ] && kept="$kept $k"; done
echo "kept=\${kept# }"`;

/** Removes the app's state directory but its lock, and its data unless `deleteData`. */
export function removeStateArgv(stateDirPath: string, deleteData: boolean): string[] {
  return remoteScript('remove-state', REMOVE_STATE, stateDirPath, deleteData ? '1' : '0');
}

// The state directory itself, once the lock is released and nothing is kept in it.
const REMOVE_EMPTY_DIR = `d="$1"; [ -d "$d" ] || exit 0; rmdir "$d" 2>/dev/null; exit 0`;

/** Removes the app's state directory if it is empty (after removeStateArgv and the lock's release). */
export function removeEmptyDirArgv(stateDirPath: string): string[] {
  return remoteScript('remove-empty-dir', REMOVE_EMPTY_DIR, stateDirPath);
}

// A Swarm stack: `docker stack rm`, then (bounded, $3 seconds) until none of its services is left,
// then its overlay network, retried while tasks on other nodes still detach from it. Prints
// services=N and network=0|1; exit 1 says what is still there.
const REMOVE_STACK = `stack="$1"; net="$2"; wait="$3"
n=$(docker service ls -q --filter "label=com.docker.stack.namespace=$stack" | grep -c .)
[ "$n" -gt 0 ] && { docker stack rm "$stack" >/dev/null || exit 1; }
i=0; while [ "$i" -lt $((wait * 2)) ] && docker service ls -q --filter "label=com.docker.stack.namespace=$stack" | grep -q .; do i=$((i+1)); sleep 0.5; done
left=$(docker service ls -q --filter "label=com.docker.stack.namespace=$stack" | grep -c .)
[ "$left" -eq 0 ] || { echo "services left after \${wait}s: $left"; exit 1; }
echo "services=$n"
docker network inspect "$net" >/dev/null 2>&1 || { echo network=0; exit 0; }
# Until the manager no longer knows it (a removal can return while the network is still listed).
i=0; while [ "$i" -lt $((wait * 2)) ]; do
  docker network rm "$net" >/dev/null 2>&1
  docker network inspect "$net" >/dev/null 2>&1 || { echo network=1; exit 0; }
  i=$((i+1)); sleep 0.5
done
echo "network $net still there after \${wait}s"; exit 1`;

/** Removes a Swarm stack (its services) and the app's overlay network, waiting at most `waitSeconds` for each. */
export function removeStackArgv(stack: string, network: string, waitSeconds: number): string[] {
  return remoteScript('remove-stack', REMOVE_STACK, stack, network, String(waitSeconds));
}

/** A number printed as `key=N` by the scripts above (0 when absent). */
export function countOf(stdout: string, key: string): number {
  return Number(new RegExp(`^${key}=(\\d+)$`, 'm').exec(stdout)?.[1] ?? 0);
}
