// A fake Swarm manager for unit tests: the fake host's state commands (TAG, REVERT, lock, audit)
// plus the Swarm commands a deploy runs, answering in Docker's formats. `docker stack deploy`
// reads the Compose document from stdin and updates the one service it names: a release whose
// health is 2xx completes the update; any other is rolled back by "Swarm" (the old image runs
// again, the update says rollback_completed), as a start-first update with failure_action
// rollback does. Release tasks are Swarm jobs whose task completes or fails with the release's
// exit code. Three nodes, all ready.
import type { RemoteResult } from '../../src/ssh/connection.js';
import type { SshTarget } from '../../src/ssh/host.js';
import { FakeHost, type FakeFleet } from './fake-host.js';

interface Task { id: string; node: string; image: string; desired: string; current: string; error: string }
export interface FakeService {
  id: string;
  name: string;
  image: string;
  mode: 'global' | 'replicated';
  replicas: number;
  version: number;
  update?: { State: string; Message: string; StartedAt: string };
  tasks: Task[];
  previous?: string;
  labels: Record<string, string>;
}

const NODES = ['lab-host-1', 'lab-host-2', 'lab-host-3'];
const ok = (stdout = ''): RemoteResult => ({ exitCode: 0, stdout, stderr: '' });
const fail = (exitCode: number, stderr: string): RemoteResult => ({ exitCode, stdout: '', stderr });
const tagOf = (ref: string) => { const r = ref.split('@')[0]; return r.slice(r.lastIndexOf(':') + 1); };

export class FakeManager extends FakeHost {
  readonly services = new Map<string, FakeService>();
  /** Job outputs by job name (kept after the job is removed). */
  readonly jobs = new Map<string, string>();
  private seq = 0;
  private clock = 0;

  constructor(target: SshTarget, private readonly swarm: FakeFleet) {
    super(target, swarm);
    Object.assign(this.handlers, {
      'docker node': () => ok(NODES.map((n) => `${n}\tReady\tActive`).join('\n') + '\n'),
      'ensure-overlay-network': () => ok(),
      'service-inspect': (a: readonly string[]) => {
        const s = this.services.get(a[0]);
        return ok(s ? `${s.id}\t${s.image}\t${s.update ? JSON.stringify(s.update) : 'null'}\t${s.version}\n` : '');
      },
      'docker stack': (a: readonly string[], input?: string) => this.stackDeploy(a[a.length - 1], input ?? ''),
      'docker service': (a: readonly string[]) => this.service(a.slice(a.indexOf('service') + 1)),
      'job-logs': (a: readonly string[]) => ok(this.jobs.get(this.byId(a[a.length - 1])?.name ?? '') ?? ''),
      'remove-stack': (a: readonly string[]) => {
        const ours = [...this.services.values()].filter((x) => x.name.startsWith(`${a[0]}_`) && !x.labels.job);
        for (const x of ours) this.services.delete(x.name);
        return ok(`services=${ours.length}\nnetwork=1\n`);
      },
    });
  }

  /** What runs: `service=tag running/desired` sorted. */
  serviceTags(): string[] {
    return [...this.services.values()].filter((s) => !s.labels.job)
      .map((s) => `${s.name}=${tagOf(s.image)} ${s.tasks.filter((t) => t.desired === 'running' && tagOf(t.image) === tagOf(s.image) && t.current.startsWith('Running')).length}/${s.tasks.filter((t) => t.desired === 'running').length}`).sort();
  }

  private byId(id: string): FakeService | undefined {
    return [...this.services.values()].find((s) => s.id === id);
  }

  private tasksFor(image: string, n: number, mode: FakeService['mode']): Task[] {
    return Array.from({ length: mode === 'global' ? NODES.length : n }, (_, i) => ({
      id: `task${String(++this.seq).padStart(8, '0')}`, node: NODES[i % NODES.length], image, desired: 'running', current: 'Running 1 second ago', error: '',
    }));
  }

  private stackDeploy(stack: string, doc: string): RemoteResult {
    const parsed = JSON.parse(doc) as { services: Record<string, { image: string; deploy: { mode: 'global' | 'replicated'; replicas?: number; labels: Record<string, string> } }> };
    for (const [role, spec] of Object.entries(parsed.services)) {
      const name = `${stack}_${role}`;
      // `repo:tag@digest` (a deploy by digest) is resolved by its digest, as Swarm does; `repo:tag` gets one.
      const [named, pinned] = spec.image.split('@');
      const lookup = pinned ? `${named.slice(0, named.lastIndexOf(':'))}@${pinned}` : spec.image;
      if (!this.images.has(lookup) && !this.swarm.registry.has(lookup)) return fail(1, `image ${spec.image} could not be accessed on a registry`);
      const image = pinned ? spec.image : `${spec.image}@sha256:${'cd'.repeat(32)}`;
      const cur = this.services.get(name);
      const healthy = (tag: string) => {
        const rel = this.swarm.release(tag);
        const h = rel.health ?? 200;
        return typeof h === 'number' && h >= 200 && h < 300 && !rel.unstableRoles?.includes(role);
      };
      if (!cur) {
        this.services.set(name, { id: `svc${++this.seq}`, name, image, mode: spec.deploy.mode, replicas: spec.deploy.replicas ?? 1, version: 1, tasks: this.tasksFor(image, spec.deploy.replicas ?? 1, spec.deploy.mode), labels: spec.deploy.labels });
        continue;
      }
      if (cur.image === image) continue;
      cur.version++;
      const started = `2026-12-03T00:00:${String(++this.clock).padStart(2, '0')}Z`;
      if (healthy(tagOf(image))) {
        for (const t of cur.tasks) { t.desired = 'shutdown'; t.current = 'Shutdown 1 second ago'; }
        cur.previous = cur.image;
        cur.image = image;
        cur.tasks.unshift(...this.tasksFor(image, cur.replicas, cur.mode));
        cur.update = { State: 'completed', Message: 'update completed', StartedAt: started };
      } else {
        const failed = { id: `task${String(++this.seq).padStart(8, '0')}`, node: NODES[0], image, desired: 'shutdown', current: 'Failed 1 second ago', error: 'task: non-zero exit (1): dockerexec: unhealthy container' };
        cur.tasks.unshift(failed);
        cur.update = { State: 'rollback_completed', Message: `update rolled back due to failure or early termination of task ${failed.id}`, StartedAt: started };
      }
    }
    return ok();
  }

  private service(a: readonly string[]): RemoteResult {
    const [verb] = a;
    if (verb === 'ps') {
      const s = this.byId(a[a.length - 1]);
      return ok((s?.tasks ?? []).map((t) => [t.id, t.node, t.image, t.desired === 'running' ? 'Running' : t.desired === 'complete' ? 'Complete' : 'Shutdown', t.current, t.error].join('\t')).join('\n') + '\n');
    }
    if (verb === 'rm') {
      const s = this.byId(a[1]);
      if (s) this.services.delete(s.name);
      return ok(`${a[1]}\n`);
    }
    if (verb === 'rollback') {
      const s = this.byId(a[a.length - 1]);
      if (s?.previous) { s.image = s.previous; s.tasks = this.tasksFor(s.image, s.replicas, s.mode); s.update = { State: 'rollback_completed', Message: 'rollback completed', StartedAt: `x${++this.clock}` }; }
      return ok();
    }
    if (verb === 'create') {
      const name = a[a.indexOf('--name') + 1];
      const ref = a.find((x) => this.swarm.registry.has(x.split('@')[0]))!;
      const rel = this.swarm.release(tagOf(ref));
      const task: Task = rel.taskExit
        ? { id: `job${++this.seq}`, node: NODES[0], image: ref, desired: 'shutdown', current: 'Failed 1 second ago', error: `task: non-zero exit (${rel.taskExit})` }
        : { id: `job${++this.seq}`, node: NODES[0], image: ref, desired: 'complete', current: 'Complete 1 second ago', error: '' };
      const id = `job${this.seq}`;
      this.services.set(name, { id, name, image: ref, mode: 'replicated', replicas: 1, version: 1, tasks: [task], labels: { job: '1' } });
      this.jobs.set(name, rel.taskOutput ?? (rel.taskExit ? 'migration failed' : 'Operations to perform: none'));
      return ok(`${id}\n`);
    }
    return fail(1, `fake manager: docker service ${verb} is not modelled`);
  }
}
