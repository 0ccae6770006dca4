// Deploy and rollback to a Docker Swarm on the lab: this file brings up its own 3-node swarm lab
// (`lab up --swarm` under its own PALLET_LAB_DIR, images are cached) so the shared lab's hosts are
// never turned into a swarm, and takes it down by id afterwards. Every release runs under a bounded
// request loop through the lab's load balancer (nginx -> each node's port 8000, host mode). Then
// the day-2 commands through the manager: status, lock status/release, logs (-f stopped), exec.
// PALLET_SWARM_LAB_DIR=DIR reuses a lab already up there (kept afterwards) for a quick rerun.
import { pushToLab } from '../helpers/lab-registry.js';
import { jest } from '@jest/globals';
import Docker from 'dockerode';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { readLabAt, REPO_ROOT, type LabDescriptor, labSkipReason } from '../helpers/lab.js';
import { labSsh, startAppDatabase, writeHostEnvFiles } from '../helpers/app-database.js';
import { buildExampleImage, type ExampleFault } from '../helpers/example-image.js';
import { startLoad, fetchVersion } from '../helpers/load.js';
import { parseInputs } from '../../src/inputs.js';
import { CleanupLedger } from '../../src/util/cleanup.js';
import { CliReporter, setReporter } from '../../src/util/reporter.js';
import { swarmDeployWithReport } from '../../src/commands/deploy.js';
import type { CommandResult, RunContext } from '../../src/commands/context.js';
import { runStatusCommand } from '../../src/commands/status.js';
import { runLogsCommand } from '../../src/commands/logs.js';
import { runExecCommand } from '../../src/commands/exec.js';
import { runLockCommand } from '../../src/commands/lock.js';
import { runRemoveCommand } from '../../src/commands/remove.js';
import type { PalletConfig } from '../../src/config/types.js';
import type { DeployMode } from '../../src/deploy/types.js';
import type { SwarmHooks } from '../../src/swarm/types.js';
import '../../src/cleanup-handlers.js';

jest.setTimeout(600_000);
const APP = 'e2eswarm';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const skip = labSkipReason() && !process.env.PALLET_SWARM_LAB_DIR;
const describeSwarm = skip ? describe.skip : describe;

type Variant = 'v1' | 'v2' | 'v3' | 'migrate' | 'health';
const FAULTS: Record<Variant, ExampleFault | undefined> = { v1: undefined, v2: undefined, v3: undefined, migrate: 'migrate', health: 'health' };

function labCli(dir: string, args: string[]): void {
  const tsx = path.join(REPO_ROOT, 'node_modules', '.bin', 'tsx');
  const r = spawnSync(tsx, [path.join(REPO_ROOT, 'test/lab/cli.ts'), ...args], {
    cwd: REPO_ROOT, env: { ...process.env, PALLET_LAB_DIR: dir }, stdio: ['ignore', 'inherit', 'inherit'], timeout: 20 * 60_000,
  });
  if (r.status !== 0) throw new Error(`lab ${args.join(' ')} in ${dir} failed (exit ${r.status ?? r.signal})`);
}

describeSwarm('deploy to a Docker Swarm (own swarm lab)', () => {
  const reuse = process.env.PALLET_SWARM_LAB_DIR;
  const labDir = reuse ?? mkdtempSync(path.join(os.tmpdir(), 'pallet-swarm-lab-'));
  const docker = new Docker();
  const run = randomBytes(3).toString('hex');
  const tags = {} as Record<Variant, string>;
  const localImages: string[] = [];
  const runnerTemp = mkdtempSync(path.join(os.tmpdir(), 'pallet-e2e-runner-'));
  let lab: LabDescriptor;
  let repo: string;
  let pgId = '';
  const t0 = Date.now();

  const manager = () => lab.hosts[0];
  const ssh = (command: string) => labSsh(lab, manager(), command);

  beforeAll(async () => {
    labCli(labDir, ['up', '--swarm']);
    lab = readLabAt(labDir);
    expect(lab.swarm?.manager).toBe(manager().address);
    repo = `${lab.registry.address}/pallet-e2e/swarm`;
    for (const v of Object.keys(FAULTS) as Variant[]) {
      const tag = `${run}-${v}`;
      const local = `pallet-e2e-swarm:${tag}`;
      await buildExampleImage({ tag: local, version: tag, fault: FAULTS[v] });
      localImages.push(local, `${repo}:${tag}`);
      await pushToLab(docker, lab, local, repo, tag);
      tags[v] = tag;
    }
    const db = await startAppDatabase(lab, { 'pallet.test': 'swarm-e2e', 'pallet.run': run }, docker);
    pgId = db.containerId;
    await writeHostEnvFiles(lab, '/etc/pallet/swarm.env', {
      SECRET_KEY: `e2e-${run}`, DATABASE_URL: db.url, DB_DEFAULT_URL: db.url, ALLOWED_HOSTS: '*',
      ENVIRONMENT: 'production', WEB_CONCURRENCY: '2', GRACEFUL_TIMEOUT: '3',
    });
    console.log(`swarm lab and images ready in ${Math.round((Date.now() - t0) / 1000)}s`);
  }, 1_800_000);

  afterAll(async () => {
    if (lab && reuse) {
      // Leave a reused lab as found: this app's services, network and state removed (ids from labels).
      await ssh(`ids=$(docker service ls -q --filter label=pallet.app=${APP}); [ -z "$ids" ] || docker service rm $ids >/dev/null; sleep 2; docker network rm ${APP}_net >/dev/null 2>&1; rm -rf /var/lib/pallet/${APP}; true`).catch(() => undefined);
    }
    if (pgId) await docker.getContainer(pgId).remove({ force: true, v: true }).catch(() => undefined);
    for (const ref of localImages) await docker.getImage(ref).remove().catch(() => undefined);
    rmSync(runnerTemp, { recursive: true, force: true });
    if (!reuse) {
      labCli(labDir, ['down']);
      rmSync(labDir, { recursive: true, force: true });
    }
    console.log(`swarm e2e total ${Math.round((Date.now() - t0) / 1000)}s`);
  }, 600_000);

  function config(): PalletConfig {
    return {
      app: APP, image: repo,
      build: { context: '/nonexistent', dockerfile: 'Dockerfile', args: {}, tags: [] },
      test: { command: ['test'], services: [], environment: {}, shards: 1, artifacts: [], timeout: 60 },
      deploy: {
        ssh: { user: 'root', port: 22 }, swarm: { manager: manager().address, publish: 'host' }, proxy: false,
        env_file: '/etc/pallet/swarm.env', tasks: [['deploy']],
        roles: {
          worker: { hosts: [], command: 'worker', stable: 2, stop_timeout: 3, replicas: 1 },
          web: { hosts: [], command: 'serve', port: 8000, health: { path: '/health/', timeout: 10 }, stable: 2, stop_timeout: 5 },
        },
        rolling: { batch: 1 }, keep: 3, require_tested: false,
      },
      source: { file: '/nonexistent/pallet.yml', dir: '/nonexistent' },
    };
  }

  async function deploy(mode: DeployMode, opts: { tag?: string; inputs?: Record<string, string>; hooks?: SwarmHooks } = {}) {
    const raw: Record<string, string> = {
      command: mode, ...(opts.tag ? { tag: opts.tag } : {}),
      'registry-username': lab.registry.username, 'registry-password': lab.registry.password,
      'ssh-private-key': readFileSync(lab.ssh.privateKeyPath, 'utf8'), 'ssh-known-hosts': readFileSync(lab.ssh.knownHostsPath, 'utf8'),
      ...opts.inputs,
    };
    const lines: string[] = [];
    const reporter = setReporter(new CliReporter((l) => lines.push(l), (l) => lines.push(l))) as CliReporter;
    const ledger = new CleanupLedger();
    const ctx = { inputs: parseInputs((n) => raw[n] ?? ''), config: config(), ledger, env: { PATH: process.env.PATH, HOME: process.env.HOME, USER: 'e2e-tester', RUNNER_TEMP: runnerTemp }, signal: new AbortController().signal };
    const started = Date.now();
    try {
      const { result, report } = await swarmDeployWithReport(ctx, mode, opts.hooks);
      await reporter.summary.write();
      const left = ledger.list().map((i) => i.kind).filter((k) => k !== 'path');
      await ledger.runAll();
      return { result, report, lines, text: lines.join('\n'), ms: Date.now() - started, leftovers: { ledger: left, files: readdirSync(runnerTemp) } };
    } finally {
      if (process.env.PALLET_E2E_VERBOSE) console.log(lines.join('\n'));
    }
  }

  type Day2 = 'status' | 'logs' | 'exec' | 'lock-status' | 'lock-release' | 'remove';
  const DAY2: Record<Day2, (ctx: RunContext) => Promise<CommandResult>> = {
    status: runStatusCommand, logs: runLogsCommand, exec: runExecCommand,
    'lock-status': (ctx) => runLockCommand(ctx, false), 'lock-release': (ctx) => runLockCommand(ctx, true), remove: runRemoveCommand,
  };

  /**
   * A day-2 command in process, as `pallet` runs it (flags given as inputs): its exit code, the
   * reporter's lines, and what it wrote to stdout itself (--json, exec and logs output).
   */
  async function day2(command: Day2, flags: Record<string, string> = {}, signal = new AbortController().signal) {
    const raw: Record<string, string> = {
      command, 'ssh-private-key': readFileSync(lab.ssh.privateKeyPath, 'utf8'), 'ssh-known-hosts': readFileSync(lab.ssh.knownHostsPath, 'utf8'), ...flags,
    };
    const lines: string[] = [];
    const reporter = setReporter(new CliReporter((l) => lines.push(l), (l) => lines.push(l))) as CliReporter;
    const ledger = new CleanupLedger();
    let stdout = '';
    const spy = jest.spyOn(process.stdout, 'write').mockImplementation(((chunk: string | Uint8Array) => { stdout += String(chunk); return true; }) as never);
    const ctx: RunContext = {
      inputs: parseInputs((n) => raw[n] ?? '', 'flag'), config: config(), ledger, where: 'flag', signal,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, USER: 'e2e-tester', RUNNER_TEMP: runnerTemp },
    };
    try {
      const result = await DAY2[command](ctx);
      await reporter.summary.write();
      return { code: result.exitCode, text: lines.join('\n'), stdout };
    } finally {
      spy.mockRestore();
      await ledger.runAll();
      if (process.env.PALLET_E2E_VERBOSE) console.log(`${command} ${JSON.stringify(flags)}\n${lines.join('\n')}\n${stdout}`);
    }
  }

  /** `docker service logs` processes still running on the manager (read from /proc). */
  async function serviceLogsLeft(): Promise<number> {
    const out = await ssh(`for p in /proc/[0-9]*; do c=$(tr '\\0' ' ' < $p/cmdline 2>/dev/null); [ -n "$c" ] && echo "$c"; done; true`);
    return out.split('\n').filter((l) => l.startsWith('docker service logs')).length;
  }

  /** Image tag of every task Swarm wants running, per service (from the manager). */
  async function taskTags(): Promise<Record<string, string[]>> {
    const out = await ssh(`for s in web worker; do docker service ps --filter desired-state=running --format "$s {{.Image}} {{.CurrentState}}" ${APP}_$s 2>/dev/null; done; true`);
    const res: Record<string, string[]> = {};
    for (const l of out.split('\n').filter((x) => x.trim())) {
      const [svc, image, state] = l.split(' ');
      if (state !== 'Running') continue;
      (res[svc] ??= []).push(image.split('@')[0].split(':').pop()!);
    }
    return res;
  }

  /** taskTags(), polled (bounded, about 60 s) until it equals `want`; the last answer otherwise. */
  async function settledTags(want: Record<string, string[]>): Promise<Record<string, string[]>> {
    let seen: Record<string, string[]> = {};
    for (let i = 0; i < 30; i++) {
      seen = await taskTags();
      if (JSON.stringify(seen) === JSON.stringify(want)) break;
      await sleep(2000);
    }
    return seen;
  }

  async function versions(): Promise<Record<string, string>> {
    return Object.fromEntries((await ssh(`for s in web worker; do docker service inspect --format "$s {{.Version.Index}}" ${APP}_$s 2>/dev/null; done; true`))
      .split('\n').filter((l) => l.trim()).map((l) => l.split(' ') as [string, string]));
  }

  const underLoad = async <T>(fn: () => Promise<T>) => {
    const load = startLoad({ url: lab.lb.url, concurrency: 4, pauseMs: 20, maxMs: 300_000, maxRequests: 40_000 });
    await sleep(300);
    const out = await fn();
    await sleep(300);
    return { out, stats: await load.stop() };
  };

  test('first deploy: the release job migrates, services created, every task on v1', async () => {
    const r = await deploy('deploy', { tag: tags.v1 });
    expect(r.result.exitCode).toBe(0);
    expect(r.report.services.map((s) => [s.service, s.result, s.running, s.desired])).toEqual([[`${APP}_web`, 'created', 3, 3], [`${APP}_worker`, 'created', 1, 1]]);
    expect(await taskTags()).toEqual({ web: [tags.v1, tags.v1, tags.v1], worker: [tags.v1] });
    expect(r.text).toMatch(/Release tasks as Swarm jobs/);
    expect(r.leftovers).toEqual({ ledger: [], files: [] });
    for (const h of lab.hosts) expect((await fetchVersion(`http://${h.ip}:8000/`)).version).toBe(tags.v1);
  });

  test('good release under load: 0 failed requests, every task on v2, audit line, summary per service', async () => {
    const { out: r, stats } = await underLoad(() => deploy('deploy', { tag: tags.v2 }));
    console.log(`swarm good release: ${Math.round(r.ms / 100) / 10}s; load ${JSON.stringify({ ...stats, failures: stats.failures.slice(0, 5) })}`);
    expect(r.result.exitCode).toBe(0);
    expect(stats.requests).toBeGreaterThan(100);
    expect(stats.failed).toBe(0);
    expect(stats.firstSeen).toEqual([tags.v1, tags.v2]);
    expect(await taskTags()).toEqual({ web: [tags.v2, tags.v2, tags.v2], worker: [tags.v2] });
    expect(r.result.outputs).toMatchObject({ tag: tags.v2, 'previous-tag': tags.v1, reverted: 'false' });
    expect(r.text).toMatch(new RegExp(`${APP}_web +${repo}:${tags.v1} +${repo}:${tags.v2} +3/3 +\\S+ +updated`));
    const state = await ssh(`cat /var/lib/pallet/${APP}/TAG /var/lib/pallet/${APP}/REVERT; tail -1 /var/lib/pallet/${APP}/audit.log; ls -d /var/lib/pallet/${APP}/lock 2>&1; ls -d /tmp/pallet-docker-* 2>&1; true`);
    expect(state).toMatch(new RegExp(`^${tags.v2}\n${tags.v1}\n.*\te2e-tester\t${APP}\tdeploy\t${tags.v1}->${tags.v2}@sha256:[0-9a-f]{64}\tsuccess\trun=local-`));
    expect(state).toMatch(/lock': No such file/);
    expect(state).toMatch(/pallet-docker-\*': No such file/);
    expect(r.text).not.toContain(lab.registry.password);
    expect(r.text).not.toContain(`e2e-${run}`);
  });

  test('release whose health path answers 500: Swarm rolls it back, 0 failed requests, reverted=true, every task on v2', async () => {
    const { out: r, stats } = await underLoad(() => deploy('deploy', { tag: tags.health }));
    console.log(`swarm health-500 release: ${Math.round(r.ms / 100) / 10}s; load ${JSON.stringify({ ...stats, failures: stats.failures.slice(0, 5) })}`);
    console.log(`swarm rollback: error=${r.report.error} phase=${r.report.phase} step=${r.report.failedStep} services=${JSON.stringify(r.report.services.map((x) => [x.service, x.result]))}`);
    expect(r.result.exitCode).toBe(1);
    expect(stats.failed).toBe(0);
    expect(r.result.outputs.reverted).toBe('true');
    expect(r.report).toMatchObject({ phase: 'rolling', reverted: true, failedService: `${APP}_web`, failedStep: 'health check' });
    // Swarm's reason is worded by Swarm and depends on when it is read (the cause while the rollback runs,
    // "rollback completed" after it); pallet's part of the message is fixed.
    expect(r.report.error).toMatch(/^health check failed on e2eswarm_web: Swarm rolled the update back: \S/);
    expect(r.report.services.map((s) => [s.service, s.result])).toEqual([[`${APP}_web`, 'rolled back by Swarm'], [`${APP}_worker`, 'not started']]);
    // Swarm reports the rollback completed once the last old task was started; it may still be
    // starting (not yet Running) when the deploy returns. Every task is on v2 either way.
    expect(await settledTags({ web: [tags.v2, tags.v2, tags.v2], worker: [tags.v2] })).toEqual({ web: [tags.v2, tags.v2, tags.v2], worker: [tags.v2] });
    expect(await ssh(`cat /var/lib/pallet/${APP}/TAG /var/lib/pallet/${APP}/REVERT`)).toBe(`${tags.v2}\n${tags.v1}\n`);
  });

  test('failing migration: no service touched, the job output in the log, the job removed', async () => {
    const before = await versions();
    const r = await deploy('deploy', { tag: tags.migrate });
    expect(r.result.exitCode).toBe(1);
    expect(r.report).toMatchObject({ phase: 'tasks', reverted: false, failedStep: "task 'deploy'" });
    expect(r.text).toMatch(/ {2}\| .*PALLET_FAULT=migrate: this build's migration fails on purpose/);
    expect(r.text).toMatch(/no service was touched/);
    expect(await versions()).toEqual(before);
    expect(await taskTags()).toEqual({ web: [tags.v2, tags.v2, tags.v2], worker: [tags.v2] });
    expect((await ssh(`docker service ls -q --filter label=pallet.role=task | wc -l`)).trim()).toBe('0');
  });

  test('rollback to the previous tag, then to a named tag', async () => {
    const back = await deploy('rollback');
    expect(back.result.exitCode).toBe(0);
    expect(back.result.outputs).toMatchObject({ tag: tags.v1, 'previous-tag': tags.v2 });
    expect(await taskTags()).toEqual({ web: [tags.v1, tags.v1, tags.v1], worker: [tags.v1] });
    expect(back.text).not.toMatch(/Release tasks/);
    const named = await deploy('rollback', { tag: tags.v2 });
    expect(named.result.exitCode).toBe(0);
    expect(await taskTags()).toEqual({ web: [tags.v2, tags.v2, tags.v2], worker: [tags.v2] });
    expect((await ssh(`tail -2 /var/lib/pallet/${APP}/audit.log`)).split('\n').filter(Boolean).map((l) => l.split('\t').slice(3, 6)))
      .toEqual([['rollback', `${tags.v2}->${tags.v1}`, 'success'], ['rollback', `${tags.v1}->${tags.v2}`, 'success']]);
  });

  test('status: each service\'s tag and tasks per node, the nodes, TAG/REVERT/lock/audit from the manager; --role narrows, --host refused', async () => {
    const s = await day2('status', { json: 'true' });
    expect(s.code).toBe(0);
    const j = JSON.parse(s.stdout);
    expect(j).toMatchObject({ app: APP, manager: manager().address, tag: tags.v2, revert: tags.v1, problems: [] });
    expect(j.lock).toBeUndefined();
    expect(j.services.map((x: { service: string }) => x.service)).toEqual([`${APP}_web`, `${APP}_worker`]);
    const [web, worker] = j.services;
    expect(web).toMatchObject({ role: 'web', tag: tags.v2, mode: 'global', desired: 3, running: 3, missing: false });
    expect(web.tasks.map((t: { node: string }) => t.node).sort()).toEqual(['lab-host-1', 'lab-host-2', 'lab-host-3']);
    expect(worker).toMatchObject({ role: 'worker', tag: tags.v2, mode: 'replicated', desired: 1, running: 1 });
    expect(j.nodes).toHaveLength(3);
    expect(j.audit.at(-1)).toMatch(new RegExp(`\\t${APP}\\trollback\\t${tags.v1}->${tags.v2}\\tsuccess\\t`));
    // The tables a person reads.
    const t = await day2('status');
    expect(t.code).toBe(0);
    expect(t.text).toMatch(new RegExp(`${APP}_web +web +${tags.v2} +global +3/3`));
    expect(t.text).toMatch(new RegExp(`${APP}_worker +lab-host-\\d +${tags.v2} +Running `));
    expect(t.text).toMatch(/lab-host-2 +ready +active/);
    expect(t.text).toMatch(new RegExp(`${manager().address.replace(/[.]/g, '\\.')} +${tags.v2} +${tags.v1} +free`));
    const w = await day2('status', { role: 'worker', json: 'true' });
    expect(JSON.parse(w.stdout).services.map((x: { service: string }) => x.service)).toEqual([`${APP}_worker`]);
    await expect(day2('status', { host: lab.hosts[1].address })).rejects.toThrow(/runs on a Docker Swarm .*no host/);
  });

  test('lock status and release on the manager: another run\'s lock is kept without --force, removed with it, audited there', async () => {
    const owner = `run 999.1 by someone-else since ${new Date().toISOString()}`;
    await ssh(`mkdir /var/lib/pallet/${APP}/lock && printf '%s\\n' '${owner}' > /var/lib/pallet/${APP}/lock/owner && echo tok > /var/lib/pallet/${APP}/lock/token`);
    const st = await day2('lock-status', { json: 'true' });
    expect(st.code).toBe(0);
    expect(JSON.parse(st.stdout).hosts).toEqual([{ host: manager().address, holder: owner, action: 'held', ok: true }]);
    expect(JSON.parse((await day2('status', { json: 'true' })).stdout).lock).toBe(owner);

    const refused = await day2('lock-release');
    expect(refused.code).toBe(1);
    expect(refused.text).toContain(`${manager().address}: the deploy lock of ${APP} is held by ${owner}, another run: not released`);
    const forced = await day2('lock-release', { force: 'true' });
    expect(forced.code).toBe(0);
    expect(forced.text).toContain(`${manager().address}: removed the deploy lock of ${APP} held by ${owner} (--force)`);
    expect(await ssh(`ls -d /var/lib/pallet/${APP}/lock 2>&1; tail -1 /var/lib/pallet/${APP}/audit.log; true`))
      .toMatch(new RegExp(`lock': No such file[\\s\\S]*\\te2e-tester\\t${APP}\\tlock-release\\tholder: run 999\\.1 by someone-else since \\S+\\treleased with --force\\trun=local-`));
  });

  test('logs: the service\'s lines from every task, naming task and node, in time order; --follow streams until stopped and leaves no docker service logs behind', async () => {
    for (const h of lab.hosts) await fetchVersion(`http://${h.ip}:8000/`);
    const plain = await day2('logs', { tail: '20' });
    expect(plain.code).toBe(0);
    for (const node of ['lab-host-1', 'lab-host-2', 'lab-host-3']) expect(plain.stdout).toMatch(new RegExp(`^\\d{4}-\\d\\d-\\d\\dT\\S+ ${APP}_web\\.\\S+@${node} +\\| `, 'm'));
    const stamps = plain.stdout.split('\n').filter(Boolean).map((l) => Date.parse(l.split(' ')[0]));
    expect(stamps).toEqual([...stamps].sort((a, b) => a - b));
    const worker = await day2('logs', { role: 'worker', tail: '3' });
    expect(worker.code).toBe(0);
    expect(worker.stdout).toMatch(new RegExp(`${APP}_worker\\.1@lab-host-\\d +\\| `));

    const stop = new AbortController();
    const following = day2('logs', { follow: 'true', tail: '1' }, stop.signal);
    // Swarm's health check requests /health/ every 2 s: live lines arrive without help.
    await sleep(6000);
    expect(await serviceLogsLeft()).toBe(1);
    stop.abort();
    const f = await following;
    expect(f.code).toBe(0);
    expect(f.stdout).toMatch(/GET \/health\//);
    let left = 1;
    for (let i = 0; i < 30 && left > 0; i++) { left = await serviceLogsLeft(); if (left) await sleep(500); }
    expect(left).toBe(0);
    expect(readdirSync(runnerTemp)).toEqual([]);
  });

  test('exec: a Swarm job of the service\'s image with the env file: output, exit code, audit on the manager, no job left; -i and --all refused', async () => {
    const ok = await day2('exec', { args: 'check' });
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain('System check identified no issues');

    const hostile = `$(touch /tmp/pwned-swarm); echo 'x' "y"`;
    const code = `import os, sys; print("version", os.environ.get("APP_VERSION"), "env", os.environ.get("ENVIRONMENT")); print("arg", ${JSON.stringify(hostile)}); sys.exit(3)`;
    const r = await day2('exec', { role: 'worker', args: ['shell', '-c', code].join('\n') });
    expect(r.code).toBe(3);
    expect(r.stdout).toContain(`version ${tags.v2} env production`);
    expect(r.stdout).toContain(`arg ${hostile}`);
    expect(r.text).toMatch(new RegExp(`${APP}_worker@${tags.v2} on lab-host-\\d \\(Swarm job ${APP}_exec_worker_[0-9a-f]{6}\\)`));
    expect(await ssh(`tail -1 /var/lib/pallet/${APP}/audit.log`)).toMatch(new RegExp(`\\te2e-tester\\t${APP}\\texec\\tworker@${tags.v2} \\$ shell -c .*\\texit=3\\trun=local-`));
    expect((await ssh(`docker service ls -q --filter label=pallet.role=exec | wc -l`)).trim()).toBe('0');
    expect(await ssh('ls /tmp/pwned-swarm 2>&1 || true')).toMatch(/No such file/);

    await expect(day2('exec', { interactive: 'true', args: 'shell' })).rejects.toThrow(/^--interactive: e2eswarm runs on a Docker Swarm/);
    await expect(day2('exec', { 'all-hosts': 'true', args: 'check' })).rejects.toThrow(/^--all-hosts: e2eswarm runs on a Docker Swarm/);
  });

  test('a node paused during the update: it completes on the others or fails clearly, and the summary names what is behind', async () => {
    const paused = lab.hosts[2];
    let didPause = false;
    const hooks: SwarmHooks = {
      afterServiceDeploy: async ({ service }) => {
        if (service !== `${APP}_web` || didPause) return;
        await docker.getContainer(paused.containerId).pause();
        didPause = true;
      },
    };
    let r;
    try {
      r = await deploy('deploy', { tag: tags.v3, hooks });
    } finally {
      if (didPause) await docker.getContainer(paused.containerId).unpause().catch(() => undefined);
    }
    console.log(`swarm paused node: ${Math.round(r.ms / 100) / 10}s ok=${r.report.ok} error=${r.report.error ?? '-'} notes=${JSON.stringify(r.report.notes)}`);
    expect(didPause).toBe(true);
    const summary = r.text;
    if (r.report.ok) {
      // Swarm finished on the nodes that answer; the paused node is named as behind or down.
      expect(r.report.notes.join('\n')).toMatch(/lab-host-3/);
      expect(summary).toMatch(/lab-host-3/);
    } else {
      expect(r.report.error).toMatch(/lab-host-3|did not finish|rolled/);
      expect(summary).toMatch(/FAILED/);
    }
    // Once the node is back, Swarm brings it to the service's current spec; the lab is left consistent.
    const want = r.report.ok ? tags.v3 : tags.v2;
    let seen: Record<string, string[]> = {};
    // Swarm reconciles a node that comes back on its own schedule (node heartbeat, then the service's
    // update policy, one task at a time); on a loaded 2-core runner that can take minutes.
    for (let i = 0; i < 120; i++) {
      seen = await taskTags();
      if (seen.web?.length === 3 && seen.web.every((t) => t === want)) break;
      await sleep(2000);
    }
    if (!(seen.web?.length === 3 && seen.web.every((t) => t === want))) {
      console.log(`swarm paused node: tasks not converged; service ps:\n${await ssh(`docker node ls; docker service ps --no-trunc ${APP}_web`).catch((e) => String(e))}`);
    }
    expect(seen.web).toEqual([want, want, want]);
  });

  test('remove: the stack, its network and the state go from the Swarm (without --yes nothing changes)', async () => {
    const asked = await day2('remove').catch((e: Error) => e);
    expect(String(asked)).toMatch(/remove takes .* off the Swarm of .*nothing was changed/);
    expect((await taskTags()).web?.length).toBe(3);
    const r = await day2('remove', { yes: 'true', 'delete-data': 'true' });
    expect({ code: r.code, text: r.text }).toEqual({ code: 0, text: expect.stringMatching(/removed 2 service\(s\) of stack .*, its network/) });
    expect(await ssh(`echo "services=$(docker service ls -q --filter label=com.docker.stack.namespace=${APP} | wc -l)"; docker network inspect ${APP}_net >/dev/null 2>&1 && echo network=1 || echo network=0; echo "state=$(find /var/lib/pallet/${APP} 2>/dev/null | wc -l)"`))
      .toBe('services=0\nnetwork=0\nstate=0\n');
  });
});

if (skip) test.skip(`swarm e2e skipped: ${labSkipReason()}`, () => undefined);
