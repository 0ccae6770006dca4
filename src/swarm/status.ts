// Pure: `pallet status` on a Docker Swarm. One script on the manager prints the deploy state kept
// there (TAG, REVERT, the lock owner, the last audit lines: the same lines as a fleet host), the
// nodes, and every service labelled with the app (pallet.app, set on services and jobs alike)
// with its tasks. The parser turns that into SwarmStatus; the rows feed the tables. Formats are
// Go templates of `docker service inspect`, `docker service ps` and `docker node ls`
// (https://docs.docker.com/engine/cli/formatting/).
import { stateDir } from '../deploy/commands.js';
import { AUDIT_LINES, STATE_LINES, parseDeployState, type DeployState } from '../ops/status.js';
import {
  NODE_FORMAT, TASK_FORMAT, isFailedTask, parseNodes, parseTasks, parseUpdateStatus, tagOf,
  type NodeInfo, type TaskInfo, type UpdateStatus,
} from './commands.js';

// Spec.Mode goes out as JSON: a global service has no Replicated key, and a template naming a
// missing key fails. UpdateStatus is JSON for parseServiceInfo (null before the first update).
const SERVICE_FORMAT = [
  '{{.Spec.Name}}', '{{index .Spec.Labels "pallet.role"}}', '{{.Spec.TaskTemplate.ContainerSpec.Image}}',
  '{{json .UpdateStatus}}', '{{json .Spec.Mode}}',
].join('\t');

// A service removed between `ls` and `inspect` is skipped. Lines: `service=ID<TAB>SERVICE_FORMAT`,
// `task=SERVICE-ID<TAB>TASK_FORMAT`, `node=NODE_FORMAT`, and the state lines.
const STATUS = `d="$1"; app="$2"; n="$3"; sfmt="$4"; tfmt="$5"; nfmt="$6"
${STATE_LINES}
nodes=$(docker node ls --format "$nfmt") || exit 2
printf '%s\\n' "$nodes" | sed 's/^/node=/'
ids=$(docker service ls -q --filter "label=pallet.app=$app") || exit 2
for id in $ids; do
  s=$(docker service inspect --format "$sfmt" "$id" 2>/dev/null) || continue
  printf 'service=%s\\t%s\\n' "$id" "$s"
  docker service ps --no-trunc --format "$tfmt" "$id" | while IFS= read -r l; do printf 'task=%s\\t%s\\n' "$id" "$l"; done
done
${AUDIT_LINES}
exit 0`;

/** The one command `status` runs on the manager. `auditLines`: how many audit.log lines to show. */
export function swarmStatusArgv(app: string, auditLines = 5): string[] {
  return ['sh', '-c', STATUS, 'sh', stateDir(app), app, String(auditLines), SERVICE_FORMAT, TASK_FORMAT, NODE_FORMAT];
}

export interface ServiceStatus {
  /** `<stack>_<role>` for the app's roles; a job's name for release tasks and exec. */
  service: string;
  /** The pallet.role label: the role, or `task` / `exec` for jobs. */
  role: string;
  /** The spec's image, `repo:tag@sha256:...` once pinned by `docker stack deploy`. */
  image: string;
  tag: string;
  /** Docker's service mode: global, replicated, replicated-job or global-job. */
  mode: string;
  /** Tasks Swarm wants: the replica count, else the tasks it keeps (global: one per eligible node). */
  desired: number;
  /** Of the current tasks, those running (a task with a health check runs once it is healthy). */
  running: number;
  /** Swarm's last update of the service (completed, paused, rollback_completed, ...). */
  update?: UpdateStatus;
  /** The current tasks (what Swarm wants running, or a job's task), not the history. */
  tasks: TaskInfo[];
  /** The newest failed or rejected task in the history, if any (Docker lists each slot newest first). */
  lastFailure?: TaskInfo;
}

export interface SwarmStatus extends DeployState {
  /** The manager's label, as written in deploy.swarm.manager. */
  manager: string;
  nodes: NodeInfo[];
  services: ServiceStatus[];
  /** Set when the manager could not be asked. */
  error?: string;
}

/** `{"Replicated":{"Replicas":3}}` -> replicated and 3; `{"ReplicatedJob":{...}}` -> replicated-job. */
function parseMode(json: string): { mode: string; replicas?: number } {
  try {
    const m = JSON.parse(json) as Record<string, { Replicas?: number } | null>;
    const key = Object.keys(m)[0] ?? '';
    return { mode: key.replace(/([a-z])([A-Z])/g, '$1-$2').toLowerCase() || 'unknown', replicas: m.Replicated?.Replicas };
  } catch {
    return { mode: 'unknown' };
  }
}

/** What swarmStatusArgv printed on the manager -> SwarmStatus. */
export function parseSwarmStatus(manager: string, stdout: string): SwarmStatus {
  const lines = stdout.split('\n');
  const after = (prefix: string) => lines.filter((l) => l.startsWith(prefix)).map((l) => l.slice(prefix.length));
  const tasks = after('task=').map((l) => ({ id: l.slice(0, l.indexOf('\t')), task: parseTasks(l.slice(l.indexOf('\t') + 1))[0] }));
  const services = after('service=').map((l): ServiceStatus => {
    const [id, name, role, image, update, mode] = l.split('\t');
    const all = tasks.filter((t) => t.id === id && t.task).map((t) => t.task);
    const current = all.filter((t) => t.desired !== 'shutdown' && t.desired !== 'remove');
    const m = parseMode(mode ?? '');
    const lastFailure = all.find(isFailedTask);
    const up = parseUpdateStatus(update);
    return {
      service: name ?? '', role: role ?? '', image: image ?? '', tag: tagOf(image ?? ''), mode: m.mode,
      desired: m.replicas ?? current.length,
      running: current.filter((t) => /^running/i.test(t.current)).length,
      ...(up ? { update: up } : {}),
      tasks: current,
      ...(lastFailure ? { lastFailure } : {}),
    };
  });
  return { manager, ...parseDeployState(lines), nodes: parseNodes(after('node=').join('\n')), services };
}

/** The status of a manager that could not be asked: nothing known but the reason. */
export function unreachableStatus(manager: string, error: string): SwarmStatus {
  return { manager, tag: '', revert: '', audit: [], nodes: [], services: [], error };
}

/** A service `status` shows: one of the selected roles (status undefined: Swarm has no such service), or another of the app's. */
export interface ServiceView {
  service: string;
  role: string;
  /** A role of pallet.yml (its problems are reported), not a job or a role no longer there. */
  planned: boolean;
  status?: ServiceStatus;
}

/**
 * The services status shows: `planned` (the selected roles' services, in rollout order), then,
 * with `others`, every other service of the app (a release-task or exec job, a role removed
 * from pallet.yml).
 */
export function serviceViews(st: SwarmStatus, planned: { name: string; role: string }[], others: boolean): ServiceView[] {
  const views = planned.map((p): ServiceView => {
    const status = st.services.find((s) => s.service === p.name);
    return { service: p.name, role: p.role, planned: true, ...(status ? { status } : {}) };
  });
  if (!others) return views;
  const rest = st.services.filter((s) => !planned.some((p) => p.name === s.service));
  return [...views, ...rest.map((status) => ({ service: status.service, role: status.role, planned: false, status }))];
}

export const SERVICE_HEADER = ['service', 'role', 'tag', 'mode', 'running/desired', 'update'];

/** One row per service; a selected role without a service says `missing`. */
export function serviceRows(views: ServiceView[]): string[][] {
  return views.map(({ service, role, status: s }) => (s
    ? [service, role || '(none)', s.tag || '-', s.mode, `${s.running}/${s.desired}`, s.update?.state ?? '-']
    : [service, role, '-', '-', 'missing', '-']));
}

export const TASK_HEADER = ['service', 'node', 'tag', 'state', 'error'];

/** One row per current task: the node it was given to, its image tag and Docker's state text. */
export function taskRows(views: ServiceView[]): string[][] {
  return views.flatMap(({ service, status }) => (status?.tasks ?? []).map((t) => [service, t.node || '-', tagOf(t.image) || '-', t.current, t.error || '-']));
}

export const NODE_HEADER = ['node', 'status', 'availability'];

export function nodeRows(st: SwarmStatus): string[][] {
  return st.nodes.map((n) => [n.hostname, n.status, n.availability]);
}

/** One problem per line a person should act on, for the selected roles' services and the nodes. */
export function swarmStatusProblems(st: SwarmStatus, views: ServiceView[]): string[] {
  if (st.error) return [`${st.manager}: ${st.error}`];
  const out = st.nodes.filter((n) => n.status !== 'ready').map((n) => `node ${n.hostname} is ${n.status}`);
  for (const v of views.filter((x) => x.planned)) {
    const s = v.status;
    if (!s) { out.push(`${v.service}: no such service on the swarm (not deployed yet)`); continue; }
    if (s.running < s.desired) {
      const f = s.lastFailure;
      out.push(`${s.service}: ${s.running}/${s.desired} task(s) running${f ? `; last failure on ${f.node || 'no node'}: ${f.error || f.current}` : ''}`);
    }
    if (s.update && /paused$/.test(s.update.state)) out.push(`${s.service}: Swarm's update is ${s.update.state.replace('_', ' ')}${s.update.message ? `: ${s.update.message}` : ''}`);
    for (const t of s.tasks.filter((x) => /^running/i.test(x.current))) {
      const tag = tagOf(t.image);
      if (tag && st.tag && tag !== st.tag) out.push(`${s.service}: the task on ${t.node} runs ${tag} but TAG says ${st.tag}`);
    }
  }
  return out;
}
