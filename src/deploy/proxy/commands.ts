// Pure: every command the proxy mode runs on a host, as argument vectors. Like ../commands.ts,
// scripts are constants run as `sh -c SCRIPT sh ARG...`: names, tags and JSON fragments only
// ever travel as positional arguments.
import { createHash } from 'node:crypto';
import { remoteScript } from '../../host/script.js';
import { FINISH_STEPS, type FinishFields } from '../commands.js';
import { configFrame, emptyConfig, routeOrder, type RouteFragments } from './caddy.js';
import { STATIC_DIR, STATIC_MOUNT } from './static-commands.js';

/** Host directory of the proxy: caddy.json (what the proxy loads at start), routes/ (fragments). */
export const PROXY_DIR = '/var/lib/pallet/proxy';
/** Certificates and Caddy's internal CA (mounted as /data in the proxy container). */
export const PROXY_DATA_DIR = '/var/lib/pallet/proxy-data';
/**
 * Container and network names: one proxy per host, shared by every app. The shared network only
 * holds containers started before each app got its own network (appNetwork); the proxy stays on it.
 */
export const PROXY_CONTAINER = 'pallet-proxy';
export const PROXY_NETWORK = 'pallet-proxy';


/** Where the proxy container sees PROXY_DIR (mounted read-only). */
export const PROXY_DIR_IN_CONTAINER = '/etc/pallet-proxy';

/**
 * The file of a CA root the proxy trusts for an ACME CA's HTTPS (deploy.proxy.acme.ca_root), named
 * by its content (pure): `host` under PROXY_DIR, `container` as the proxy sees it. Apps that trust
 * the same root share one file; a changed root is a new file, so no route ever names a file that
 * holds another certificate.
 */
export function acmeRootFile(pem: string): { host: string; container: string } {
  const name = `acme-roots/${createHash('sha256').update(pem.trim()).digest('hex').slice(0, 16)}.pem`;
  return { host: `${PROXY_DIR}/${name}`, container: `${PROXY_DIR_IN_CONTAINER}/${name}` };
}

// Writes a CA root (a public certificate) where the proxy reads it, unless it is there already.
const PLACE_ROOT = `f="$1"; pem="$2"
[ "$(cat "$f" 2>/dev/null)" = "$pem" ] && { echo "in place: $f"; exit 0; }
mkdir -p "$(dirname "$f")" && printf '%s\n' "$pem" > "$f.new" && chmod 644 "$f.new" && mv "$f.new" "$f" || exit 3
echo "written: $f"`;

/** Places the PEM `pem` at acmeRootFile(pem).host (idempotent; a certificate, no secret). */
export function placeAcmeRootArgv(pem: string): string[] {
  return remoteScript('place-acme-root', PLACE_ROOT, acmeRootFile(pem).host, pem.trim());
}

/** Route key of one app's role: names its fragment files (`+` appears in neither name, so globs stay exact). */
export function routeKey(app: string, role: string): string {
  return `${app}+${role}`;
}

/** The app's own network on a host: its containers and the proxy, nothing else (apps cannot reach each other's containers). */
export function appNetwork(app: string): string {
  return `pallet-app-${app}`;
}

// The proxy container as every deploy creates it (ENSURE and REPLACE share it): $1 image, $2 name.
// The apps' static files (static-commands.ts) are mounted read-only; $static is STATIC_DIR.
const PROXY_CREATE = `create() { mkdir -p "$static" && docker create --name "$2" --restart unless-stopped --network "$net" -p 80:80 -p 443:443 \\
    -v "$d:${PROXY_DIR_IN_CONTAINER}:ro" -v "$data:/data" -v "$static:${STATIC_MOUNT}:ro" --label pallet.proxy=caddy "$1" caddy run --config /etc/pallet-proxy/caddy.json; }
# Joins every app network on the host it is not on yet (a proxy made by one app's deploy serves the others too).
join() { on=$(docker inspect --format '{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{end}}' "$1" 2>/dev/null)
  for n in $(docker network ls --filter label=pallet.app-network --format '{{.Name}}'); do
    case " $on " in *" $n "*) ;; *) docker network connect "$n" "$1" >/dev/null 2>&1 || return 1;; esac
  done; }
# Bounded wait until the admin endpoint takes a reload of the persisted config (then it listens).
ready() { i=0; while [ "$i" -lt 100 ]; do i=$((i+1))
    docker exec "$1" caddy reload --config /etc/pallet-proxy/caddy.json >/dev/null 2>&1 && return 0; sleep 0.1; done; return 1; }`;

// Creates the app's network, the initial config and the proxy container when missing, starts it
// when stopped, joins it to every app network and waits (bounded) until it takes the persisted
// config. Prints `image=` (what the proxy runs: the rollout replaces it when the config names
// another) and `static_mount=0|1` (whether it mounts the static files: proxies made before
// deploy.proxy.static existed do not, and are replaced when an app asks for it). Exit 4 = the container could not start (ports 80/443 taken); 5 = no answer;
// 6 (ENSURE_NO_IMAGE) = the configured image is not on the host (nothing was done: pull, then again).
const ENSURE = `d="$1"; data="$2"; name="$3"; net="$4"; img="$5"; empty="$6"; appnet="$7"; app="$8"; static="$9"
${PROXY_CREATE}
docker image inspect "$img" >/dev/null 2>&1 || { echo "the proxy image $img is not on this host"; exit 6; }
mkdir -p "$d/routes" "$data" || exit 3
docker network inspect "$net" >/dev/null 2>&1 || docker network create "$net" >/dev/null || exit 3
docker network inspect "$appnet" >/dev/null 2>&1 || docker network create --label "pallet.app-network=$app" "$appnet" >/dev/null || exit 3
[ -s "$d/caddy.json" ] || printf '%s\\n' "$empty" > "$d/caddy.json" || exit 3
set -- $(docker inspect --format '{{.State.Running}} {{.Config.Image}} {{range .Mounts}}{{.Destination}},{{end}}' "$name" 2>/dev/null); st="$1"; runs="$2"; mounts="$3"
if [ "$st" = false ]; then
  echo "starting the stopped proxy container $name"
  docker start "$name" >/dev/null 2>&1 || { echo "could not start $name: $(docker start "$name" 2>&1 | tail -n 2)"; exit 4; }
elif [ -z "$st" ]; then
  out=$(create "$img" "$name" 2>&1) || { docker rm -f "$name" >/dev/null 2>&1; echo "could not create the proxy ($img): $(printf '%s' "$out" | tail -n 2)"; exit 4; }
  join "$name" || { docker rm -f "$name" >/dev/null 2>&1; echo "could not join the app networks"; exit 3; }
  out=$(docker start "$name" 2>&1) || { docker rm -f "$name" >/dev/null 2>&1; echo "could not start the proxy ($img): $(printf '%s' "$out" | tail -n 2)"; exit 4; }
  echo "proxy container $name started from $img"; runs="$img"; mounts="${STATIC_MOUNT},"
fi
join "$name" || { echo "could not join the proxy to the app networks"; exit 3; }
printf 'image=%s\\n' "$runs"
case ",$mounts" in *",${STATIC_MOUNT},"*) echo static_mount=1 ;; *) echo static_mount=0 ;; esac
# A proxy that was running already serves its config; one just started must take it first.
[ "$st" = true ] && { echo "proxy ready"; exit 0; }
ready "$name" && { echo "proxy ready"; exit 0; }
echo "the proxy container $name does not answer on its admin endpoint: $(docker logs --tail 3 "$name" 2>&1 | tr '\\n' ' ')"
exit 5`;

/** ensureProxyArgv's exit code when the host lacks the proxy image. */
export const ENSURE_NO_IMAGE = 6;

/** Makes sure the host's proxy runs with its persisted routes and is on `app`'s network (idempotent). */
export function ensureProxyArgv(image: string, app: string): string[] {
  return remoteScript('ensure-proxy', ENSURE, PROXY_DIR, PROXY_DATA_DIR, PROXY_CONTAINER, PROXY_NETWORK, image, emptyConfig(), appNetwork(app), app, STATIC_DIR);
}

/** Pure: the image the proxy runs, from ensureProxyArgv's output ('' if not printed). */
export function parseProxyImage(stdout: string): string {
  return (/^image=(.*)$/m.exec(stdout)?.[1] ?? '').trim();
}

/** Pure: whether the proxy mounts the static files (ensureProxyArgv's static_mount=1). */
export function parseStaticMount(stdout: string): boolean {
  return /^static_mount=1$/m.test(stdout);
}

// Replaces the proxy container with one of another image, keeping its networks, config and
// certificates. The new container is created and joined first and the names are swapped while
// the old one still serves, so the gap (nothing listening on 80/443) is only the old one's
// graceful stop (requests in flight finish, at most 10 s) and the new one's start; it is printed
// as gap_ms=. If the new one does not come up, the old container is started again (exit 5:
// nothing changed).
const REPLACE = `d="$1"; data="$2"; name="$3"; net="$4"; img="$5"; static="$6"
${PROXY_CREATE}
old=$(docker inspect --format '{{.Config.Image}}' "$name") || { echo "no proxy container $name"; exit 3; }
next="$name-next"; prev="$name-previous"
docker rm -f "$next" >/dev/null 2>&1
docker inspect "$prev" >/dev/null 2>&1 && docker rm -f "$prev" >/dev/null 2>&1
out=$(create "$img" "$next" 2>&1) || { echo "could not create the proxy from $img: $(printf '%s' "$out" | tail -n 2)"; exit 4; }
join "$next" || { docker rm -f "$next" >/dev/null 2>&1; echo "could not join the app networks"; exit 4; }
docker rename "$name" "$prev" && docker rename "$next" "$name" || { docker rm -f "$next" >/dev/null 2>&1; echo "could not rename the proxy containers"; exit 4; }
# Until port 80 answers (bounded); a container that exited or restarts is not waited for.
listening() { i=0; while [ "$i" -lt 200 ]; do i=$((i+1)); curl -s -o /dev/null --max-time 1 http://127.0.0.1:80/ && return 0
    [ $((i % 5)) -eq 0 ] && [ "$(docker inspect --format '{{.State.Running}} {{.RestartCount}}' "$name" 2>/dev/null)" != "true 0" ] && return 1; sleep 0.05; done; return 1; }
t0=$(date +%s%N)
docker stop -t 10 "$prev" >/dev/null 2>&1
if docker start "$name" >/dev/null 2>&1 && listening; then
  gap=$(( ($(date +%s%N) - t0) / 1000000 ))
  if ready "$name"; then
    docker rm -f "$prev" >/dev/null 2>&1
    printf 'replaced %s with %s\\ngap_ms=%s\\n' "$old" "$img" "$gap"; exit 0
  fi
fi
why=$(docker logs --tail 3 "$name" 2>&1 | tr '\\n' ' ')
docker rm -f "$name" >/dev/null 2>&1
docker rename "$prev" "$name" && docker start "$name" >/dev/null 2>&1 && ready "$name" \\
  && { echo "the proxy from $img did not come up ($why); $name runs $old again"; exit 5; }
echo "the proxy from $img did not come up ($why), and $old could not be started again"; exit 6`;

/** Replaces the host's proxy with one running `image` (see REPLACE); stdout holds gap_ms=. */
export function replaceProxyArgv(image: string): string[] {
  return remoteScript('replace-proxy', REPLACE, PROXY_DIR, PROXY_DATA_DIR, PROXY_CONTAINER, PROXY_NETWORK, image, STATIC_DIR);
}

// Before the rollout: every other route on the host with its http fragment (JSON route objects,
// comma-joined; each app's http fragment carries its host names, whatever its TLS mode).
const CLAIMS = `d="$1"; self="$2"
for f in "$d"/routes/*.http; do
  [ -e "$f" ] || continue
  b=$(basename "$f" .http); k=\${b#*+}
  [ "$k" = "$self" ] && continue
  printf 'route=%s\\t' "$k"; tr -d '\\n' < "$f"; printf '\\n'
done`;

/** Lists the routes of the other apps (and other roles) on the host: parse with parseClaims. */
export function routeClaimsArgv(app: string, role: string): string[] {
  return remoteScript('route-claims', CLAIMS, PROXY_DIR, routeKey(app, role));
}

/** Another route on the host: its app and role, and its host names ('*' = every host name). */
export interface RouteClaim { app: string; role: string; hosts: string[] | '*' }

/** Reads CLAIMS' output (`route=KEY<TAB>FRAGMENT` lines); fragments that do not parse are skipped. */
export function parseClaims(stdout: string): RouteClaim[] {
  const out: RouteClaim[] = [];
  for (const m of stdout.matchAll(/^route=([^\t]+)\t(.*)$/gm)) {
    const dot = m[1].lastIndexOf('+');
    let routes: { match?: { host?: string[] }[] }[];
    try { routes = JSON.parse(`[${m[2]}]`); } catch { continue; }
    const hosts = routes.flatMap((r) => r.match?.flatMap((x) => x.host ?? []) ?? []);
    out.push({ app: m[1].slice(0, dot), role: m[1].slice(dot + 1), hosts: routes.some((r) => !r.match) ? '*' : hosts });
  }
  return out;
}

/**
 * What would make the proxy route one app's requests to another (pure): a host name another route
 * already claims, or a second catch-all (a route without host names) on the host. `hosts` are this
 * role's names ([] = catch-all). One message per conflict, naming the other app and what to do.
 */
export function routeConflicts(hosts: readonly string[], claims: readonly RouteClaim[]): string[] {
  const out: string[] = [];
  for (const c of claims) {
    const who = `app '${c.app}' (role ${c.role})`;
    if (c.hosts === '*' && hosts.length === 0) {
      out.push(`${who} already answers every host name on this host (it has no deploy.proxy.hosts); one app per host may do that: list this app's host names in deploy.proxy.hosts`);
    } else if (c.hosts !== '*') {
      const taken = hosts.filter((h) => (c.hosts as string[]).includes(h));
      if (taken.length) out.push(`host name${taken.length > 1 ? 's' : ''} ${taken.join(', ')} already routed to ${who} on this host; a host name belongs to one app: remove it from deploy.proxy.hosts of one of them`);
    }
  }
  return out;
}

/**
 * The name the proxy's route of (app, role) dials: the role's live container holds it, so Docker's
 * DNS on the app network sends each new request there. A switch is two `docker rename`s on the
 * host (see makeLiveArgv) and Caddy's config does not change: no config load, so none of the
 * connections a load can drop (TLS handshakes on Caddy 2.6, just-accepted HTTPS connections on
 * 2.7+). `-live` keeps it apart from the published-port mode's APP-ROLE and from newContainerName.
 */
export function liveName(app: string, role: string): string {
  return `${app}-${role}-live`;
}

// A container's identity, by its current name $1 (stdout; exit 1 when there is none): its label
// pallet.name (set at its start), else its name; the live name ($s) of a container started
// before the label existed becomes $s-<first 8 hex of its id>, the name it gets back.
const IDENTITY = `ident() { l=$(docker container inspect --format '{{index .Config.Labels "pallet.name"}}' "$1" 2>/dev/null) || return 1
  case "$l" in ''|'<no value>') if [ "$1" = "$s" ]; then l="$s-$(docker container inspect --format '{{.Id}}' "$1" | cut -c1-8)"; else l="$1"; fi;; esac
  printf '%s' "$l"; }`;

// Before a switch: the name the route dials, the identity of the container that answers it ('' =
// no route, or nothing holds the live name), and every container of the role by identity.
const PREPARE = `d="$1"; key="$2"; app="$3"; role="$4"; s="$5"
${IDENTITY}
up=$(cat "$d/routes/$key.upstream" 2>/dev/null)
live="$up"; [ "$up" = "$s" ] && { live=$(ident "$s") || live=""; }
printf 'upstream=%s\\nlive=%s\\n' "$up" "$live"
for id in $(docker ps -aq --filter "label=pallet.app=$app" --filter "label=pallet.role=$role"); do
  n=$(docker inspect --format '{{.Name}} {{.State.Running}}' "$id" 2>/dev/null | sed 's#^/##') || continue
  printf 'container=%s %s\\n' "$(ident "\${n% *}")" "\${n##* }"
done`;

export function prepareSwitchArgv(app: string, role: string): string[] {
  return remoteScript('role-containers', PREPARE, PROXY_DIR, routeKey(app, role), app, role, liveName(app, role));
}

export interface RoleContainers {
  /** The name the route dials ('' = no route yet): liveName, or a container's own name (a route written before the live name existed). */
  upstream: string;
  /** Identity (pallet.name) of the container that answers the route ('' = none). */
  live: string;
  /** Every container of the app's role on the host, by identity, with whether it runs. */
  containers: { name: string; running: boolean }[];
}

export function parsePrepare(stdout: string): RoleContainers {
  const upstream = (/^upstream=(.*)$/m.exec(stdout)?.[1] ?? '').trim();
  const live = (/^live=(.*)$/m.exec(stdout)?.[1] ?? '').trim();
  const containers = [...stdout.matchAll(/^container=(\S+) (true|false)$/gm)].map((m) => ({ name: m[1], running: m[2] === 'true' }));
  return { upstream, live, containers };
}

// Gives the role's live name $s to the container whose identity is $t ('' = to none): whoever
// holds it gets its identity back as its name, then $t takes it. Docker's DNS answers the new
// holder from then on; between the two renames nothing answers the name and the proxy tries the
// request again (caddy.ts). Exit 5: $t does not run (nothing renamed); 3: a rename failed (the
// previous holder has the name again).
const MAKE_LIVE = `s="$1"; t="$2"
${IDENTITY}
cur=$(ident "$s") || cur=""
if [ -n "$t" ]; then
  n="$t"; [ "$cur" = "$t" ] && n="$s"
  st=$(docker container inspect --format '{{.State.Running}}' "$n" 2>/dev/null) || st=missing
  [ "$st" = true ] || { echo "container $t is not running (state: $st)"; exit 5; }
  [ "$n" = "$s" ] && { echo "live=$t"; exit 0; }
fi
if [ -n "$cur" ]; then docker rename "$s" "$cur" || { echo "could not rename $s to $cur"; exit 3; }; fi
[ -n "$t" ] || { echo "live="; exit 0; }
docker rename "$t" "$s" && { echo "live=$t"; exit 0; }
[ -n "$cur" ] && docker rename "$cur" "$s"
echo "could not rename $t to $s"; exit 3`;

/** Exit code of makeLiveArgv when the container to make live does not run. */
export const MAKE_LIVE_NOT_RUNNING = 5;

/** Makes `identity` (a container of the role, by its pallet.name) the one the route reaches; '' = none. */
export function makeLiveArgv(app: string, role: string, identity: string): string[] {
  return remoteScript('make-live', MAKE_LIVE, liveName(app, role), identity);
}

// Writes (or removes) one route's fragments and reloads the proxy with the assembled config,
// under a host-wide lock (several apps share the proxy). A reload Caddy refuses changes nothing:
// the fragments are put back and the persisted caddy.json stays as it was. Caddy swaps configs
// gracefully: requests in flight on the old upstream finish, new ones go to the new one.
const SET_ROUTE = `d="$1"; name="$2"; key="$3"; act="$4"; upstream="$5"; http="$6"; https="$7"; pol="$8"; order="$9"
shift 9; f0="$1"; f1="$2"; f2="$3"; f3="$4"
r="$d/routes"; mkdir -p "$r" || exit 3
exec 9>"$d/lock"
flock -w 60 9 || { echo "the proxy config lock is busy (another deploy on this host)"; exit 3; }
undo="$r/.undo"; rm -rf "$undo"; mkdir "$undo" || exit 3
for f in "$r"/*"+$key".* "$r/$key.upstream"; do [ -e "$f" ] && cp -p "$f" "$undo/"; done
rm -f "$r"/*"+$key".*
if [ "$act" = set ]; then
  [ -n "$http" ] && printf '%s' "$http" > "$r/$order+$key.http"
  [ -n "$https" ] && printf '%s' "$https" > "$r/$order+$key.https"
  [ -n "$pol" ] && printf '%s' "$pol" > "$r/$order+$key.policy"
  printf '%s\\n' "$upstream" > "$r/$key.upstream"
else
  rm -f "$r/$key.upstream"
fi
join() { for g in "$r"/*."$1"; do [ -s "$g" ] && { cat "$g"; printf ','; }; done; }
pols() { s=""; for g in "$r"/*.policy; do [ -s "$g" ] && { printf '%s' "$s"; cat "$g"; s=","; }; done; }
{ printf '%s' "$f0"; join http; printf '%s' "$f1"; join https; printf '%s' "$f2"; pols; printf '%s\\n' "$f3"; } > "$d/caddy.json.new"
# The same config as the running proxy's: no load (a load is what drops connections, see liveName).
if cmp -s "$d/caddy.json.new" "$d/caddy.json" && [ "$(docker inspect --format '{{.State.Running}}' "$name" 2>/dev/null)" = true ]; then
  rm -f "$d/caddy.json.new" && rm -rf "$undo" && echo "proxy routes $key to \${upstream:-nothing} (unchanged)" && exit 0
fi
if out=$(docker exec "$name" caddy reload --config /etc/pallet-proxy/caddy.json.new 2>&1); then
  mv "$d/caddy.json.new" "$d/caddy.json" && rm -rf "$undo" && echo "proxy now routes $key to \${upstream:-nothing}" && exit 0
fi
st=$(docker inspect --format '{{.State.Running}}' "$name" 2>/dev/null)
if [ "$act" = forget ] && [ "$st" != true ]; then
  mv "$d/caddy.json.new" "$d/caddy.json" && rm -rf "$undo" && echo "the proxy container $name is not running (state: \${st:-missing}); its config no longer routes $key" && exit 0
fi
rm -f "$d/caddy.json.new" "$r"/*"+$key".* "$r/$key.upstream"
cp -p "$undo"/* "$r/" 2>/dev/null; rm -rf "$undo"
[ "$st" = true ] || { echo "the proxy container $name is not running (state: \${st:-missing}); the route was not changed"; exit 4; }
echo "the proxy refused the new routes: $(printf '%s' "$out" | tail -n 3 | tr '\\n' ' ')"
exit 1`;

/** Points the (app, role) route at `upstream` (the container name) with these fragments. */
export function setRouteArgv(app: string, role: string, upstream: string, f: RouteFragments): string[] {
  return remoteScript('set-route', SET_ROUTE, PROXY_DIR, PROXY_CONTAINER, routeKey(app, role), 'set', upstream, f.http, f.https, f.policies, routeOrder(f), ...configFrame());
}

/**
 * Removes the (app, role) route: its host names get the 404 again. `forget`: also when the proxy
 * does not run (its persisted config no longer has the route when it starts; exit 0).
 */
export function removeRouteArgv(app: string, role: string, forget = false): string[] {
  return remoteScript('set-route', SET_ROUTE, PROXY_DIR, PROXY_CONTAINER, routeKey(app, role), forget ? 'forget' : 'remove', '', '', '', '', '10', ...configFrame());
}

/** awk program: exit 0 when /proc/net/tcp{,6} text has an ESTABLISHED socket whose local port is `hp` (4 upper-case hex digits). */
export const ESTABLISHED_ON_PORT_AWK = '$4 == "01" && toupper(substr($2, index($2, ":") + 1)) == hp { f = 1 } END { exit !f }';

// Drain, then graceful stop (SIGTERM, then SIGKILL after the timeout) and removal; missing ones
// are fine. The drain waits, at most `drain` seconds, while any of the containers still has an
// established TCP connection on the app's port: the proxy opens one per request and keeps none
// (caddy.ts), so once the live name has moved on what remains are requests in flight. Read from the containers' own
// network namespace (/proc/PID/net/tcp{,6}: column 2 local address as HEX_IP:HEX_PORT, column 4
// state, 01 = ESTABLISHED), which needs nothing inside the app's image.
const RETIRE_FN = `retire() {
  t="$1"; drain="$2"; port="$3"; shift 3
  [ "$#" -gt 0 ] || return 0
  hex=$(printf '%04X' "$port"); pids=""
  for n; do
    p=$(docker inspect --format '{{.State.Pid}}' "$n" 2>/dev/null)
    [ -n "$p" ] && [ "$p" != 0 ] && pids="$pids $p"
  done
  i=0; max=$((drain * 10))
  while [ "$i" -lt "$max" ] && [ -n "$pids" ] && busy; do i=$((i+1)); sleep 0.1; done
  [ "$max" -gt 0 ] && [ -n "$pids" ] && echo "drained after $((i / 10)).$((i % 10))s"
  docker stop -t "$t" "$@" >/dev/null 2>&1
  docker rm -f "$@" >/dev/null 2>&1
  for n; do docker container inspect "$n" >/dev/null 2>&1 && { echo "container $n is still there"; return 1; }; done
  return 0
}
busy() {
  for p in $pids; do
    cat "/proc/$p/net/tcp" "/proc/$p/net/tcp6" 2>/dev/null | awk -v hp="$hex" '${ESTABLISHED_ON_PORT_AWK}' && return 0
  done
  return 1
}`;

/**
 * Retires the named containers: waits up to `drain` seconds (whole seconds, 0 = no wait) while
 * they still hold connections on `port` (requests in flight), then stops them with `docker stop
 * -t stopTimeout` and removes them. Prints "drained after N.Ns"; exit 1 names a container left.
 */
export function retireArgv(names: string[], stopTimeout: number, drain: { seconds: number; port: number } = { seconds: 0, port: 8000 }): string[] {
  return remoteScript('retire', `${RETIRE_FN}\nretire "$@"`, String(stopTimeout), String(drain.seconds), String(drain.port), ...names);
}

/** One role's previous containers on a host, with how to stop them (see retireArgv). */
export interface RetireGroup {
  names: string[];
  /** Seconds for `docker stop -t`. */
  stopTimeout: number;
  /** Seconds to wait at most for requests in flight; `port` is the app's port inside the container. */
  drain: { seconds: number; port: number };
}

// Runs detached from the deploy (setsid, stdio to retire.log) holding the deploy lock this
// deploy handed over: each group as retireArgv does, then the lock is released (only if it
// still carries this deploy's token). Arguments: d tok, then "t drain port names... --" groups.
const RETIRE_HELD = `d="$1"; tok="$2"; shift 2
${RETIRE_FN}
echo "$$" > "$d/lock/retire-pid"
rc=0; all=""
while [ "$#" -ge 3 ]; do
  t="$1"; dr="$2"; po="$3"; shift 3; names=""
  while [ "$#" -gt 0 ] && [ "$1" != "--" ]; do names="$names $1"; shift; done
  [ "$#" -gt 0 ] && shift
  retire "$t" "$dr" "$po" $names || rc=1; all="$all$names"
done
echo "retired$all: exit $rc"
[ "$(cat "$d/lock/token" 2>/dev/null)" = "$tok" ] && rm -rf "$d/lock"
exit $rc`;

// Finishes the host (TAG, REVERT, audit line: FINISH_STEPS), then hands the lock to RETIRE_HELD
// started in its own session: the ssh command returns at once. "retiring" marks the lock as held
// by a retire (see ACQUIRE_LOCK) before the child can run.
const RETIRE_LATER = `d="$1"; tok="$2"; body="$3"; tag="$4"; rev="$5"; line="$6"; shift 6
[ "$(cat "$d/lock/token" 2>/dev/null)" = "$tok" ] || { echo "the deploy lock is not this deploy's"; exit 3; }
${FINISH_STEPS}
: > "$d/lock/retiring" || exit 1
setsid sh -c "$body" pallet-retire-held "$d" "$tok" "$@" </dev/null >"$d/retire.log" 2>&1 &
echo "RETIRING $!"`;

/**
 * Finishes the host (`finish`: as finishArgv), then starts the retire of `groups` on the host in
 * the background and hands it the deploy lock held with `token`: the command returns at once
 * (stdout `RETIRING PID`); the host releases the lock when every container is stopped and
 * removed, and writes what happened to STATE_DIR/retire.log. Exit 3: the lock is not held with
 * `token`; exit 1: the state could not be written. Either way nothing was started.
 */
export function retireLaterArgv(stateDirPath: string, token: string, finish: FinishFields, groups: RetireGroup[]): string[] {
  const args = groups.flatMap((g) => [String(g.stopTimeout), String(g.drain.seconds), String(g.drain.port), ...g.names, '--']);
  return remoteScript('retire-later', RETIRE_LATER, stateDirPath, token, RETIRE_HELD, finish.tag, finish.revert, finish.auditLine, ...args);
}

/** Fresh name for a new container of a role: unique per start, so it can run beside the old one. */
export function newContainerName(app: string, role: string, suffix: string): string {
  return `${app}-${role}-${suffix}`;
}

// `pallet proxy status`: the proxy container, then each route with its upstream and state.
const STATUS = `d="$1"; name="$2"
printf 'proxy=%s\\n' "$(docker inspect --format '{{.State.Status}} {{.Config.Image}} {{.State.StartedAt}} {{.RestartCount}}' "$name" 2>/dev/null)"
for u in "$d"/routes/*.upstream; do
  [ -e "$u" ] || continue
  key=$(basename "$u" .upstream); up=$(cat "$u")
  hosts=$(cat "$d"/routes/*"+$key".http "$d"/routes/*"+$key".https 2>/dev/null | grep -o '"host":\\[[^]]*\\]' | head -n 1 | sed 's/"host":\\[//; s/\\]//; s/"//g')
  tls=off; ls "$d"/routes/*"+$key".https >/dev/null 2>&1 && tls=on
  st=$(docker inspect --format '{{.State.Status}} {{index .Config.Labels "pallet.tag"}}' "$up" 2>/dev/null)
  # What the route answers: the app, or the maintenance page; and whether it serves static files.
  serves=app; cat "$d"/routes/*"+$key".http "$d"/routes/*"+$key".https 2>/dev/null | grep -q '"status_code":503' && serves=maintenance
  cat "$d"/routes/*"+$key".http "$d"/routes/*"+$key".https 2>/dev/null | grep -q '"file_server"' && serves="$serves+static"
  printf 'route=%s\\t%s\\t%s\\t%s\\t%s\\t%s\\n' "$key" "\${hosts:-*}" "$tls" "$up" "\${st:-missing}" "$serves"
done`;

export function proxyStatusArgv(): string[] {
  return remoteScript('proxy-status', STATUS, PROXY_DIR, PROXY_CONTAINER);
}

export interface ProxyStatus {
  /** '' when there is no proxy container on the host. */
  state: string;
  image: string;
  startedAt: string;
  restarts: number;
  /** `serves`: the app, or the maintenance page (pallet maintenance on); `static`: it serves deploy.proxy.static's files. */
  routes: { app: string; role: string; hosts: string; tls: string; container: string; containerState: string; tag: string; serves: 'app' | 'maintenance'; static: boolean }[];
}

export function parseProxyStatus(stdout: string): ProxyStatus {
  const [state = '', image = '', startedAt = '', restarts = '0'] = (/^proxy=(.*)$/m.exec(stdout)?.[1] ?? '').trim().split(' ');
  const routes = [...stdout.matchAll(/^route=(.*)$/gm)].map((m) => {
    const [key, hosts, tls, container, st, serves = 'app'] = m[1].split('\t');
    const dot = key.lastIndexOf('+');
    const [containerState, tag = ''] = (st ?? '').split(' ');
    return {
      app: key.slice(0, dot), role: key.slice(dot + 1), hosts, tls, container, containerState, tag,
      serves: serves.startsWith('maintenance') ? 'maintenance' as const : 'app' as const, static: serves.endsWith('+static'),
    };
  });
  return { state, image, startedAt, restarts: Number(restarts) || 0, routes };
}
