// Pure: `pallet status`. One remote script per host prints the deploy state (TAG, REVERT, the lock
// owner, the last audit lines) and every container labelled with the app, found by its
// pallet.app/pallet.role/pallet.tag labels rather than a fixed name (so any way of running a
// role's containers shows up). The parser turns that into HostStatus; the rows feed the table.
import { digestOf, stateDir } from '../deploy/commands.js';
import { shortDigest } from '../deploy/report.js';
import type { HostChecks } from '../host/checks.js';

// docker inspect's Go template: one tab-separated line per container.
// .State goes out as JSON: its Health key exists only for images with a HEALTHCHECK, and a
// template that names a missing key fails.
const INSPECT = [
  '{{.Name}}', '{{.Id}}', '{{index .Config.Labels "pallet.role"}}', '{{index .Config.Labels "pallet.tag"}}',
  '{{.RestartCount}}', '{{.Image}}', '{{json .State}}',
].join('\t');

/**
 * Shell lines printing the deploy state kept in the app's state dir "$d" (fleet hosts and a
 * swarm's manager alike): `now=EPOCH`, `tag=`, `revert=`, and `lock=OWNER` while a lock is held.
 */
export const STATE_LINES = `printf 'now=%s\\n' "$(date +%s)"
printf 'tag=%s\\n' "$(cat "$d/TAG" 2>/dev/null)"
printf 'revert=%s\\n' "$(cat "$d/REVERT" 2>/dev/null)"
if [ -d "$d/lock" ]; then printf 'lock=%s\\n' "$(cat "$d/lock/owner" 2>/dev/null)"; fi`;

/** A shell line printing the last "$n" lines of "$d/audit.log", each as `audit=LINE`. */
export const AUDIT_LINES = `tail -n "$n" "$d/audit.log" 2>/dev/null | sed 's/^/audit=/'`;

const STATUS = `d="$1"; app="$2"; n="$3"; fmt="$4"
${STATE_LINES}
ids=$(docker ps -aq --filter "label=pallet.app=$app") || exit 2
if [ -n "$ids" ]; then
  docker inspect --format "container=$fmt" $ids || exit 2
  # The registry digests of the images they run (an image built on the host has none).
  docker image inspect --format 'image={{.Id}} {{json .RepoDigests}}' $(docker inspect --format '{{.Image}}' $ids | sort -u) 2>/dev/null
fi
${AUDIT_LINES}
exit 0`;

/** The one command status runs on a host. `auditLines`: how many audit.log lines to show. */
export function statusArgv(app: string, auditLines = 5): string[] {
  return ['sh', '-c', STATUS, 'sh', stateDir(app), app, String(auditLines), INSPECT];
}

export interface ContainerStatus {
  name: string;
  id: string;
  role: string;
  tag: string;
  /** The manifest digest of the image it runs (`sha256:...`), '' when the image has none from the registry. */
  digest: string;
  /** docker's State.Status: created, running, restarting, exited, ... */
  state: string;
  /** healthy, unhealthy, starting, or '' without a HEALTHCHECK. */
  health: string;
  restarts: number;
  startedAt: string;
  /** Seconds since start (host clock), while running. */
  uptime?: number;
}

/** What STATE_LINES and AUDIT_LINES print, parsed. */
export interface DeployState {
  /** The tag the host (or swarm) should run. */
  tag: string;
  /** The tag a rollback goes back to. */
  revert: string;
  /** The lock's owner line (`run ID by ACTOR since TIME`) while a deploy lock is held. */
  lock?: string;
  /** The last audit.log lines, oldest first. */
  audit: string[];
}

/** The value of the first `key=` line ('' when empty), undefined without one. */
function lineValue(lines: string[], key: string): string | undefined {
  return lines.find((l) => l.startsWith(`${key}=`))?.slice(key.length + 1).trim();
}

/** The lines STATE_LINES and AUDIT_LINES printed (among others) -> DeployState. */
export function parseDeployState(lines: string[]): DeployState {
  const lock = lineValue(lines, 'lock');
  return {
    tag: lineValue(lines, 'tag') ?? '', revert: lineValue(lines, 'revert') ?? '',
    ...(lock !== undefined ? { lock: lock || '(owner unknown)' } : {}),
    audit: lines.filter((l) => l.startsWith('audit=')).map((l) => l.slice('audit='.length)),
  };
}

export interface HostStatus extends DeployState {
  host: string;
  /** Roles pallet.yml puts on this host. */
  roles: string[];
  containers: ContainerStatus[];
  /** Set when the host could not be asked. */
  error?: string;
  /** The host checks (engine, disk, clock, ports), when they ran. */
  checks?: HostChecks;
}

/** Epoch seconds of docker's RFC 3339 time with nanoseconds (`2026-11-29T22:26:36.123456789Z`), NaN if unreadable. */
export function parseDockerDate(s: string): number {
  const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$/.exec(s.trim());
  if (!m) return NaN;
  return Date.parse(`${m[1]}.${(m[2] ?? '0').padEnd(3, '0').slice(0, 3)}${m[3]}`) / 1000;
}

/** What statusArgv printed on one host -> HostStatus; `image` is the app's repository (its digests are the ones shown). */
export function parseStatus(host: string, roles: string[], stdout: string, image = ''): HostStatus {
  const lines = stdout.split('\n');
  const now = Number(lineValue(lines, 'now'));
  const digests = new Map(lines.filter((l) => l.startsWith('image=')).map((l) => {
    const [id, json] = l.slice('image='.length).split(' ');
    return [id, digestOf(json ?? '', image)] as const;
  }));
  const containers = lines.filter((l) => l.startsWith('container=')).map((l): ContainerStatus => {
    const [name, id, role, tag, restarts, imageId, stateJson] = l.slice('container='.length).split('\t');
    let st: { Status?: string; StartedAt?: string; Health?: { Status?: string } } = {};
    try { st = JSON.parse(stateJson ?? '{}') as typeof st; } catch { /* shown as an unknown state */ }
    const state = st.Status ?? 'unknown';
    const health = st.Health?.Status ?? '';
    const startedAt = st.StartedAt ?? '';
    const started = parseDockerDate(startedAt);
    const c: ContainerStatus = {
      name: (name ?? '').replace(/^\//, ''), id: (id ?? '').slice(0, 12), role: role ?? '', tag: tag ?? '', digest: digests.get(imageId ?? '') ?? '',
      state, health, restarts: Number(restarts) || 0, startedAt,
    };
    if (c.state === 'running' && Number.isFinite(started) && Number.isFinite(now)) c.uptime = Math.max(0, Math.round(now - started));
    return c;
  });
  const { tag, revert, lock, audit } = parseDeployState(lines);
  return { host, roles, tag, revert, ...(lock !== undefined ? { lock } : {}), containers, audit };
}

/** 59s, 4m12s, 3h05m, 2d04h. */
export function formatUptime(seconds: number | undefined): string {
  if (seconds === undefined) return '-';
  const s = Math.floor(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
  return `${Math.floor(s / 86400)}d${String(Math.floor((s % 86400) / 3600)).padStart(2, '0')}h`;
}

export const CONTAINER_HEADER = ['host', 'role', 'container', 'tag', 'digest', 'state', 'health', 'restarts', 'uptime'];

/**
 * The health cell of a container (pure): Docker's HEALTHCHECK state when the image has one; else, for a
 * running container, `none` and what the deploy checked instead: a web role's health path (`check` is
 * the path) or that a role without one stays up (`check` is ''); `-` for a container that is not running.
 */
export function healthCell(c: Pick<ContainerStatus, 'health' | 'state'>, check?: string): string {
  if (c.health) return c.health;
  if (c.state !== 'running') return '-';
  if (check === undefined) return 'none (no HEALTHCHECK)';
  return check ? `none (no HEALTHCHECK; the deploy checked ${check})` : 'none (no HEALTHCHECK; the deploy checked it stays up)';
}

/**
 * Table rows: each selected role on each of its hosts (a role with no container says `missing`),
 * then any other container of the app (a leftover candidate, a running exec). `roles` limits
 * the rows to those roles (status --role). `checks`: per role what the deploy health-checks (a web
 * role's path, '' for the others), for the health cell of an image without a HEALTHCHECK.
 */
export function containerRows(hosts: HostStatus[], roles?: string[], checks: Record<string, string> = {}): string[][] {
  const rows: string[][] = [];
  for (const h of hosts) {
    if (h.error) { rows.push([h.host, h.roles.join('+'), '-', '-', '-', `unreachable: ${h.error}`, '-', '-', '-']); continue; }
    const wanted = h.roles.filter((r) => !roles || roles.includes(r));
    for (const role of wanted) {
      const cs = h.containers.filter((c) => c.role === role);
      if (!cs.length) rows.push([h.host, role, '-', '-', '-', 'missing', '-', '-', '-']);
      for (const c of cs) rows.push([h.host, role, c.name, c.tag || '-', digestCell(c), c.state, healthCell(c, Object.hasOwn(checks, role) ? checks[role] : undefined), String(c.restarts), formatUptime(c.uptime)]);
    }
    if (roles) continue;
    for (const c of h.containers.filter((x) => !h.roles.includes(x.role))) {
      rows.push([h.host, c.role || '(none)', c.name, c.tag || '-', digestCell(c), c.state, healthCell(c), String(c.restarts), formatUptime(c.uptime)]);
    }
  }
  return rows;
}

/** `sha256:` and 12 hex digits, or `-` for an image without a registry digest. */
function digestCell(c: Pick<ContainerStatus, 'digest'>): string {
  return c.digest ? shortDigest(c.digest) : '-';
}

export const STATE_HEADER = ['host', 'TAG', 'REVERT', 'deploy lock'];

/** One row per host (or a swarm's manager): TAG, REVERT and the lock; `?` where it could not be asked. */
export function stateRows(hosts: (DeployState & { host: string; error?: string })[]): string[][] {
  return hosts.map((h) => (h.error ? [h.host, '?', '?', '?'] : [h.host, h.tag || '(none)', h.revert || '(none)', h.lock ? `held by ${h.lock}` : 'free']));
}

/** One problem per line a person should act on (exit 1 when any). */
export function statusProblems(hosts: HostStatus[], roles?: string[]): string[] {
  const out: string[] = [];
  for (const h of hosts) {
    if (h.error) { out.push(`${h.host}: ${h.error}`); continue; }
    // Never deployed, or removed: one line, not one per role.
    if (!h.tag && !h.containers.length && !h.lock) { out.push(`${h.host}: the app is not deployed here (no TAG, no container)`); continue; }
    for (const role of h.roles.filter((r) => !roles || roles.includes(r))) {
      const cs = h.containers.filter((c) => c.role === role);
      if (!cs.some((c) => c.state === 'running')) out.push(`${h.host}: no running ${role} container`);
      for (const c of cs) {
        if (c.health === 'unhealthy') out.push(`${h.host}: ${c.name} is unhealthy`);
        if (c.tag && h.tag && c.tag !== h.tag) out.push(`${h.host}: ${c.name} runs ${c.tag} but TAG says ${h.tag}`);
      }
    }
  }
  return out;
}
