// What users of SSH-and-Docker deploy tools run into, tried on the real lab the way a new user
// would: a passphrase-protected deploy key, host env files written like shell .env files, and a
// worker that ignores SIGTERM. Each message is asserted for what is wrong, where and what to do.
// A health path that answers a steady 4xx is unit-tested (test/unit/health-policy.test.ts,
// engine-fleet.test.ts); the real Django answering 400 to a strict ALLOWED_HOSTS is the last case
// of deploy-proxy.test.ts.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { describeLab } from '../helpers/lab.js';
import type { PalletConfig } from '../../src/config/types.js';
import { DeployFixture } from './deploy-fixture.js';

describeLab('deploy pitfalls (lab)', () => {
  const fx = new DeployFixture(`pitfall-${randomBytes(3).toString('hex')}`);
  const lintEnv = `/etc/pallet/lint-${fx.run}.env`;
  const keyComment = `pallet-e2e-encrypted-${fx.run}`;

  /** A worker-only deploy on one host: the cheapest deploy that really runs a container. */
  const workerOnly = (host: string, envFile = '/etc/pallet/example.env'): PalletConfig => {
    const c = fx.config({ workers: [host] });
    c.deploy!.roles = { worker: { hosts: [host], command: 'worker', stable: 2, stop_timeout: 3 } };
    c.deploy!.tasks = [];
    c.deploy!.env_file = envFile;
    return c;
  };

  /** ssh-agent processes whose command line names a path under this fixture's RUNNER_TEMP. */
  const agents = () => readdirSync('/proc').filter((p) => /^\d+$/.test(p)).filter((p) => {
    try { const c = readFileSync(`/proc/${p}/cmdline`, 'utf8'); return c.includes('ssh-agent') && c.includes(fx.runnerTemp); } catch { return false; }
  });

  beforeAll(async () => {
    await fx.setup(['v1']);
  }, 900_000);

  afterAll(async () => {
    for (const a of fx.addresses) await fx.ssh(a, `rm -f ${lintEnv}; sed -i '/${keyComment}/d' ~/.ssh/authorized_keys`).catch(() => undefined);
    await fx.teardown();
  }, 300_000);

  test('stop_signal: a worker that ignores SIGTERM is killed after stop_timeout with a warning naming host and role; SIGUSR1 stops it cleanly', async () => {
    const host = fx.addresses[1];
    // A worker that ignores SIGTERM and exits 0 on SIGUSR1 (tini forwards both).
    const code = 'import signal, sys, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\nsignal.signal(signal.SIGUSR1, lambda *a: sys.exit(0))\nwhile True: time.sleep(1)';
    const config = (stopSignal?: string) => {
      const c = fx.config({ workers: [host] });
      c.deploy!.roles = { worker: { hosts: [host], command: ['shell', '-c', code], stable: 2, stop_timeout: 3, ...(stopSignal ? { stop_signal: stopSignal } : {}) } };
      c.deploy!.tasks = [];
      return c;
    };
    const killed = (lines: string[]) => lines.filter((l) => l.includes('was killed'));
    const first = await fx.deploy('deploy', { tag: fx.tags.v1, config: config() });
    expect({ ok: first.report?.ok, error: first.report?.error ?? first.error?.message }).toEqual({ ok: true, error: undefined });
    expect(killed(first.lines)).toEqual([]);

    // Redeploy: the running worker gets SIGTERM, ignores it, and is killed after 3 s.
    const second = await fx.deploy('deploy', { tag: fx.tags.v1, config: config() });
    expect(second.report?.ok).toBe(true);
    const warning = killed(second.lines);
    expect(warning).toHaveLength(1);
    expect(warning[0]).toContain(`${host}: the worker container did not exit within stop_timeout (3 s) after SIGTERM and was killed (SIGKILL)`);
    expect(warning[0]).toContain('set deploy.roles.worker.stop_signal to the signal it shuts down on');
    expect(warning[0]).toContain('or raise deploy.roles.worker.stop_timeout');

    // With stop_signal SIGUSR1 the same worker (started with SIGTERM recorded) exits on its own.
    const third = await fx.deploy('deploy', { tag: fx.tags.v1, config: config('SIGUSR1') });
    expect(third.report?.ok).toBe(true);
    expect(killed(third.lines)).toEqual([]);
    // The new container records its stop signal, so a manual `docker stop` sends the same one.
    expect((await fx.ssh(host, `docker inspect --format '{{.Config.StopSignal}}' ${fx.app}-worker`)).trim()).toBe('SIGUSR1');
    expect(third.leftovers).toEqual({ ledger: [], files: [] });
  }, 300_000);

  describe('a passphrase-protected deploy key (ssh-keygen -N)', () => {
    const passphrase = `correct horse ${fx.run} battery`;
    let encrypted = '';
    beforeAll(async () => {
      const file = path.join(fx.runnerTemp, '..', `pallet-e2e-enc-${fx.run}`);
      execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', passphrase, '-C', keyComment, '-f', file]);
      encrypted = readFileSync(file, 'utf8');
      const pub = readFileSync(`${file}.pub`, 'utf8');
      execFileSync('rm', ['-f', file, `${file}.pub`]);
      for (const a of fx.addresses) await fx.ssh(a, 'cat >> ~/.ssh/authorized_keys', pub);
    }, 120_000);

    test('without ssh-key-passphrase it is refused before any host is contacted, naming the input and what to do', async () => {
      const r = await fx.deploy('deploy', { tag: fx.tags.v1, config: workerOnly(fx.addresses[2]), inputs: { 'ssh-private-key': encrypted } });
      expect(r.report).toBeUndefined();
      expect(r.error!.message).toBe("input 'ssh-private-key' is encrypted with a passphrase (OpenSSH key, cipher aes256-ctr) and input 'ssh-key-passphrase' is not set: ssh cannot use the key without it");
      expect((r.error as { hint?: string }).hint).toContain('set the ssh-key-passphrase input (from a secret) to the key\'s passphrase');
      expect(r.lines.filter((l) => /Preflight|lock taken/.test(l))).toEqual([]);
      expect((await fx.view(fx.addresses[2])).containers).toEqual([]);
      expect(r.leftovers).toEqual({ ledger: [], files: [] });
    }, 120_000);

    test('a wrong passphrase is refused naming both inputs; the agent is stopped', async () => {
      const r = await fx.deploy('deploy', { tag: fx.tags.v1, config: workerOnly(fx.addresses[2]), inputs: { 'ssh-private-key': encrypted, 'ssh-key-passphrase': 'not the passphrase' } });
      expect(r.error!.message).toMatch(/^input 'ssh-key-passphrase' does not unlock input 'ssh-private-key' \(ssh-add: /);
      expect((r.error as { hint?: string }).hint).toContain('the passphrase the key was made with');
      expect(r.lines.filter((l) => /lock taken/.test(l))).toEqual([]);
      expect(agents()).toEqual([]);
      expect(r.leftovers).toEqual({ ledger: [], files: [] });
    }, 120_000);

    test('with ssh-key-passphrase the key is loaded into a per-run agent, the deploy succeeds, and the agent is gone after', async () => {
      const during: { agents: string[]; sockets: string[] }[] = [];
      const config = workerOnly(fx.addresses[2]);
      const r = await fx.deploy('deploy', {
        tag: fx.tags.v1, config, inputs: { 'ssh-private-key': encrypted, 'ssh-key-passphrase': passphrase },
        hooks: { afterBatch: async () => { during.push({ agents: agents(), sockets: readdirSync(fx.runnerTemp).flatMap((d) => readdirSync(path.join(fx.runnerTemp, d)).filter((f) => f === 'agent.sock')) }); } },
      }).finally(() => fx.resetHost(fx.addresses[2]));
      expect({ ok: r.report?.ok, error: r.report?.error ?? r.error?.message }).toEqual({ ok: true, error: undefined });
      expect(during).toEqual([{ agents: [expect.any(String)], sockets: ['agent.sock'] }]);
      expect(r.report!.hosts.map((h) => [h.host, h.newTag])).toEqual([[fx.addresses[2], fx.tags.v1]]);
      expect(agents()).toEqual([]);
      expect(r.lines.join('\n')).not.toContain(passphrase);
      expect(r.leftovers).toEqual({ ledger: [], files: [] });
    }, 300_000);
  });

  describe("the host's env file checked like docker reads it", () => {
    const QUOTED = `"quoted-${fx.run}-value"`;
    let base = 0;
    beforeAll(async () => {
      base = Number((await fx.ssh(fx.addresses[0], 'wc -l < /etc/pallet/example.env')).trim());
      // Host 1: a shell-style `export` line (docker refuses the file). Host 2: a quoted value, and
      // the whole file saved with CRLF endings.
      await fx.ssh(fx.addresses[0], `umask 077; { cat /etc/pallet/example.env; echo 'export DJANGO_SETTINGS_MODULE=example.settings'; } > ${lintEnv}`);
      await fx.ssh(fx.addresses[1], `umask 077; { cat /etc/pallet/example.env; echo 'API_TOKEN=${QUOTED}'; } | sed 's/$/\r/' > ${lintEnv}`);
    }, 120_000);

    test('a line docker refuses fails preflight on that host by file and line, nothing changes; quotes and CRLF are warnings; no value is shown', async () => {
      const [h1, h2] = fx.addresses;
      // "Nothing changes": each host is exactly as before the attempt (earlier tests may have left the app there).
      const before = new Map<string, unknown>();
      for (const a of [h1, h2]) {
        const v = await fx.view(a);
        before.set(a, { a, tag: v.tag, lock: false, containers: v.containers });
      }
      const r = await fx.deploy('deploy', { tag: fx.tags.v1, config: (() => { const c = workerOnly(h1, lintEnv); c.deploy!.roles.worker.hosts = [h1, h2]; return c; })() });
      expect(r.report).toBeUndefined();
      const msg = r.error!.message;
      expect(msg).toContain('preflight failed, nothing was changed');
      expect(msg).toContain(`${h1}: deploy.env_file ${lintEnv} line ${base + 1}: 'export DJANGO_SETTINGS_MODULE=...' is refused by docker's --env-file (no export, no shell syntax); write DJANGO_SETTINGS_MODULE=value without export`);
      expect(msg).not.toContain(h2);
      const warnings = r.lines.filter((l) => l.includes(lintEnv) && !l.includes('preflight failed'));
      expect(warnings.join('\n')).toContain(`${h2}: deploy.env_file ${lintEnv} line ${base + 1}: the value of API_TOKEN is in quotes; docker's --env-file keeps them, so the app gets the quotes as part of the value; remove them`);
      expect(warnings.join('\n')).toContain(`${h2}: deploy.env_file ${lintEnv} lines 1, 2, 3`);
      expect(warnings.join('\n')).toContain('end in CRLF (Windows line endings)');
      expect(r.lines.join('\n') + msg).not.toContain(`quoted-${fx.run}-value`);
      for (const a of [h1, h2]) {
        const v = await fx.view(a);
        expect({ a, tag: v.tag, lock: v.lock, containers: v.containers }).toEqual(before.get(a));
      }
      expect(r.leftovers).toEqual({ ledger: [], files: [] });
    }, 300_000);
  });
});
