// Host checks: the engine's version, free disk under the engine's root (docker info's
// DockerRootDir), the host's clock against this machine's, and who holds ports 80/443. One
// read-only script per host (checksArgv); the verdicts are pure (evaluateChecks), each a line
// that names the host and the fix. `pallet setup` runs them before any change and after, `pallet
// status` with every status.
import { remoteScript } from './script.js';
import { formatBytes } from '../util/reporter.js';

/** Below this much free space under the engine's root a warning is printed. */
export const DISK_LOW_BYTES = 5 * 1024 ** 3;
/** Below this, setup changes nothing (installing Docker and pulling images would fill it). */
export const DISK_FULL_BYTES = 1024 ** 3;
/** A host clock further off than this from the runner's is reported. */
export const CLOCK_SKEW_SECONDS = 10;
/** The oldest Docker Engine pallet supports (docs/hosts.md §1). */
export const MIN_ENGINE = '20.10';
/** What holds a port when the engine publishes it for a container (its userland proxy). */
const DOCKER_PROXY = 'docker-proxy';

// $1.. the ports to look at. For each listening socket on the port (IPv4 and IPv6), the name of
// the process holding it where /proc lets us see it (as root: always), else '?'.
const CHECKS = `printf 'engine=%s\\n' "$(docker version --format '{{.Server.Version}}' 2>/dev/null)"
root=$(docker info --format '{{.DockerRootDir}}' 2>/dev/null); [ -n "$root" ] || root=/var/lib/docker
p="$root"; while [ ! -e "$p" ]; do p=$(dirname "$p"); done
printf 'root=%s\\n' "$root"
df -Pk "$p" 2>/dev/null | awk 'NR == 2 { print "disk_kb=" $4; print "disk_mount=" $6 }'
printf 'proxy=%s\\n' "$(docker inspect --format '{{.State.Running}}' pallet-proxy 2>/dev/null)"
for port in "$@"; do
  hp=$(printf '%04X' "$port")
  inode=$(cat /proc/net/tcp /proc/net/tcp6 2>/dev/null | awk -v hp="$hp" '$4 == "0A" { n = split($2, a, ":"); if (toupper(a[n]) == hp) { print $10; exit } }')
  if [ -z "$inode" ]; then printf 'port=%s free\\n' "$port"; continue; fi
  who='?'
  for fd in /proc/[0-9]*/fd/*; do
    [ "$(readlink "$fd" 2>/dev/null)" = "socket:[$inode]" ] || continue
    pid=\${fd#/proc/}; pid=\${pid%%/*}; who=$(cat "/proc/$pid/comm" 2>/dev/null || echo '?'); break
  done
  printf 'port=%s %s\\n' "$port" "$who"
done
printf 'now=%s\\n' "$(date +%s)"`;

/** The read-only checks script; `ports` are looked at (80 and 443 where the proxy runs). */
export function checksArgv(ports: number[] = [80, 443]): string[] {
  return remoteScript('host-checks', CHECKS, ...ports.map(String));
}

/** What checksArgv printed, with when this machine sent and got it. */
export interface HostChecks {
  /** Engine version, '' when docker does not answer. */
  engine: string;
  dockerRoot: string;
  /** Free bytes on the filesystem holding the engine's root (undefined when df said nothing). */
  diskFree?: number;
  diskMount: string;
  /** pallet-proxy: 'true' running, 'false' stopped, '' none. */
  proxy: string;
  /** Per port: undefined free, else the process name ('?' when not visible). */
  ports: Record<number, string | undefined>;
  /** The host's clock (s) minus this machine's at the middle of the round trip; undefined when unknown. */
  skewSeconds?: number;
  /** Half the round trip (s): the skew is known to within this. */
  skewUncertainty?: number;
}

/** Parses checksArgv's output; `sentMs`/`receivedMs` are this machine's clock around the call. */
export function parseChecks(stdout: string, sentMs: number, receivedMs: number): HostChecks {
  const get = (k: string) => (new RegExp(`^${k}=(.*)$`, 'm').exec(stdout)?.[1] ?? '').trim();
  const ports: Record<number, string | undefined> = {};
  for (const m of stdout.matchAll(/^port=(\d+) (.+)$/gm)) ports[Number(m[1])] = m[2].trim() === 'free' ? undefined : m[2].trim();
  const kb = get('disk_kb');
  const now = get('now');
  const mid = (sentMs + receivedMs) / 2000;
  return {
    engine: get('engine'), dockerRoot: get('root'), diskMount: get('disk_mount'), proxy: get('proxy'), ports,
    ...(/^\d+$/.test(kb) ? { diskFree: Number(kb) * 1024 } : {}),
    ...(/^\d+$/.test(now) ? { skewSeconds: Number(now) - mid, skewUncertainty: (receivedMs - sentMs) / 2000 + 1 } : {}),
  };
}

/** Whether version a (e.g. 20.10.24+dfsg1) is older than b (20.10). */
export function olderThan(a: string, b: string): boolean {
  const pa = a.split(/[.+~-]/).map((x) => parseInt(x, 10));
  const pb = b.split('.').map((x) => parseInt(x, 10));
  for (let i = 0; i < pb.length; i++) {
    const x = Number.isNaN(pa[i]) || pa[i] === undefined ? 0 : pa[i];
    if (x !== pb[i]) return x < pb[i];
  }
  return false;
}

/** The verdicts of one host: warnings, and the problems that stop setup before it changes anything. */
export interface CheckVerdict {
  warnings: string[];
  /** Before setup changes anything: ports taken by another process (where the proxy runs), a nearly full disk. */
  blocking: string[];
}

/**
 * Pure: the checks' verdicts for host `label`. `proxy`: web roles run behind pallet's proxy here,
 * so ports 80/443 must be free or held by it. `engineExpected`: say so when docker does not answer
 * (false before setup installed it).
 */
export function evaluateChecks(label: string, c: HostChecks, o: { proxy: boolean; engineExpected: boolean }): CheckVerdict {
  const warnings: string[] = [];
  const blocking: string[] = [];
  if (!c.engine) {
    if (o.engineExpected) warnings.push(`${label}: the Docker engine does not answer: start it (systemctl start docker) and make sure the deploy user is in the docker group`);
  } else if (olderThan(c.engine, MIN_ENGINE)) {
    warnings.push(`${label}: Docker Engine ${c.engine} is older than ${MIN_ENGINE}, the oldest pallet supports: upgrade it (apt-get install docker.io from a newer release, or Docker's own packages)`);
  }
  if (c.diskFree !== undefined) {
    const where = `${c.diskMount || '/'} (holding the engine's root ${c.dockerRoot})`;
    if (c.diskFree < DISK_FULL_BYTES) {
      blocking.push(`${label}: only ${formatBytes(c.diskFree)} free on ${where}: free some space first (docker system prune, old logs) or grow the disk`);
    } else if (c.diskFree < DISK_LOW_BYTES) {
      warnings.push(`${label}: only ${formatBytes(c.diskFree)} free on ${where}, below ${formatBytes(DISK_LOW_BYTES)}: pulls may fail; free some space (docker image prune -a, old logs) or grow the disk`);
    }
  }
  if (c.skewSeconds !== undefined && Math.abs(c.skewSeconds) > CLOCK_SKEW_SECONDS + (c.skewUncertainty ?? 0)) {
    const s = Math.round(c.skewSeconds);
    warnings.push(`${label}: the host's clock is ${Math.abs(s)} s ${s > 0 ? 'ahead of' : 'behind'} this machine's: certificates, audit times and schedules go wrong; turn on time sync (timedatectl set-ntp true, or install chrony)`);
  }
  if (o.proxy) {
    for (const [port, who] of Object.entries(c.ports)) {
      if (who === undefined) continue;
      const ours = c.proxy === 'true' && (who === DOCKER_PROXY || who === '?');
      if (ours) continue;
      const what = who === '?' ? 'another process' : who === DOCKER_PROXY ? `a container other than pallet-proxy (${DOCKER_PROXY})` : `another process (${who})`;
      blocking.push(`${label}: port ${port} is taken by ${what}, and pallet's proxy needs ports 80 and 443: stop it (a web server? systemctl disable --now ${who === '?' || who === DOCKER_PROXY ? 'NAME' : who}; see docs/hosts.md "Moving from a hand-written nginx"), or set deploy.proxy: false`);
    }
  }
  return { warnings, blocking };
}

/** Columns of the host checks table in `pallet status`. */
export const CHECKS_HEADER = ['host', 'engine', 'free disk', 'clock', 'port 80', 'port 443'];

/** Pure: one row per host that has checks. */
export function checksRows(hosts: { host: string; checks?: HostChecks }[]): (string | number)[][] {
  const port = (c: HostChecks, p: number) => (c.ports[p] === undefined ? 'free' : c.proxy === 'true' && (c.ports[p] === DOCKER_PROXY || c.ports[p] === '?') ? 'pallet-proxy' : c.ports[p]!);
  return hosts.filter((h) => h.checks).map(({ host, checks: c }) => [
    host, c!.engine || 'no answer', c!.diskFree === undefined ? '?' : `${formatBytes(c!.diskFree)} (${c!.diskMount})`,
    c!.skewSeconds === undefined ? '?' : `${c!.skewSeconds >= 0 ? '+' : ''}${Math.round(c!.skewSeconds)} s`, port(c!, 80), port(c!, 443),
  ]);
}
