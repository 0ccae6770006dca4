// Shared setup of the deploy end-to-end tests: example image variants pushed to the lab
// registry, a PostgreSQL for the app on the hosts' network, the env file on every host, and
// helpers to run a deploy in-process and to look at a host's real state over ssh.
import Docker from 'dockerode';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { readLab, type LabDescriptor } from '../helpers/lab.js';
import { pushToLab } from '../helpers/lab-registry.js';
import { labSsh, startAppDatabase, writeHostEnvFiles } from '../helpers/app-database.js';
import { buildExampleImage, type ExampleFault } from '../helpers/example-image.js';
import { parseInputs } from '../../src/inputs.js';
import { CleanupLedger } from '../../src/util/cleanup.js';
import { CliReporter, setReporter } from '../../src/util/reporter.js';
import { deployWithReport } from '../../src/commands/deploy.js';
import type { PalletConfig, ProxyConfig, RoleConfig } from '../../src/config/types.js';
import type { DeployHooks, DeployMode } from '../../src/deploy/types.js';
import '../../src/cleanup-handlers.js';

export const APP = 'e2edeploy';
/** The hosts' env file of the deploy tests (deploy.env_file). */
export const ENV_FILE = '/etc/pallet/example.env';
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export type Variant = 'v1' | 'v2' | 'v3' | 'migrate' | 'health' | 'crash';
const FAULTS: Record<Variant, ExampleFault | undefined> = { v1: undefined, v2: undefined, v3: undefined, migrate: 'migrate', health: 'health', crash: 'crash' };

export interface HostContainer { name: string; id: string; tag: string; startedAt: string; running: boolean }
export interface HostView { tag: string; revert: string; lock: boolean; audit: string[]; containers: HostContainer[] }

/**
 * Where a fixture keeps what it shares with other users of the lab. The defaults are the deploy
 * tests'; a benchmark running beside them takes its own, so that its setup and teardown neither
 * rewrite nor delete their env file, and its deploys' pruning (every tag of the repository beyond
 * deploy.keep on a host) never takes their images.
 */
export interface FixtureOptions {
  /** The env file written on every host by setup, named by config(), deleted by teardown. */
  envFile?: string;
  /** Repository path in the lab registry (without the registry address). */
  repository?: string;
  /** The app database's password (default: random letters and digits). */
  dbPassword?: string;
}

export class DeployFixture {
  readonly lab: LabDescriptor = readLab();
  readonly docker = new Docker();
  readonly run = randomBytes(3).toString('hex');
  readonly repo: string;
  readonly envFile: string;
  /** App name: names containers and host state; the benchmark uses its own so runs never collide. */
  constructor(readonly app: string = APP, opts: FixtureOptions = {}) {
    this.repo = `${this.lab.registry.address}/${opts.repository ?? 'pallet-e2e/deploy'}`;
    this.envFile = opts.envFile ?? ENV_FILE;
    this.dbPassword = opts.dbPassword;
  }
  private readonly dbPassword?: string;
  readonly tags = {} as Record<Variant, string>;
  readonly logs: string[] = [];
  readonly runnerTemp = mkdtempSync(path.join(os.tmpdir(), 'pallet-e2e-runner-'));
  /** The app database container (set by setup). */
  pgId = '';
  /** The app database's URL (set by setup); the hosts' env file holds the same. */
  dbUrl = '';
  private localImages: string[] = [];

  get addresses(): string[] { return this.lab.hosts.map((h) => h.address); }

  /**
   * Builds and pushes the variants, starts the database, writes the env file (`env` added to it).
   * `files(v)`: files of the example app replaced in variant v's build (see buildExampleImage).
   */
  async setup(variants: Variant[], env: Record<string, string> = {}, files?: (v: Variant) => Record<string, string>): Promise<void> {
    // Images: every variant shares all layers but the last two; pushed under this run's tags.
    for (const v of variants) {
      const tag = `${this.run}-${v}`;
      const local = `pallet-e2e-deploy:${tag}`;
      await buildExampleImage({ tag: local, version: tag, fault: FAULTS[v], ...(files ? { files: files(v) } : {}) });
      const remote = `${this.repo}:${tag}`;
      this.localImages.push(local, remote);
      await pushToLab(this.docker, this.lab, local, this.repo, tag);
      this.tags[v] = tag;
    }
    await this.startPostgres(env);
    for (const h of this.lab.hosts) await this.resetHost(h.address);
  }

  private async startPostgres(env: Record<string, string>): Promise<void> {
    const db = await startAppDatabase(this.lab, { 'pallet.test': 'deploy-e2e', 'pallet.run': this.run }, this.docker, this.dbPassword);
    this.pgId = db.containerId;
    this.dbUrl = db.url;
    await writeHostEnvFiles(this.lab, this.envFile, {
      SECRET_KEY: `e2e-${this.run}`, DATABASE_URL: db.url, DB_DEFAULT_URL: db.url, ALLOWED_HOSTS: '*',
      ENVIRONMENT: 'production', WEB_CONCURRENCY: '2', GRACEFUL_TIMEOUT: '3', ...env,
    });
  }

  /** Removes this test app's containers and state from a host (ids listed by the app's label). */
  async resetHost(address: string): Promise<void> {
    await this.ssh(address, `ids=$(docker ps -aq --filter label=pallet.app=${this.app}); [ -z "$ids" ] || docker rm -f $ids >/dev/null; rm -rf /var/lib/pallet/${this.app}`);
  }

  async teardown(): Promise<void> {
    for (const h of this.lab.hosts) {
      await this.resetHost(h.address).catch(() => undefined);
      await this.ssh(h.address, `rm -f ${this.envFile}; for t in ${Object.values(this.tags).join(' ')}; do docker image rm ${this.repo}:$t >/dev/null 2>&1; done; true`).catch(() => undefined);
    }
    if (this.pgId) await this.docker.getContainer(this.pgId).remove({ force: true, v: true }).catch(() => undefined);
    for (const ref of this.localImages) await this.docker.getImage(ref).remove().catch(() => undefined);
    rmSync(this.runnerTemp, { recursive: true, force: true });
  }

  /** Runs a shell command on a lab host with the lab's key (test-side access, not the code under test). */
  async ssh(address: string, command: string, input?: string): Promise<string> {
    return labSsh(this.lab, this.lab.hosts.find((x) => x.address === address)!, command, input);
  }

  /**
   * What a host runs and keeps for the test app. A deploy behind the proxy returns while the host
   * still stops the previous containers, holding the lock marked lock/retiring: the view is taken
   * once that marker is gone (bounded: 45 s, then it fails saying what it saw).
   */
  async view(address: string): Promise<HostView> {
    const out = await this.ssh(address, `d=/var/lib/pallet/${this.app}
i=0; while [ -f $d/lock/retiring ] && [ $i -lt 450 ]; do i=$((i+1)); sleep 0.1; done
if [ -f $d/lock/retiring ]; then { echo "still retiring after 45 s: $(cat $d/lock/owner) $(cat $d/retire.log 2>/dev/null)"; docker ps -a --filter label=pallet.app=${this.app}; } >&2; exit 3; fi
echo "TAG=$(cat $d/TAG 2>/dev/null)"; echo "REVERT=$(cat $d/REVERT 2>/dev/null)"; [ -d $d/lock ] && echo LOCK=1
for id in $(docker ps -aq --filter label=pallet.app=${this.app}); do docker inspect --format 'C {{.Name}} {{.Id}} {{index .Config.Labels "pallet.tag"}} {{.State.StartedAt}} {{.State.Running}}' $id; done
sed 's/^/A /' $d/audit.log 2>/dev/null; true`);
    const line = (k: string) => (new RegExp(`^${k}=(.*)$`, 'm').exec(out)?.[1] ?? '').trim();
    const containers = out.split('\n').filter((l) => l.startsWith('C ')).map((l) => {
      const [, name, id, tag, startedAt, running] = l.split(' ');
      return { name: name.replace(/^\//, ''), id, tag, startedAt, running: running === 'true' };
    });
    return { tag: line('TAG'), revert: line('REVERT'), lock: /^LOCK=1$/m.test(out), audit: out.split('\n').filter((l) => l.startsWith('A ')).map((l) => l.slice(2)), containers };
  }

  async views(): Promise<HostView[]> { return Promise.all(this.addresses.map((a) => this.view(a))); }

  /**
   * The test app's config. Published-port mode (deploy.proxy: false) unless `proxy` is given;
   * `workers: []` leaves out the worker and beat roles.
   */
  config(overrides: { web?: string[]; workers?: string[]; healthTimeout?: number; batch?: number | string; proxy?: ProxyConfig; healthHost?: string } = {}): PalletConfig {
    const [h1, h2, h3] = this.addresses;
    const web: RoleConfig = { hosts: overrides.web ?? [h1, h2, h3], command: 'serve', port: 8000, health: { path: '/health/', timeout: overrides.healthTimeout ?? 30, ...(overrides.healthHost ? { host: overrides.healthHost } : {}) }, stop_timeout: 5 };
    const workers = overrides.workers ?? [h3];
    const background: Record<string, RoleConfig> = workers.length ? {
      beat: { hosts: workers, command: 'beat', stable: 2, stop_timeout: 3 },
      worker: { hosts: workers, command: 'worker', stable: 2, stop_timeout: 3 },
    } : {};
    return {
      app: this.app, image: this.repo,
      build: { context: '/nonexistent', dockerfile: 'Dockerfile', args: {}, tags: [] },
      test: { command: ['test'], services: [], environment: {}, shards: 1, artifacts: [], timeout: 60 },
      deploy: {
        ssh: { user: 'root', port: 22 }, env_file: this.envFile, tasks: [['deploy']],
        roles: { ...background, web },
        rolling: { batch: overrides.batch ?? 1 }, keep: 3, require_tested: false, url: 'https://example.test/',
        proxy: overrides.proxy ?? false,
      },
      source: { file: '/nonexistent/pallet.yml', dir: '/nonexistent' },
    };
  }

  /**
   * pallet.yml (as data) of an app with review apps on one lab host: the web role behind the proxy
   * at `mainHost` (tls off), review apps at `reviewPattern` with PostgreSQL and Redis from `services`
   * (images the host can pull), review.max 2. Used by the review e2e and its benchmark.
   */
  reviewConfigFile(host: string, o: { mainHost: string; reviewPattern: string; services: [string, string]; secretKey: string }): Record<string, unknown> {
    return {
      app: this.app, image: this.repo,
      deploy: {
        ssh: { user: 'root' }, env_file: this.envFile, require_tested: false,
        roles: { web: { hosts: [host], health: { path: '/health/', timeout: 60 }, stop_timeout: 5 } },
        proxy: { hosts: [o.mainHost], tls: 'off', image: this.lab.images.proxy, drain_timeout: 1 },
      },
      review: {
        hosts: [host], host: o.reviewPattern, tls: 'off', max: 2,
        services: [{ name: 'postgres', image: o.services[0] }, { name: 'redis', image: o.services[1] }],
        env: { clear: { SECRET_KEY: o.secretKey, WEB_CONCURRENCY: '2', GRACEFUL_TIMEOUT: '3' } },
      },
    };
  }

  /** A deploy or rollback in-process, the way `runCommand` runs it (ledger undone at the end). */
  async deploy(mode: DeployMode, opts: { tag?: string; config?: PalletConfig; inputs?: Record<string, string>; env?: Record<string, string>; hooks?: DeployHooks } = {}) {
    const raw: Record<string, string> = {
      command: mode, ...(opts.tag ? { tag: opts.tag } : {}),
      'registry-username': this.lab.registry.username, 'registry-password': this.lab.registry.password,
      'ssh-private-key': readFileSync(this.lab.ssh.privateKeyPath, 'utf8'), 'ssh-known-hosts': readFileSync(this.lab.ssh.knownHostsPath, 'utf8'),
      ...opts.inputs,
    };
    const lines: string[] = [];
    // When each line arrived (ms since the deploy started), for tests that time a step.
    const at: number[] = [];
    const t0 = Date.now();
    const log = (l: string) => { lines.push(l); at.push(Date.now() - t0); };
    const reporter = setReporter(new CliReporter(log, log)) as CliReporter;
    const ledger = new CleanupLedger();
    const inputs = parseInputs((n) => raw[n] ?? '');
    const ctx = { inputs, config: opts.config ?? this.config(), ledger, env: { PATH: process.env.PATH, HOME: process.env.HOME, USER: 'e2e-tester', RUNNER_TEMP: this.runnerTemp, ...opts.env }, signal: new AbortController().signal };
    try {
      const { result, report } = await deployWithReport(ctx, mode, opts.hooks);
      await reporter.summary.write();
      return { result, report, lines, at, ms: Date.now() - t0, error: undefined as Error | undefined, leftovers: await this.finish(ledger) };
    } catch (e) {
      return { result: undefined, report: undefined, lines, at, ms: Date.now() - t0, error: e as Error, leftovers: await this.finish(ledger) };
    } finally {
      this.logs.push(...lines);
      if (process.env.PALLET_E2E_VERBOSE) console.log(lines.join('\n'));
    }
  }

  /**
   * Undoes the ledger like the entry points do; returns what was left before (must be nothing)
   * besides what only the end-of-command cleanup undoes by design (the per-run key directory and
   * the per-run ssh-agent), and what is left in RUNNER_TEMP after (must be nothing).
   */
  private async finish(ledger: CleanupLedger): Promise<{ ledger: string[]; files: string[] }> {
    const left = ledger.list().map((i) => i.kind);
    await ledger.runAll();
    return { ledger: left.filter((k) => k !== 'path' && k !== 'ssh-agent'), files: readdirSync(this.runnerTemp) };
  }
}
