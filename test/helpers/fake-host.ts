// A fleet of fake hosts for unit tests: each honours the contract of the remote commands a
// deploy runs (the named scripts `sh -c BODY pallet-NAME ARG...` and the plain docker argv),
// keeps their state in memory (state files, lock, images, containers, the proxy and its routes)
// and answers in the commands' output formats. Releases (image tags) are given behaviours:
// healthy, a status code, a crash, a failing task. Faults: a host that cannot be reached, or is
// lost at a chosen command. No Docker, no ssh, no shell.
import { createHash } from 'node:crypto';
import { HostConnectionError, type HostConnection, type RemoteResult, type RunOptions } from '../../src/ssh/connection.js';
import { UserError } from '../../src/errors.js';
import { scriptName } from '../../src/host/script.js';
import type { SshTarget } from '../../src/ssh/host.js';

/** How containers of one image tag behave. */
export interface Release {
  /** What the health path answers once booted: a status code, or 'crash' (the process exits). Default 200. */
  health?: number | 'crash';
  /** Probes answered with no connection (000) before it serves. Default 0. */
  bootPolls?: number;
  /** Exit code of a release task (`docker run --rm`), with its output. Default 0. */
  taskExit?: number;
  taskOutput?: string;
  /** What `docker logs` of its containers prints. Default: nothing. */
  logs?: string;
  /** Roles whose containers keep restarting (a background role then fails the `stable` check). */
  unstableRoles?: string[];
  /** Its image has no static files directory (deploy.proxy.static.root): place-static exits 4. */
  noStaticRoot?: boolean;
}

export interface FakeContainer {
  name: string;
  image: string;
  tag: string;
  labels: Record<string, string>;
  running: boolean;
  restarts: number;
  network: string;
  hostPort?: number;
  polls: number;
}

interface Route { upstream: string; http: string; https: string; policy: string; order: string }

const ok = (stdout = ''): RemoteResult => ({ exitCode: 0, stdout, stderr: '' });
const fail = (exitCode: number, stderr: string, stdout = ''): RemoteResult => ({ exitCode, stdout, stderr });
const tagOf = (ref: string) => ref.slice(ref.lastIndexOf(':') + 1);

/** The shared registry and release behaviours of a fake fleet. */
export class FakeFleet {
  /** Image references the registry has (pullable). */
  readonly registry = new Set<string>();
  readonly releases = new Map<string, Release>();
  readonly hosts = new Map<string, FakeHost>();
  /** Proxy images whose container does not come up (replace-proxy falls back to the old one). */
  readonly brokenProxyImages = new Set<string>();
  /** Every command of every host as `label name start` / `label name end`, in the order they ran. */
  readonly trace: string[] = [];

  release(tag: string): Release {
    return this.releases.get(tag) ?? {};
  }

  /** Pushes `image:tag` with a behaviour. */
  push(image: string, tag: string, r: Release = {}): void {
    this.registry.add(`${image}:${tag}`);
    this.registry.add(`${image}@${this.digest(image, tag)}`);
    this.releases.set(tag, r);
  }

  /** The manifest digest the fake registry gives `image:tag` (stable per name). */
  digest(image: string, tag: string): string {
    return `sha256:${createHash('sha256').update(`${image}:${tag}`).digest('hex')}`;
  }

  host(label: string): FakeHost {
    const h = this.hosts.get(label);
    if (!h) throw new Error(`no fake host ${label}`);
    return h;
  }

  /** Lets every host's background retire finish (see FakeHost.settle). */
  settle(): void {
    for (const h of this.hosts.values()) h.settle();
  }

  /** Makes the host of a target the first time it is connected (a FakeManager for Swarm tests). */
  make: (t: SshTarget, fleet: FakeFleet) => FakeHost = (t, fleet) => new FakeHost(t, fleet);

  /** The connector the deploy takes (DeployRequest.connect): one host per target, kept across runs. */
  readonly connect = (t: SshTarget): HostConnection => {
    let h = this.hosts.get(t.label);
    if (!h) { h = this.make(t, this); this.hosts.set(t.label, h); }
    return h;
  };
}

export class FakeHost implements HostConnection {
  readonly files = new Map<string, string>();
  readonly images = new Set<string>();
  readonly containers = new Map<string, FakeContainer>();
  readonly routes = new Map<string, Route>();
  /** Proxy config loads: set-route calls that changed a route (an unchanged one loads nothing). */
  configLoads = 0;
  proxy?: { image: string; running: boolean; staticMount?: boolean };
  /** deploy.cron per state dir: the job definitions the tick reads, the prepared next ones, the crontab line. */
  readonly cron = new Map<string, { jobs: string[]; next?: string[]; scheduled: boolean }>();
  /** No crontab command (cron not installed): prepare-cron with jobs exits 5. */
  noCron = false;
  /** deploy.backup per backups dir: the archives there, oldest first, with the client argv that made each. */
  readonly backups = new Map<string, { id: string; client: string[] }[]>();
  /** The database cannot be reached: db-backup exits 3 with pg_dump's connection error. */
  databaseDown = false;
  /** deploy.proxy.static per app directory: the releases whose files are here (oldest first) and the one that wins. */
  readonly statics = new Map<string, { releases: string[]; live: string }>();
  /** Networks on the host (the app networks the proxy joins). */
  readonly networks = new Set<string>();
  /** Each stop-remove as `container signal`, in order. */
  readonly stops: string[] = [];
  /** Every command run, by name (`read-state`, `docker run`, ...), in order. */
  readonly log: string[] = [];
  /** Cannot be reached at all (open fails). */
  unreachable = false;
  /** Once true, every command throws a lost connection. */
  lost = false;
  /** Lose the connection when this command is about to run (then stays lost until `lost = false`). */
  loseAt?: (name: string, argv: readonly string[]) => boolean;
  /** Answers a command with this result instead of running it (undefined = run it). */
  failAt?: (name: string, argv: readonly string[]) => RemoteResult | undefined;
  /** Called before a command runs (e.g. to cancel a deploy at a known point). */
  beforeCommand?: (name: string, argv: readonly string[]) => void;
  /** A retire handed the deploy lock (retire-later) and still "runs": state dir and containers. */
  retiring?: { dir: string; token: string; names: string[] };
  /** A retire-later that "dies" before it is done (as on a host restart): lock and containers stay. */
  retireDies = false;

  constructor(readonly target: SshTarget, private readonly fleet: FakeFleet) {}

  get name(): string { return this.target.label; }

  directPrefix(): string[] { return ['ssh', this.target.label]; }

  async open(): Promise<void> {
    if (this.unreachable) throw new UserError(`${this.name}: ssh: connect to host ${this.target.host} port ${this.target.port}: Connection refused`);
  }

  async close(): Promise<void> {}

  async check(argv: readonly string[], what: string, opts: RunOptions = {}): Promise<RemoteResult> {
    const r = await this.run(argv, opts);
    if (r.exitCode !== 0) throw new Error(`${what} failed on ${this.name} (exit ${r.exitCode}): ${r.stderr || r.stdout || 'no output'}`);
    return r;
  }

  async run(argv: readonly string[], opts: RunOptions = {}): Promise<RemoteResult> {
    const name = scriptName(argv) ?? commandName(argv);
    this.beforeCommand?.(name, argv);
    if (!this.lost && this.loseAt?.(name, argv)) this.lost = true;
    if (this.lost) throw new HostConnectionError(this.name, 'Connection reset by peer');
    this.log.push(name);
    this.fleet.trace.push(`${this.name} ${name} start`);
    await Promise.resolve();
    const args = scriptName(argv) ? argv.slice(4) : argv;
    const forced = this.failAt?.(name, argv);
    if (forced) { this.fleet.trace.push(`${this.name} ${name} end`); return forced; }
    const handler = this.handlers[name];
    if (!handler) throw new Error(`fake host: no handler for '${name}' (${argv.join(' ').slice(0, 120)})`);
    const r = handler(args, opts.input);
    this.fleet.trace.push(`${this.name} ${name} end`);
    return r;
  }

  // --- state helpers for assertions -----------------------------------------------------------

  /** The state dir's file `f` of `app` ('' when absent), without the trailing newline. */
  state(app: string, f: 'TAG' | 'REVERT' | 'audit.log' | 'lock/owner'): string {
    return (this.files.get(`/var/lib/pallet/${app}/${f}`) ?? '').replace(/\n$/, '');
  }

  /** Running containers of the app, as `role=tag` sorted. */
  running(app: string): string[] {
    return [...this.containers.values()].filter((c) => c.labels['pallet.app'] === app && c.running).map((c) => `${c.labels['pallet.role']}=${c.tag}`).sort();
  }

  private container(n: string): FakeContainer | undefined { return this.containers.get(n); }

  private start(argv: readonly string[], restartPolicy: boolean): RemoteResult {
    const nameAt = argv.indexOf('--name');
    const n = argv[nameAt + 1];
    if (this.containers.has(n)) return fail(125, `docker: Error response from daemon: Conflict. The container name "/${n}" is already in use.`);
    const ref = argv.find((a) => this.images.has(a) && a.includes(':'));
    if (!ref) return fail(125, 'Unable to find image locally');
    const labels: Record<string, string> = {};
    argv.forEach((a, i) => { if (a === '--label') { const [k, v] = argv[i + 1].split('='); labels[k] = v; } });
    const p = argv.indexOf('-p');
    const net = argv.indexOf('--network');
    const rel = this.fleet.release(tagOf(ref));
    this.containers.set(n, {
      name: n, image: ref, tag: tagOf(ref), labels, running: rel.health !== 'crash', restarts: restartPolicy && rel.unstableRoles?.includes(labels['pallet.role']) ? 1 : 0,
      network: net >= 0 ? argv[net + 1] : 'bridge', hostPort: p >= 0 ? Number(argv[p + 1].split(':')[0]) : undefined, polls: 0,
    });
    return ok(`${n}-id\n`);
  }

  private remove(n: string): void {
    this.containers.delete(n);
  }

  private rename(from: string, to: string): void {
    const c = this.containers.get(from)!;
    this.containers.delete(from);
    c.name = to;
    this.containers.set(to, c);
  }

  /** A container's identity as make-live sees it: its pallet.name label, else its name (`live`: the name it gets back). */
  private identity(c: FakeContainer, live: string): string {
    return c.labels['pallet.name'] || (c.name === live ? `${live}-${createHash('sha256').update(c.name).digest('hex').slice(0, 8)}` : c.name);
  }

  /** Lets the background retire finish: its containers go, then the lock it holds. */
  settle(): void {
    const r = this.retiring;
    if (!r || this.retireDies) return;
    for (const n of r.names) this.remove(n);
    if (this.files.get(`${r.dir}/lock/token`) === r.token) this.dropLock(r.dir);
    this.retiring = undefined;
  }

  private dropLock(d: string): void {
    for (const f of ['token', 'owner', 'retiring']) this.files.delete(`${d}/lock/${f}`);
  }

  protected readonly handlers: Record<string, (a: readonly string[], input?: string) => RemoteResult> = {
    'docker version': () => ok('20.10.24\n'),
    'docker image inspect': (a) => (this.images.has(a[a.length - 1]) ? ok('sha256:0\n') : fail(1, `Error: No such image: ${a[a.length - 1]}`)),
    'docker login': () => ok('Login Succeeded\n'),
    'docker info': () => ok('active true\n'),
    'docker pull': (a) => {
      const ref = a[a.length - 1];
      if (!this.fleet.registry.has(ref)) return fail(1, `Error response from daemon: manifest for ${ref} not found: manifest unknown`);
      this.images.add(ref);
      return ok(`${tagOf(ref)}: Pulling from x\nDigest: sha256:${'ab'.repeat(32)}\nStatus: Downloaded newer image for ${ref}\n`);
    },
    'pull-digest': (a) => {
      const [image, digest, tag] = a;
      if (!this.fleet.registry.has(`${image}@${digest}`)) return fail(1, `Error response from daemon: manifest for ${image}@${digest} not found: manifest unknown`);
      this.images.add(`${image}:${tag}`);
      return ok(`${image}@${digest}: Pulling from x\nDigest: ${digest}\nStatus: Downloaded newer image for ${image}@${digest}\n`);
    },
    'docker run': (a) => this.start(a, a.includes('--restart')),
    'docker run --rm': (a) => {
      const ref = a.find((x) => this.images.has(x) && x.includes(':'));
      if (!ref) return fail(125, 'Unable to find image locally');
      const rel = this.fleet.release(tagOf(ref));
      return rel.taskExit ? fail(rel.taskExit, rel.taskOutput ?? 'task failed') : ok(rel.taskOutput ?? 'task done\n');
    },
    'docker ps': (a) => {
      const label = a.find((x) => x.startsWith('label=pallet.app='))?.slice('label=pallet.app='.length);
      const names = [...this.containers.values()].filter((c) => !label || c.labels['pallet.app'] === label).map((c) => c.name);
      return a.includes('{{.Names}}') ? ok(names.map((n) => `${n}\n`).join('')) : fail(2, `fake host: docker ps ${a.join(' ')} not modelled`);
    },
    'docker logs': (a) => {
      const c = this.container(a[a.length - 1]);
      return c ? ok(this.fleet.release(c.tag).logs ?? '') : fail(1, 'Error: No such container');
    },
    'docker inspect': (a) => {
      const c = this.container(a[a.length - 1]);
      return c ? ok(`${c.running}\n`) : fail(1, 'Error: No such object');
    },
    'docker image ls': (a) => ok([...this.images].filter((r) => r.startsWith(`${a[a.length - 1]}:`)).map((r, i) => `${tagOf(r)}\t2026-11-2${i} 10:00:00 +0000 UTC`).join('\n')),
    'docker image rm': (a) => { for (const r of a.slice(3)) this.images.delete(r); return ok(); },
    'rm': () => ok(),
    'true': () => ok(),
    'read-state': (a) => {
      const d = a[0];
      const env = [...this.files.keys()].filter((k) => k.startsWith(`${d}/env/`) && k.endsWith('.env')).map((k) => k.slice(`${d}/env/`.length, -4));
      return ok(`tag=${(this.files.get(`${d}/TAG`) ?? '').trim()}\nrevert=${(this.files.get(`${d}/REVERT`) ?? '').trim()}\nenv=${env.join(' ')}\n`);
    },
    'env-file-check': () => ok('OK\n'),
    'acquire-lock': (a) => {
      const [d, tok, owner, brk, wait] = a;
      let out = '';
      if (this.files.has(`${d}/lock/retiring`) && Number(wait) > 0) {
        if (this.retireDies) { this.dropLock(d); this.retiring = undefined; out += 'RETIRE-GONE 4242\n'; } else { this.settle(); out += 'WAITED 0.3\n'; }
      }
      if (brk === '1' && this.files.has(`${d}/lock/token`)) {
        out += `BROKE ${this.files.get(`${d}/lock/owner`)}\n`;
        this.dropLock(d);
      }
      if (this.files.has(`${d}/lock/token`)) return fail(1, '', `${out}HELD ${this.files.get(`${d}/lock/owner`)}\n`);
      this.files.set(`${d}/lock/token`, tok); this.files.set(`${d}/lock/owner`, owner);
      return ok(`${out}ACQUIRED\n${this.handlers['read-state']([d]).stdout}`);
    },
    'release-lock': (a) => {
      const [d, tok] = a;
      if (this.files.get(`${d}/lock/token`) === tok) this.dropLock(d);
      return ok();
    },
    'retire-later': (a) => {
      const [d, tok, , tag, rev, line, ...groups] = a;
      if (this.files.get(`${d}/lock/token`) !== tok) return fail(3, 'the deploy lock is not this deploy\'s\n');
      this.handlers.finish([d, tag, rev, line]);
      this.files.set(`${d}/lock/retiring`, '');
      const names: string[] = [];
      for (let i = 0; i < groups.length;) {
        i += 3;
        while (i < groups.length && groups[i] !== '--') names.push(groups[i++]);
        i++;
      }
      this.retiring = { dir: d, token: tok, names };
      return ok('RETIRING 4242\n');
    },
    'record-revert': (a) => {
      const [d, next] = a;
      const cur = (this.files.get(`${d}/TAG`) ?? '').trim();
      if (cur && cur !== next) this.files.set(`${d}/REVERT`, `${cur}\n`);
      return ok();
    },
    'finish': (a) => {
      const [d, tag, rev, line] = a;
      if (tag) this.files.set(`${d}/TAG`, `${tag}\n`);
      // CRON_SWAP: the prepared jobs go live with a new TAG, or are dropped.
      const c = this.cron.get(d);
      if (c?.next) { if (tag) { c.jobs = c.next; if (!c.jobs.length) c.scheduled = false; } delete c.next; }
      if (rev === '-') this.files.delete(`${d}/REVERT`);
      else if (rev) this.files.set(`${d}/REVERT`, `${rev}\n`);
      this.files.set(`${d}/audit.log`, `${this.files.get(`${d}/audit.log`) ?? ''}${line}\n`);
      return ok();
    },
    'other-apps-tags': (a) => {
      const [root, app] = a;
      const names = [...this.files].filter(([k]) => k.startsWith(`${root}/`) && !k.startsWith(`${root}/${app}/`) && /\/(TAG|REVERT)$/.test(k)).map(([, v]) => v.trim());
      return ok(names.map((n) => `${n}\n`).join(''));
    },
    'append-audit': (a) => { this.files.set(`${a[0]}/audit.log`, `${this.files.get(`${a[0]}/audit.log`) ?? ''}${a[1]}\n`); return ok(); },
    'make-docker-config': () => ok(),
    'release-env': (a, input) => {
      const [d, t, prev, act] = a;
      const f = `${d}/${t}.env`;
      let out = '';
      if (act === 'remove') this.files.delete(f);
      if (act === 'write' || (act === 'fill' && !this.files.has(f))) { this.files.set(f, input ?? ''); out += 'WROTE\n'; }
      if (this.files.has(f)) out += `HAS ${t}\n`;
      if (prev && this.files.has(`${d}/${prev}.env`)) out += `HAS ${prev}\n`;
      return ok(out);
    },
    'existing-files': (a) => ok(a.filter((f) => this.files.has(f)).map((f) => `${f}\n`).join('')),
    'remove-release-env': (a) => { for (const t of a.slice(1)) this.files.delete(`${a[0]}/${t}.env`); return ok(); },
    'stop-remove': (a) => { this.stops.push(`${a[0]} ${a[2]}`); this.remove(a[0]); return ok(); },
    'stable': (a) => {
      const c = this.container(a[0]);
      if (!c) return fail(1, `Error: No such object: ${a[0]}`);
      if (!c.running) return fail(1, '', `container ${a[0]} is not running (false ${c.restarts})\n`);
      if (c.restarts) return fail(1, '', `container ${a[0]} was not stable over ${a[1]}s: true 0 -> true ${c.restarts}\n`);
      return ok(`stable: true 0\n`);
    },
    'start-candidate': (a) => { this.remove(a[0]); return this.start(['--name', ...a], false); },
    'remove-container': (a) => { this.remove(a[0]); return ok(); },
    'http-probe': (a) => {
      const [n, via, port, , , , polls] = a;
      let out = '';
      for (let i = 0; i < Number(polls || 1); i++) {
        const c = via === 'published'
          ? [...this.containers.values()].find((x) => x.hostPort === Number(port) && x.name === n)
          : this.container(n);
        if (!c) return ok(`${out}state=missing\ncode=000\naddress=\nlogs=Error: No such container\nend\n`);
        const rel = this.fleet.release(c.tag);
        c.polls++;
        const addr = via === 'published' ? `127.0.0.1:${port}` : `10.0.0.${this.containers.size}:${port}`;
        if (!c.running) return ok(`${out}state=false 0\ncode=000\naddress=${addr}\nlogs=Traceback: ${c.tag} crashed\nend\n`);
        const code = c.polls <= (rel.bootPolls ?? 0) ? '000' : String(rel.health ?? 200);
        out += `state=true ${c.restarts}\ncode=${code}\naddress=${addr}\n${c.restarts ? 'logs=restarting\n' : ''}end\n`;
        if (code.startsWith('2') || c.restarts) break;
      }
      return ok(out);
    },
    'ensure-proxy': (a) => {
      const img = a[4];
      if (!this.images.has(img)) return fail(6, `the proxy image ${img} is not on this host\n`);
      this.networks.add(a[6]);
      let said = '';
      if (!this.proxy) { this.proxy = { image: img, running: true, staticMount: true }; said = `proxy container pallet-proxy started from ${img}\n`; }
      if (!this.proxy.running) { this.proxy.running = true; said = 'starting the stopped proxy container pallet-proxy\n'; }
      return ok(`${said}image=${this.proxy.image}\nstatic_mount=${this.proxy.staticMount ? 1 : 0}\nproxy ready\n`);
    },
    'replace-proxy': (a) => {
      const img = a[4];
      const old = this.proxy!.image;
      if (!this.images.has(img)) return fail(4, '', `could not create the proxy from ${img}: No such image\n`);
      if (this.fleet.brokenProxyImages.has(img)) return fail(5, '', `the proxy from ${img} did not come up (bad config); pallet-proxy runs ${old} again\n`);
      this.proxy = { image: img, running: true, staticMount: true };
      return ok(`replaced ${old} with ${img}\ngap_ms=180\n`);
    },
    'place-acme-root': (a) => { this.files.set(a[0], `${a[1]}\n`); return ok(`written: ${a[0]}\n`); },
    'route-claims': (a) => ok([...this.routes.entries()].filter(([k]) => k !== a[1]).map(([k, r]) => `route=${k}\t${r.http}\n`).join('')),
    'role-containers': (a) => {
      const [, key, app, role, s] = a;
      const cs = [...this.containers.values()].filter((c) => c.labels['pallet.app'] === app && c.labels['pallet.role'] === role);
      const up = this.routes.get(key)?.upstream ?? '';
      const holder = this.containers.get(s);
      const live = up === s ? (holder ? this.identity(holder, s) : '') : up;
      return ok(`upstream=${up}\nlive=${live}\n${cs.map((c) => `container=${this.identity(c, s)} ${c.running}\n`).join('')}`);
    },
    'make-live': (a) => {
      const [s, t] = a;
      const holder = this.containers.get(s);
      const cur = holder ? this.identity(holder, s) : '';
      if (t) {
        const target = cur === t ? holder : this.containers.get(t);
        if (!target?.running) return fail(5, '', `container ${t} is not running (state: ${target ? 'false' : 'missing'})\n`);
        if (target === holder) return ok(`live=${t}\n`);
      }
      if (holder) this.rename(s, cur);
      if (!t) return ok('live=\n');
      this.rename(t, s);
      return ok(`live=${t}\n`);
    },
    'set-route': (a) => {
      const [, , key, act, upstream, http, https, pol, order] = a;
      if (!this.proxy?.running && act !== 'forget') return fail(4, '', 'the proxy container pallet-proxy is not running (state: missing); the route was not changed\n');
      const next = { upstream, http, https, policy: pol, order };
      if (act === 'set' && JSON.stringify(this.routes.get(key)) === JSON.stringify(next) && this.proxy?.running) return ok(`proxy routes ${key} to ${upstream} (unchanged)\n`);
      if (act === 'set') this.routes.set(key, next);
      else this.routes.delete(key);
      this.configLoads++;
      return ok(`proxy now routes ${key} to ${upstream || 'nothing'}\n`);
    },
    'app-routes': (a) => ok([...this.routes.keys()].filter((k) => k.startsWith(`${a[1]}+`)).map((k) => `route=${k}\n`).join('')),
    'remove-containers': (a) => {
      const ours = [...this.containers.values()].filter((c) => c.labels['pallet.app'] === a[0]);
      for (const c of ours) this.remove(c.name);
      return ok(`removed=${ours.length}\n`);
    },
    'remove-network': (a) => ok(`removed=${this.networks.delete(a[0]) ? 1 : 0}\n`),
    'remove-images': (a) => {
      const inUse = new Set([...this.containers.values()].map((c) => c.image));
      const refs = [...this.images].filter((r) => r.startsWith(`${a[0]}:`));
      const gone = refs.filter((r) => !inUse.has(r));
      for (const r of gone) this.images.delete(r);
      return ok(`removed=${gone.length}\nkept=${refs.length - gone.length}\n`);
    },
    'remove-state': (a) => {
      const [d, all] = a;
      const keep = (k: string) => k.startsWith(`${d}/lock/`) || (all !== '1' && (k.startsWith(`${d}/storage/`) || k.startsWith(`${d}/backups/`)));
      for (const k of [...this.files.keys()]) if (k.startsWith(`${d}/`) && !keep(k)) this.files.delete(k);
      const kept = all === '1' ? [] : ['storage', 'backups'].filter((x) => [...this.files.keys()].some((k) => k.startsWith(`${d}/${x}/`)));
      return ok(`kept=${kept.join(' ')}\n`);
    },
    'remove-empty-dir': () => ok(),
    'place-static': (a) => {
      const [d, ref, root, tag] = a;
      if (!this.images.has(ref)) return fail(3, `could not create a container of ${ref}: No such image\n`);
      if (this.fleet.release(tag).noStaticRoot) return fail(4, `${ref} has no directory ${root}: Error: Could not find the file ${root} in container\n`);
      const st = this.statics.get(d) ?? { releases: [], live: '' };
      const existed = st.releases.includes(tag);
      st.releases = [...st.releases.filter((t) => t !== tag), tag];
      st.live = tag;
      this.statics.set(d, st);
      return ok(`existed=${existed ? 1 : 0}\nfiles=3\nkib=12\nreleases=${st.releases.join(' ')}\n`);
    },
    'drop-static': (a) => {
      const [d, live, ...tags] = a;
      const st = this.statics.get(d);
      if (!st) return ok();
      st.releases = st.releases.filter((t) => !tags.includes(t));
      st.live = live;
      return ok(`releases=${st.releases.join(' ')}\n`);
    },
    'remove-static': (a) => ok(`removed=${this.statics.delete(a[0]) ? 1 : 0}\n`),
    'prepare-cron': (a) => {
      const [d, , , , ...rest] = a;
      const names: string[] = [];
      for (let i = 0; i < rest.length;) {
        names.push(rest[i]);
        i += 11; // name, schedule, five fields, days, zone, image, env file
        i += Number(rest[i]) + 1;
        i += Number(rest[i]) + 1;
      }
      const c = this.cron.get(d);
      if (!names.length && !c?.jobs.length) { if (c) { c.scheduled = false; delete c.next; } return ok('jobs=0\n'); }
      if (names.length && this.noCron) return fail(5, 'cron is not installed on this host (deploy.cron runs the jobs from it): apt-get install cron\n');
      this.cron.set(d, { jobs: c?.jobs ?? [], next: names, scheduled: names.length > 0 || !!c?.scheduled });
      return ok(`jobs=${names.length}\n`);
    },
    'db-backup': (a) => {
      const [d, id, keep, , ...client] = a;
      if (this.databaseDown) return fail(3, 'pg_dump: error: connection to server at "db" (10.0.0.9), port 5432 failed: Connection refused\n');
      const list = [...(this.backups.get(d) ?? []), { id, client }].slice(-Number(keep));
      this.backups.set(d, list);
      return ok(`BACKUP ${id} 2048 15\n`);
    },
    'unschedule-cron': (a) => {
      const c = this.cron.get(`/var/lib/pallet/${a[0]}`);
      const was = !!c?.scheduled;
      if (c) c.scheduled = false;
      return ok(`removed=${was ? 1 : 0}\n`);
    },
    'retire': (a) => {
      for (const n of a.slice(3)) this.remove(n);
      return ok(Number(a[1]) > 0 ? 'drained after 0.0s\n' : '');
    },
  };
}

/** The name of a plain (non-script) command: `docker run`, `docker image inspect`, `rm`, ... */
function commandName(argv: readonly string[]): string {
  const a = argv[0] === 'env' ? argv.slice(2) : argv;
  if (a[0] !== 'docker') return a[0];
  if (a[1] === 'run' && a.includes('--rm')) return 'docker run --rm';
  return a[1] === 'image' ? `docker image ${a[2]}` : `docker ${a[1]}`;
}
