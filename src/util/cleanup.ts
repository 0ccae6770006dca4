// What must be undone if the job dies: containers and networks of a cleanroom run, SSH
// control sockets and key files, deploy locks. Each stage records an item *before* it makes
// the resource, the list is saved to the action's state at once, and both the `finally` of a
// command and the action's post step (which runs even after cancellation) undo them. Undoing
// is idempotent, so the post step may repeat what the main step already did.
import { reporter } from './reporter.js';
import { errorMessage } from '../errors.js';

export type CleanupItem =
  /** Containers and networks labelled `label=value` on the local engine. */
  | { kind: 'docker-label'; label: string; value: string }
  /** A local file or directory (key files, temp dirs). */
  | { kind: 'path'; path: string }
  /** A per-run ssh-agent (pid, and the socket it listens on) to stop. */
  | { kind: 'ssh-agent'; pid: number; socket: string }
  /** An SSH ControlMaster socket to close (`ssh -O exit`). */
  | { kind: 'ssh-master'; socket: string; destination: string; args: string[] }
  /** A deploy lock held on a host; released through a fresh connection when needed. */
  | { kind: 'deploy-lock'; host: string; app: string; token: string; sshArgs: string[] }
  /** A per-deploy DOCKER_CONFIG directory (registry credentials) on a host; removed over a fresh connection. */
  | { kind: 'remote-docker-config'; host: string; path: string; sshArgs: string[] };

export type CleanupHandler<K extends CleanupItem['kind']> = (item: Extract<CleanupItem, { kind: K }>) => Promise<void>;

const STATE_KEY = 'pallet-cleanup';
const handlers = new Map<string, (item: CleanupItem) => Promise<void>>();

/** Stages register how to undo their kind of item (import side effect of their cleanup module). */
export function registerCleanupHandler<K extends CleanupItem['kind']>(kind: K, fn: CleanupHandler<K>): void {
  handlers.set(kind, fn as (item: CleanupItem) => Promise<void>);
}

export class CleanupLedger {
  private items: CleanupItem[] = [];
  constructor(initial: CleanupItem[] = []) { this.items = [...initial]; }

  static fromState(): CleanupLedger {
    const raw = reporter().getState(STATE_KEY);
    return new CleanupLedger(raw ? (JSON.parse(raw) as CleanupItem[]) : []);
  }

  add(item: CleanupItem): void {
    this.items.push(item);
    this.persist();
  }

  /** Forget an item that was undone in the normal course of things. */
  done(item: CleanupItem): void {
    const key = JSON.stringify(item);
    this.items = this.items.filter((i) => JSON.stringify(i) !== key);
    this.persist();
  }

  list(): readonly CleanupItem[] { return this.items; }

  /** Undo everything, newest first; one failure does not stop the rest. Returns what failed. */
  async runAll(): Promise<string[]> {
    const failures: string[] = [];
    for (const item of [...this.items].reverse()) {
      const fn = handlers.get(item.kind);
      try {
        if (!fn) throw new Error(`no cleanup handler for ${item.kind}`);
        await fn(item);
        this.done(item);
      } catch (e) {
        failures.push(`${item.kind}: ${errorMessage(e)}`);
      }
    }
    for (const f of failures) reporter().warning(`cleanup: ${f}`);
    return failures;
  }

  private persist(): void {
    reporter().saveState(STATE_KEY, JSON.stringify(this.items));
  }
}
