// Deploy and rollback against the real lab: 3 SSH hosts with their own dockerd behind nginx, the
// lab registry with auth, a PostgreSQL for the app. The tests run in order and each starts
// from the state the previous one left (v1 -> v2 -> failed deploys -> v3 -> rollbacks).
// The orchestration's paths (an unreachable host, a host lost mid-roll, a named or refused
// rollback, ...) are unit-tested over fake hosts (test/unit/engine-fleet.test.ts); what stays here
// needs the real parts: a load balancer that must never see a failed request, a real migration
// against PostgreSQL, GitHub deployment statuses, host keys, the lock between two real deploys.
import { jest } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describeLab } from '../helpers/lab.js';
import { startLoad, fetchVersion } from '../helpers/load.js';
import { startFakeGitHubApi, type FakeGitHubApi } from '../helpers/github-api.js';
import { APP, DeployFixture, sleep } from './deploy-fixture.js';

jest.setTimeout(600_000);

describeLab('deploy over ssh (lab)', () => {
  let fx: DeployFixture;
  let api: FakeGitHubApi;
  const addresses = () => fx.addresses;

  beforeAll(async () => {
    fx = new DeployFixture();
    api = await startFakeGitHubApi();
    await fx.setup(['v1', 'v2', 'v3', 'migrate', 'health']);
  }, 900_000);

  afterAll(async () => {
    await api?.close();
    await fx?.teardown();
  }, 300_000);

  const ghEnv = () => ({ GITHUB_REPOSITORY: 'acme/shop', GITHUB_SHA: 'abc123', GITHUB_API_URL: api.url, GITHUB_RUN_ID: '77', GITHUB_ACTOR: 'octo' });

  test('first deploy: every host runs v1, GitHub deployment and statuses recorded', async () => {
    const r = await fx.deploy('deploy', { tag: fx.tags.v1, env: ghEnv(), inputs: { 'github-token': 'ghs_e2etoken', environment: 'staging' } });
    expect(r.error).toBeUndefined();
    expect(r.result!.exitCode).toBe(0);
    expect(r.result!.outputs).toMatchObject({ tag: fx.tags.v1, 'previous-tag': '', reverted: 'false', 'deployed-hosts': addresses().join(',') });
    for (const v of await fx.views()) {
      expect(v.tag).toBe(fx.tags.v1);
      expect(v.lock).toBe(false);
      expect(v.containers.filter((c) => c.running).every((c) => c.tag === fx.tags.v1)).toBe(true);
    }
    expect(r.leftovers).toEqual({ ledger: [], files: [] });
    // GitHub: deployment (ref, environment, no auto-merge, no required contexts), in_progress, success with the URL.
    const [create, ...statuses] = api.calls;
    expect(create).toMatchObject({ method: 'POST', path: '/repos/acme/shop/deployments', authorization: 'token ghs_e2etoken' });
    expect(create.body).toMatchObject({ ref: 'abc123', environment: 'staging', auto_merge: false, required_contexts: [] });
    expect(statuses.map((s) => s.body.state)).toEqual(['in_progress', 'success']);
    expect(statuses[0].path).toMatch(/^\/repos\/acme\/shop\/deployments\/\d+\/statuses$/);
    expect(statuses[1].body.environment_url).toBe('https://example.test/');
    expect(JSON.stringify(api.calls)).not.toContain(fx.lab.registry.password);
  });

  test('good deploy with batch 1 under load: zero failed requests, every host on v2, web before worker before beat', async () => {
    const before = await fx.views();
    const load = startLoad({ url: fx.lab.lb.url, concurrency: 4, pauseMs: 10, maxMs: 240_000, maxRequests: 50_000 });
    await sleep(500);
    const r = await fx.deploy('deploy', { tag: fx.tags.v2 });
    await sleep(500);
    const stats = await load.stop();
    console.log(`good deploy: ${Math.round(r.ms / 100) / 10}s; load ${JSON.stringify({ ...stats, failures: stats.failures.slice(0, 5) })}`);
    expect(r.result?.exitCode).toBe(0);
    expect(stats.requests).toBeGreaterThan(100);
    expect(stats.failed).toBe(0);
    expect(stats.firstSeen).toEqual([fx.tags.v1, fx.tags.v2]);
    expect(r.result!.outputs).toMatchObject({ 'previous-tag': fx.tags.v1, reverted: 'false' });
    const views = await fx.views();
    for (const [i, v] of views.entries()) {
      expect(v).toMatchObject({ tag: fx.tags.v2, revert: fx.tags.v1, lock: false });
      const web = v.containers.find((c) => c.name === `${APP}-web`)!;
      expect(web).toMatchObject({ tag: fx.tags.v2, running: true });
      expect(web.id).not.toBe(before[i].containers.find((c) => c.name === `${APP}-web`)!.id);
      expect((await fetchVersion(fx.lab.hosts[i].webUrl)).version).toBe(fx.tags.v2);
      expect(v.audit.at(-1)).toMatch(new RegExp(`\\te2e-tester\\t${APP}\\tdeploy\\t${fx.tags.v1}->${fx.tags.v2}@sha256:[0-9a-f]{64}\\tsuccess\\trun=local-`));
    }
    // Role order: all web restarts happened before the worker, the worker before beat.
    const started = (name: string) => views.flatMap((v) => v.containers.filter((c) => c.name === `${APP}-${name}`).map((c) => Date.parse(c.startedAt)));
    expect(Math.max(...started('web'))).toBeLessThan(Math.min(...started('worker')));
    expect(Math.max(...started('worker'))).toBeLessThan(Math.min(...started('beat')));
    // Web hosts restarted one at a time, in order.
    const webs = started('web');
    expect([...webs].sort((a, b) => a - b)).toEqual(webs);
    expect(r.leftovers).toEqual({ ledger: [], files: [] });
    expect(r.lines.join('\n')).not.toContain(fx.lab.registry.password);
  });

  // Kept: a real migration fails against PostgreSQL, and the GitHub deployment gets its failure status.
  test('a build whose migration fails: no host restarted, every host still on v2', async () => {
    api.calls.length = 0;
    const before = await fx.views();
    const r = await fx.deploy('deploy', { tag: fx.tags.migrate, env: ghEnv(), inputs: { 'github-token': 'ghs_e2etoken' } });
    expect(r.result?.exitCode).toBe(1);
    expect(r.report).toMatchObject({ ok: false, phase: 'tasks', failedHost: addresses()[0], reverted: false });
    expect(r.lines.join('\n')).toMatch(/task 'deploy' failed on 127\.0\.0\.1:\d+: exit \d+.*no host was restarted/);
    const after = await fx.views();
    for (const [i, v] of after.entries()) {
      expect(v).toMatchObject({ tag: fx.tags.v2, revert: fx.tags.v1, lock: false });
      expect(v.containers.map((c) => `${c.id}:${c.tag}:${c.running}`).sort()).toEqual(before[i].containers.map((c) => `${c.id}:${c.tag}:${c.running}`).sort());
    }
    expect(api.calls.map((c) => c.body.state ?? 'create')).toEqual(['create', 'in_progress', 'failure']);
    expect(r.leftovers).toEqual({ ledger: [], files: [] });
  });

  // Kept: the real load balancer never sees the failing candidate (zero failed requests).
  test('a build whose /health/ fails: never served through the LB, the rollout is reverted, every host on v2', async () => {
    const before = await fx.views();
    const load = startLoad({ url: fx.lab.lb.url, concurrency: 4, pauseMs: 10, maxMs: 240_000, maxRequests: 50_000 });
    await sleep(300);
    const r = await fx.deploy('deploy', { tag: fx.tags.health, config: fx.config({ healthTimeout: 6 }) });
    const stats = await load.stop();
    console.log(`health fault: ${Math.round(r.ms / 100) / 10}s; load ${JSON.stringify({ ...stats, failures: stats.failures.slice(0, 5) })}`);
    expect(r.result?.exitCode).toBe(1);
    expect(r.result!.outputs.reverted).toBe('true');
    expect(r.report).toMatchObject({ phase: 'rolling', failedHost: addresses()[0], failedStep: 'health (web)' });
    // The candidate is gone after the revert; what it logged is in the failure.
    expect(r.report!.error).toMatch(new RegExp(`\\nlast log lines of ${APP}-web\\S*:\\n  \\S`));
    expect(stats.failed).toBe(0);
    expect(Object.keys(stats.versions)).toEqual([fx.tags.v2]);
    for (const [i, v] of (await fx.views()).entries()) {
      expect(v).toMatchObject({ tag: fx.tags.v2, revert: fx.tags.v1, lock: false });
      expect(v.containers.map((c) => c.id).sort()).toEqual(before[i].containers.map((c) => c.id).sort());
    }
  });

  test('host keys: an unknown and a changed key are refused naming the host; nothing changes', async () => {
    const before = await fx.views();
    const known = readFileSync(fx.lab.ssh.knownHostsPath, 'utf8').split('\n').filter(Boolean);
    const h1 = fx.lab.hosts[0];
    const name = `[${h1.sshHost}]:${h1.sshPort}`;
    const others = known.filter((l) => !l.startsWith(`${name} `));
    const unknown = await fx.deploy('deploy', { tag: fx.tags.v3, inputs: { 'ssh-known-hosts': others.join('\n') } });
    expect(unknown.error?.message).toContain(`host key for ${h1.sshHost}:${h1.sshPort} is not in ssh-known-hosts: add the output of \`ssh-keyscan -p ${h1.sshPort} ${h1.sshHost}\``);
    // A different ed25519 key for host 1: what a man-in-the-middle would present.
    const dir = mkdtempSync(path.join(os.tmpdir(), 'pallet-e2e-key-'));
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', path.join(dir, 'k')]);
    const fake = readFileSync(path.join(dir, 'k.pub'), 'utf8').split(' ').slice(0, 2).join(' ');
    rmSync(dir, { recursive: true, force: true });
    const changed = await fx.deploy('deploy', { tag: fx.tags.v3, inputs: { 'ssh-known-hosts': [...others, `${name} ${fake}`].join('\n') } });
    expect(changed.error?.message).toMatch(new RegExp(`host key for ${h1.sshHost.replace(/\./g, '\\.')}:${h1.sshPort} has CHANGED .*man-in-the-middle`));
    for (const [i, v] of (await fx.views()).entries()) {
      expect(v).toMatchObject({ tag: before[i].tag, lock: false });
      expect(v.containers.map((c) => c.id).sort()).toEqual(before[i].containers.map((c) => c.id).sort());
    }
    expect(changed.leftovers).toEqual({ ledger: [], files: [] });
  });

  test('a second deploy while one runs fails clearly on the lock; the first one finishes', async () => {
    const first = fx.deploy('deploy', { tag: fx.tags.v3 });
    // Wait until the first deploy holds its locks, then start the second.
    for (let i = 0; i < 100 && !(await fx.view(addresses()[0])).lock; i++) await sleep(100);
    const second = await fx.deploy('deploy', { tag: fx.tags.v3, inputs: { 'lock-timeout': '0' } });
    expect(second.error?.message).toMatch(/the deploy lock of e2edeploy is held by run local-[0-9a-f]+ by e2e-tester since \d{4}-\d\d-\d\dT[^:]+:\d\d:\d\d\.\d+Z: another deploy is running/);
    const r = await first;
    expect(r.result?.exitCode).toBe(0);
    for (const v of await fx.views()) expect(v).toMatchObject({ tag: fx.tags.v3, revert: fx.tags.v2, lock: false });
  });

  test('rollback to the previous tag (breaking a stale lock): every host back on v2, tasks skipped, worker and beat after web', async () => {
    // A lock left behind by a crashed deploy on host 3; break-lock removes it with a warning.
    await fx.ssh(addresses()[2], `mkdir -p /var/lib/pallet/${APP}/lock && echo stale > /var/lib/pallet/${APP}/lock/token && echo 'run 1.1 by ghost since 2020-01-01T00:00:00.000Z' > /var/lib/pallet/${APP}/lock/owner`);
    const r = await fx.deploy('rollback', { inputs: { 'break-lock': 'true' } });
    expect(r.result?.exitCode).toBe(0);
    expect(r.lines.join('\n')).toContain(`warning: break-lock: removed the deploy lock of ${APP} on ${addresses()[2]} held by run 1.1 by ghost since 2020-01-01T00:00:00.000Z`);
    expect(r.lines.join('\n')).not.toMatch(/task 'deploy'/);
    const views = await fx.views();
    for (const v of views) expect(v).toMatchObject({ tag: fx.tags.v2, revert: fx.tags.v3, lock: false });
    const started = (name: string) => views.flatMap((v) => v.containers.filter((c) => c.name === `${APP}-${name}`).map((c) => Date.parse(c.startedAt)));
    expect(Math.max(...started('web'))).toBeLessThan(Math.min(...started('worker')));
    expect(Math.max(...started('worker'))).toBeLessThan(Math.min(...started('beat')));
    expect(views[2].audit.at(-1)).toMatch(new RegExp(`\\trollback\\t${fx.tags.v3}->${fx.tags.v2}@sha256:[0-9a-f]{64}\\tsuccess`));
  });

});
