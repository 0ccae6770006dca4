// Pure: every command a Swarm deploy runs on the manager, as an argument vector, and parsers of
// what they print. Data (names, tags, paths) only travels as positional arguments; the one shell
// script is a constant run as `sh -c SCRIPT sh ARG...`.
import { remoteScript } from '../host/script.js';

// With a per-deploy DOCKER_CONFIG the CLI reads registry credentials only from that directory;
// --with-registry-auth then sends them to the nodes with the service spec.
const withConfig = (dir: string | undefined, argv: string[]) => (dir ? ['env', `DOCKER_CONFIG=${dir}`, ...argv] : argv);

/** `LocalNodeState ControlAvailable`, e.g. `active true` on a manager. */
export function swarmInfoArgv(): string[] {
  return ['docker', 'info', '--format', '{{.Swarm.LocalNodeState}} {{.Swarm.ControlAvailable}}'];
}

/** Pure: undefined if this node is an active manager, else what is wrong and what to do. */
export function swarmInfoProblem(stdout: string): string | undefined {
  const [state, control] = stdout.trim().split(/\s+/);
  if (state === 'active' && control === 'true') return undefined;
  if (state === 'active') return 'is a Swarm worker, not a manager (run `docker node promote` for it, or name a manager in deploy.swarm.manager)';
  return `is not part of an active swarm (state '${state || 'unknown'}'; run \`docker swarm init\` there, see docs/swarm.md)`;
}

/** `docker node ls --format`: one `HOSTNAME<TAB>STATUS<TAB>AVAILABILITY` line per node, read by parseNodes. */
export const NODE_FORMAT = '{{.Hostname}}\t{{.Status}}\t{{.Availability}}';

export function nodeListArgv(): string[] {
  return ['docker', 'node', 'ls', '--format', NODE_FORMAT];
}

export interface NodeInfo { hostname: string; status: string; availability: string }

export function parseNodes(stdout: string): NodeInfo[] {
  return stdout.split('\n').filter((l) => l.trim()).map((l) => {
    const [hostname, status, availability] = l.split('\t');
    return { hostname, status: (status ?? '').toLowerCase(), availability: (availability ?? '').toLowerCase() };
  });
}

// The app's overlay network: created once, left in place (services of the stack are on it).
const ENSURE_NETWORK = `n="$1"; app="$2"
docker network inspect "$n" >/dev/null 2>&1 && exit 0
docker network create --driver overlay --label "pallet.app=$app" "$n" >/dev/null`;

export function ensureNetworkArgv(network: string, app: string): string[] {
  return remoteScript('ensure-overlay-network', ENSURE_NETWORK, network, app);
}

/** Deploys the Compose document on stdin into the stack; --resolve-image pins tags to digests. */
export function stackDeployArgv(stack: string, dockerConfig?: string): string[] {
  return withConfig(dockerConfig, ['docker', 'stack', 'deploy', '--with-registry-auth', '--resolve-image', 'always', '-c', '-', stack]);
}

/** Pulls a reference on the manager: proves the tag exists (and the login works) before any change. */
export function pullArgv(ref: string, dockerConfig?: string): string[] {
  return withConfig(dockerConfig, ['docker', 'pull', '-q', ref]);
}

// --- services -----------------------------------------------------------------------------

const SERVICE_FORMAT = '{{.ID}}\t{{.Spec.TaskTemplate.ContainerSpec.Image}}\t{{json .UpdateStatus}}\t{{.Version.Index}}';

/** One line per existing service (missing ones print nothing; exit 0 either way). */
export function serviceInspectArgv(name: string): string[] {
  return remoteScript('service-inspect', `docker service inspect --format '${SERVICE_FORMAT}' "$1" 2>/dev/null || true`, name);
}

export interface UpdateStatus { state: string; message: string; startedAt: string }

export interface ServiceInfo {
  id: string;
  /** The spec's image, usually `repo:tag@sha256:...`. */
  image: string;
  update?: UpdateStatus;
  version: number;
}

/** `{{json .UpdateStatus}}` -> UpdateStatus; undefined before the service's first update. */
export function parseUpdateStatus(json: string | undefined): UpdateStatus | undefined {
  try {
    const u = JSON.parse(json ?? '') as { State?: string; Message?: string; StartedAt?: string } | null;
    if (u && u.State) return { state: u.State, message: u.Message ?? '', startedAt: u.StartedAt ?? '' };
  } catch { /* no update yet: 'null' or '<no value>' */ }
  return undefined;
}

export function parseServiceInfo(stdout: string): ServiceInfo | undefined {
  const line = stdout.split('\n').find((l) => l.trim());
  if (!line) return undefined;
  const [id, image, status, version] = line.split('\t');
  return { id, image, update: parseUpdateStatus(status), version: Number(version) || 0 };
}

/** `repo:tag@sha256:...` -> `tag` (the tag the spec names; '' if none). */
export function tagOf(imageRef: string): string {
  const noDigest = imageRef.split('@')[0];
  const slash = noDigest.lastIndexOf('/');
  const colon = noDigest.lastIndexOf(':');
  return colon > slash ? noDigest.slice(colon + 1) : '';
}

/**
 * `docker service ps --format`: one line per task, newest first within each slot (history
 * included), read by parseTasks. CurrentState is Docker's text, e.g. `Running 3 hours ago`.
 */
export const TASK_FORMAT = '{{.ID}}\t{{.Node}}\t{{.Image}}\t{{.DesiredState}}\t{{.CurrentState}}\t{{.Error}}';

export function serviceTasksArgv(serviceId: string): string[] {
  return ['docker', 'service', 'ps', '--no-trunc', '--format', TASK_FORMAT, serviceId];
}

export interface TaskInfo {
  id: string;
  /** Hostname of the node the task was given to ('' while unassigned). */
  node: string;
  image: string;
  /** What Swarm wants, lower case: running, complete (jobs), shutdown, ... */
  desired: string;
  /** What the task is, as Docker says it: `Running 3 hours ago`, `Failed 9 seconds ago`, ... */
  current: string;
  error: string;
}

export function parseTasks(stdout: string): TaskInfo[] {
  return stdout.split('\n').filter((l) => l.trim()).map((l) => {
    const [id, node, image, desired, current, error] = l.split('\t');
    return { id, node, image, desired: (desired ?? '').toLowerCase(), current: current ?? '', error: (error ?? '').replace(/^"|"$/g, '') };
  });
}

export interface TaskCount {
  /** Tasks Swarm wants running. */
  desired: number;
  /** Of those, running on the given tag. */
  running: number;
  /** Nodes whose wanted task is not yet running on the tag. */
  behind: string[];
}

/** Pure: how far the service's wanted tasks are on `tag`. */
export function countTasks(tasks: TaskInfo[], tag: string): TaskCount {
  const wanted = tasks.filter((t) => t.desired === 'running');
  const onTag = (t: TaskInfo) => tagOf(t.image) === tag && /^running/i.test(t.current);
  return {
    desired: wanted.length,
    running: wanted.filter(onTag).length,
    behind: [...new Set(wanted.filter((t) => !onTag(t)).map((t) => t.node))].sort(),
  };
}

/** The first task Swarm wants running that does run (in Docker's listing order), if any. */
export function runningTask(tasks: TaskInfo[]): TaskInfo | undefined {
  return tasks.find((t) => t.desired === 'running' && /^running/i.test(t.current));
}

/** A task that failed or was rejected (and is not wanted running any more). */
export function isFailedTask(t: TaskInfo): boolean {
  return t.desired !== 'running' && (t.error !== '' || /^(failed|rejected)/i.test(t.current));
}

/** The task Swarm names in "update rolled back due to failure or early termination of task X". */
export function failedTaskOf(message: string): string | undefined {
  return /task ([a-z0-9]{10,})/.exec(message)?.[1];
}

/** Pure: the reason Swarm gave for a rollback, from the failed task's error (or its message). */
export function rollbackReason(update: UpdateStatus | undefined, tasks: TaskInfo[]): string {
  const id = failedTaskOf(update?.message ?? '');
  const task = id ? tasks.find((t) => t.id.startsWith(id) || id.startsWith(t.id)) : undefined;
  const failed = task && isFailedTask(task) ? task : tasks.find(isFailedTask);
  const parts = [update?.message, failed ? `task on ${failed.node}: ${failed.error || failed.current}` : undefined].filter(Boolean);
  return parts.join('; ') || 'no reason given';
}

export function serviceRemoveArgv(id: string): string[] {
  return ['docker', 'service', 'rm', id];
}

/** Asks Swarm to put the service back on its previous spec (used when an update stalls). */
export function serviceRollbackArgv(id: string): string[] {
  return ['docker', 'service', 'rollback', '--detach', id];
}

// --- one-off Swarm jobs: release tasks and exec -----------------------------------------------

export interface JobSpec {
  name: string;
  app: string;
  image: string;
  tag: string;
  /** What the job runs: release tasks and `exec` are told apart by their pallet.role label. */
  kind: 'task' | 'exec';
  /** The exact reference to run (exec: the service's `repo:tag@sha256:...`); default image:tag. */
  ref?: string;
  network: string;
  envFile?: string;
  /** Placement constraints, e.g. `node.hostname==node1`. */
  constraints?: string[];
  command: string[];
}

/** `--mode replicated-job` (Engine 20.10+): one task, never restarted, on the app's network. */
export function jobCreateArgv(j: JobSpec, dockerConfig?: string): string[] {
  const argv = ['docker', 'service', 'create', '--detach', '--quiet', '--with-registry-auth', '--name', j.name,
    '--mode', 'replicated-job', '--restart-condition', 'none', '--network', j.network,
    '--label', `pallet.app=${j.app}`, '--label', `pallet.role=${j.kind}`, '--label', `pallet.tag=${j.tag}`];
  for (const c of j.constraints ?? []) argv.push('--constraint', c);
  if (j.envFile) argv.push('--env-file', j.envFile);
  argv.push(j.ref ?? `${j.image}:${j.tag}`, ...j.command);
  return withConfig(dockerConfig, argv);
}

/** A job's output without Docker's prefix, stdout and stderr as one stream in the order Docker sent them. */
export function serviceLogsArgv(id: string): string[] {
  return remoteScript('job-logs', 'exec "$@" 2>&1', 'docker', 'service', 'logs', '--raw', '--no-task-ids', id);
}

export type JobState = 'pending' | 'complete' | 'failed';

/**
 * Pure: a job's one task -> done or not, how it failed, and the command's exit code where the
 * task says it (0 when complete; N from Docker's `task: non-zero exit (N)` error).
 */
export function jobState(tasks: TaskInfo[]): { state: JobState; error?: string; exitCode?: number } {
  const t = tasks[0];
  if (!t) return { state: 'pending' };
  if (/^complete/i.test(t.current)) return { state: 'complete', exitCode: 0 };
  if (/^(failed|rejected|shutdown|orphaned)/i.test(t.current)) {
    const code = /non-zero exit \((\d+)\)/.exec(t.error)?.[1];
    return { state: 'failed', error: t.error || t.current, ...(code !== undefined ? { exitCode: Number(code) } : {}) };
  }
  return { state: 'pending' };
}
