// Day-2 operations against the real lab, through the real `pallet` command (a child process, as a
// person runs it): status after a good deploy, after a reverted one and while a lock is held;
// exec of management commands on one host and on every host with the exit code passed through;
// an interactive exec answering a prompt in a real terminal (tmux); logs --follow stopped with
// Ctrl-C leaving no ssh or docker process on either side; lock release without and with --force.
import { jest } from '@jest/globals';
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { describeLab, REPO_ROOT } from '../helpers/lab.js';
import { DeployFixture, sleep } from './deploy-fixture.js';
import type { PalletConfig } from '../../src/config/types.js';
import { CLI_COMMAND } from '../helpers/entry.js';

jest.setTimeout(600_000);
const OPS_APP = 'e2eops';

interface StatusJson {
  hosts: { host: string; tag: string; revert: string; lock?: string; audit: string[]; containers: { role: string; tag: string; digest: string; state: string; name: string }[]; error?: string }[];
}

describeLab('day-2 operations: status, exec, logs, lock (lab)', () => {
  let fx: DeployFixture;
  let dir: string;
  let runnerTemp: string;
  let config: PalletConfig;
  const hosts = () => fx.addresses;

  beforeAll(async () => {
    fx = new DeployFixture(OPS_APP);
    await fx.setup(['v1', 'health']);
    dir = mkdtempSync(path.join(os.tmpdir(), 'pallet-e2e-ops-'));
    // Short: ssh's ControlMaster socket (dir + 40-char hash + 17-char temp suffix) must fit 108 bytes.
    runnerTemp = mkdtempSync('/tmp/po-');
    config = fx.config({ batch: '100%', healthTimeout: 90 });
    // The same app as a pallet.yml on disk, for the CLI.
    const d = config.deploy!;
    writeFileSync(path.join(dir, 'Dockerfile'), 'FROM scratch\n');
    writeFileSync(path.join(dir, 'requirements.txt'), '');
    writeFileSync(path.join(dir, 'pallet.yml'), YAML.stringify({
      app: config.app, image: config.image,
      deploy: { ssh: d.ssh, env_file: d.env_file, tasks: d.tasks, roles: d.roles, rolling: d.rolling, keep: d.keep, proxy: d.proxy },
    }));
    writeFileSync(path.join(dir, 'known_hosts'), readFileSync(fx.lab.ssh.knownHostsPath, 'utf8'));
  }, 900_000);

  afterAll(async () => {
    await fx?.teardown();
    if (dir) rmSync(dir, { recursive: true, force: true });
    if (runnerTemp) rmSync(runnerTemp, { recursive: true, force: true });
  }, 300_000);

  const cliEnv = () => ({ PATH: process.env.PATH, HOME: process.env.HOME, USER: 'e2e-tester', RUNNER_TEMP: runnerTemp, TERM: 'xterm' });
  const baseArgs = () => ['--config', path.join(dir, 'pallet.yml'), '--ssh-known-hosts', readFileSync(path.join(dir, 'known_hosts'), 'utf8'), '--ssh-private-key-file', fx.lab.ssh.privateKeyPath];

  // Commands some tests expect to exit non-zero (their output is printed only in verbose mode).
  const expectFail = new Set(['lock release', 'exec']);
  /** Runs `pallet ARGS` to the end (bounded); stdout, stderr, exit code. */
  function pallet(args: string[], timeoutMs = 180_000): Promise<{ code: number; stdout: string; stderr: string }> {
    const [cmd, ...rest] = args;
    const dash = rest.indexOf('--');
    const flags = dash < 0 ? rest : rest.slice(0, dash);
    const after = dash < 0 ? [] : rest.slice(dash);
    return new Promise((resolve, reject) => {
      const child = spawn(CLI_COMMAND[0], [...CLI_COMMAND.slice(1), ...cmd.split(' '), ...flags, ...baseArgs(), ...after], { env: cliEnv(), cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (b) => (stdout += b));
      child.stderr.on('data', (b) => (stderr += b));
      const t = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      child.on('error', reject);
      child.on('close', (code) => {
        clearTimeout(t);
        if (process.env.PALLET_E2E_VERBOSE || (code !== 0 && !expectFail.has(args[0]))) console.log(`$ pallet ${args.join(' ')} -> ${code}\n${stdout}${stderr}`);
        resolve({ code: code ?? -1, stdout, stderr });
      });
    });
  }

  async function status(): Promise<StatusJson> {
    const r = await pallet(['status', '--json']);
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: expect.any(String) });
    return JSON.parse(r.stdout) as StatusJson;
  }

  /** Processes on this machine still using this test's ssh material (ControlMaster, clients). */
  function localSshProcesses(): string[] {
    const out = execFileSync('ps', ['-eo', 'pid=,args='], { encoding: 'utf8' });
    return out.split('\n').filter((l) => /\bssh\b/.test(l) && l.includes(runnerTemp));
  }

  /** docker logs / hangup wrappers still running on a lab host (read from /proc, no ps needed). */
  async function remoteLeftovers(address: string): Promise<string[]> {
    const out = await fx.ssh(address, `for p in /proc/[0-9]*; do c=$(tr '\\0' ' ' < $p/cmdline 2>/dev/null); [ -n "$c" ] && echo "$c"; done; true`);
    return out.split('\n').filter((l) => /^docker (logs|run)|^sh -c exec 3<&0/.test(l));
  }

  // --- tmux: a real terminal --------------------------------------------------------------

  const TMUX_SOCKET = `pallet-e2e-${process.pid}`;
  const tmux = (...args: string[]) => execFileSync('tmux', ['-L', TMUX_SOCKET, ...args], { encoding: 'utf8' });
  /** Starts `pallet ARGS` in a detached tmux session; its exit code lands in a file. */
  function startInTmux(name: string, args: string[]): { exitFile: string } {
    const exitFile = path.join(dir, `${name}.exit`);
    const script = path.join(dir, `${name}.sh`);
    const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
    const env = Object.entries(cliEnv()).map(([k, v]) => `export ${k}=${q(v ?? '')}`).join('\n');
    const [cmd, ...rest] = args;
    const dash = rest.indexOf('--');
    const argv = [...CLI_COMMAND, ...cmd.split(' '), ...(dash < 0 ? rest : rest.slice(0, dash)), ...baseArgs(), ...(dash < 0 ? [] : rest.slice(dash))];
    // The terminal's Ctrl-C reaches the whole foreground group: the shell traps it so it lives on to
    // record pallet's exit code (a trapped signal is reset to its default in the child).
    writeFileSync(script, `${env}\ntrap : INT\ncd ${q(REPO_ROOT)}\n${argv.map(q).join(' ')}\necho $? > ${q(exitFile)}\nsleep 300\n`);
    tmux('new-session', '-d', '-s', name, '-x', '200', '-y', '50', `sh ${q(script)}`);
    return { exitFile };
  }
  const pane = (name: string) => tmux('capture-pane', '-p', '-J', '-S', '-200', '-t', name);
  async function waitFor(what: string, fn: () => boolean | Promise<boolean>, ms = 120_000): Promise<void> {
    const end = Date.now() + ms;
    for (let i = 0; i < 10_000 && Date.now() < end; i++) {
      if (await fn()) return;
      await sleep(250);
    }
    throw new Error(`timed out waiting for ${what}`);
  }
  afterAll(() => { try { tmux('kill-server'); } catch { /* no server left */ } });

  // --- the tests, in order ----------------------------------------------------------------

  test('status right after a good deploy: every host and role on the new tag, running, lock free, audit line', async () => {
    const d = await fx.deploy('deploy', { tag: fx.tags.v1, config });
    expect(d.result?.exitCode).toBe(0);
    const s = await status();
    expect(s.hosts.map((h) => h.host)).toEqual(hosts());
    for (const h of s.hosts) {
      expect(h).toMatchObject({ tag: fx.tags.v1, revert: '' });
      expect(h.lock).toBeUndefined();
      const roles = h.host === hosts()[2] ? ['web', 'worker', 'beat'] : ['web'];
      // The digest the deploy pulled, the same one the audit line names.
      const digest = /->[^@]+@(sha256:[0-9a-f]{64})\t/.exec(h.audit.at(-1) ?? '')?.[1];
      for (const role of roles) expect(h.containers.filter((c) => c.role === role)).toEqual([expect.objectContaining({ tag: fx.tags.v1, digest, state: 'running' })]);
      expect(h.audit.at(-1)).toMatch(new RegExp(`\\t${OPS_APP}\\tdeploy\\t\\(none\\)->${fx.tags.v1}@sha256:[0-9a-f]{64}\\tsuccess\\t`));
    }
    // The table a person reads.
    const t = await pallet(['status']);
    expect(t.code).toBe(0);
    expect(t.stdout).toMatch(new RegExp(`${hosts()[0].replace(/[.]/g, '\\.')}\\s+web\\s+${OPS_APP}-web\\s+${fx.tags.v1}\\s+sha256:[0-9a-f]{12}\\s+running`));
    expect(t.stdout).toContain('deploy lock');
  });

  test('status after a reverted deploy: still the old tag everywhere, the failure in the audit log', async () => {
    const d = await fx.deploy('deploy', { tag: fx.tags.health, config: fx.config({ batch: '100%', healthTimeout: 8 }) });
    expect(d.result?.exitCode).toBe(1);
    expect(d.result?.outputs.reverted).toBe('true');
    const s = await status();
    for (const h of s.hosts) {
      expect(h).toMatchObject({ tag: fx.tags.v1 });
      expect(h.lock).toBeUndefined();
      expect(h.containers.filter((c) => c.role === 'web')).toEqual([expect.objectContaining({ tag: fx.tags.v1, state: 'running' })]);
      expect(h.containers.some((c) => c.tag === fx.tags.health && c.state === 'running')).toBe(false);
      expect(h.audit.at(-1)).toMatch(new RegExp(`\\tdeploy\\t${fx.tags.v1}->${fx.tags.health}@sha256:[0-9a-f]{64}\\tfailed at rolling( \\(reverted\\))?\\t`));
    }
  });

  test('status while a lock is held names the holder on that host only', async () => {
    const owner = `run 999.1 by someone-else since ${new Date().toISOString()}`;
    await fx.ssh(hosts()[1], `mkdir /var/lib/pallet/${OPS_APP}/lock && printf '%s\\n' '${owner}' > /var/lib/pallet/${OPS_APP}/lock/owner && echo tok > /var/lib/pallet/${OPS_APP}/lock/token`);
    const s = await status();
    expect(s.hosts.map((h) => h.lock ?? null)).toEqual([null, owner, null]);
    const t = await pallet(['status']);
    expect(t.stdout).toContain(`held by ${owner}`);
  });

  test('lock release: another run\'s lock stays without --force and goes with it, naming the holder; both audited', async () => {
    const ls = await pallet(['lock status']);
    expect(ls.code).toBe(0);
    expect(ls.stdout).toContain('run 999.1 by someone-else');

    const refused = await pallet(['lock release']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(`${hosts()[1]}: the deploy lock of ${OPS_APP} is held by run 999.1 by someone-else`);
    expect(refused.stderr).toContain('--force');
    expect((await fx.view(hosts()[1])).lock).toBe(true);

    const forced = await pallet(['lock release', '--force']);
    expect(forced.code).toBe(0);
    expect(forced.stdout).toContain(`${hosts()[1]}: removed the deploy lock of ${OPS_APP} held by run 999.1 by someone-else`);
    const v = await fx.view(hosts()[1]);
    expect(v.lock).toBe(false);
    expect(v.audit.at(-1)).toMatch(/\te2e-tester\te2eops\tlock-release\tholder: run 999\.1 by someone-else since \S+\treleased with --force\trun=local-/);

    // A lock left by one's own crashed local run goes without --force.
    await fx.ssh(hosts()[0], `mkdir /var/lib/pallet/${OPS_APP}/lock && echo 'run local-dead01 by e2e-tester since 2026-01-01T00:00:00.000Z' > /var/lib/pallet/${OPS_APP}/lock/owner`);
    const own = await pallet(['lock release']);
    expect(own.code).toBe(0);
    expect(own.stdout).toContain(`${hosts()[0]}: removed the deploy lock of ${OPS_APP} held by run local-dead01 by e2e-tester`);
    expect((await fx.views()).map((x) => x.lock)).toEqual([false, false, false]);
  });

  test('exec of management commands on one host: output, the running tag with the env file, exit code passed through, arguments never reach a shell', async () => {
    const ok = await pallet(['exec', '--', 'check']);
    expect([ok.code, ok.stdout]).toEqual([0, expect.stringContaining('System check identified no issues')]);

    const hostile = `$(touch /tmp/pwned-ops); echo 'x' "y"`;
    const code = `import os, sys; print("version", os.environ.get("APP_VERSION"), "env", os.environ.get("ENVIRONMENT")); print("arg", ${JSON.stringify(hostile)}); sys.exit(3)`;
    const r = await pallet(['exec', '--host', hosts()[1], '--', 'shell', '-c', code]);
    expect(r.code).toBe(3);
    expect(r.stdout).toContain(`version ${fx.tags.v1} env production`);
    expect(r.stdout).toContain(`arg ${hostile}`);
    expect(await fx.ssh(hosts()[1], 'ls /tmp/pwned-ops 2>&1 || true')).toMatch(/No such file/);
    const audit = (await fx.view(hosts()[1])).audit.at(-1)!;
    expect(audit).toMatch(new RegExp(`\\te2e-tester\\t${OPS_APP}\\texec\\tweb@${fx.tags.v1} \\$ shell -c .*\\texit=3\\trun=local-`));
    // No exec container is left behind.
    expect((await fx.view(hosts()[1])).containers.filter((c) => c.name.includes('-exec-'))).toEqual([]);
  });

  test('exec --all on every host of the role: lines prefixed with the host, the first non-zero exit code', async () => {
    // Each host's /storage volume decides its exit code: proves the app's volume is mounted, per host.
    await fx.ssh(hosts()[1], `echo 5 > /var/lib/pallet/${OPS_APP}/storage/exit-code`);
    const code = 'import os, sys; p = "/storage/exit-code"; c = int(open(p).read()) if os.path.exists(p) else 0; print("exiting with", c); sys.exit(c)';
    const r = await pallet(['exec', '--all', '--', 'shell', '-c', code]);
    expect(r.code).toBe(5);
    const width = Math.max(...hosts().map((h) => h.length));
    for (const [i, h] of hosts().entries()) expect(r.stdout).toContain(`${h.padEnd(width)} | exiting with ${i === 1 ? 5 : 0}`);
    expect(r.stderr).toContain(`exec failed on ${hosts()[1]}`);
    for (const h of hosts()) expect((await fx.view(h)).audit.at(-1)).toMatch(/\texec\t.*\texit=[05]\t/);
    await fx.ssh(hosts()[1], `rm -f /var/lib/pallet/${OPS_APP}/storage/exit-code`);
    const all0 = await pallet(['exec', '--all', '--role', 'worker', '--', 'check']);
    expect(all0.code).toBe(0);
  });

  test('exec -i in a real terminal (tmux) answers a prompt; its exit code passes through', async () => {
    const { exitFile } = startInTmux('execi', ['exec', '-i', '--', 'shell', '-c', 'import sys; name = input("Your name? "); print("hello", name.upper()); sys.exit(4)']);
    await waitFor('the prompt', () => pane('execi').includes('Your name? '));
    tmux('send-keys', '-t', 'execi', 'pallet-e2e', 'Enter');
    await waitFor('the exit code', () => existsSync(exitFile));
    expect(pane('execi')).toContain('hello PALLET-E2E');
    expect(readFileSync(exitFile, 'utf8').trim()).toBe('4');
    expect((await fx.view(hosts()[0])).audit.at(-1)).toMatch(new RegExp(`\\texec\\tweb@${fx.tags.v1} -i \\$ shell -c .*\\texit=4\\t`));
    expect(localSshProcesses()).toEqual([]);
  });

  test('logs --follow: merged host-prefixed lines; Ctrl-C ends it with no ssh or docker process left on either side', async () => {
    // Plain logs first: every host's lines, host-prefixed, in time order.
    const plain = await pallet(['logs', '--tail', '3']);
    expect(plain.code).toBe(0);
    for (const h of hosts()) expect(plain.stdout).toMatch(new RegExp(`^${h.replace(/[.]/g, '\\.')}\\s* \\| \\d{4}-\\d\\d-\\d\\dT`, 'm'));

    const { exitFile } = startInTmux('follow', ['logs', '--follow', '--tail', '2']);
    await waitFor('lines from every host', () => hosts().every((h) => pane('follow').includes(`${h} | `) || new RegExp(`${h.replace(/[.]/g, '\\.')}\\s+\\| `).test(pane('follow'))));
    // Running now: one docker logs per host, under the hangup wrapper.
    for (const h of hosts()) expect((await remoteLeftovers(h)).some((l) => l.startsWith('docker logs'))).toBe(true);
    // A request shows up live.
    await fetch(`${fx.lab.hosts[0].webUrl}/health/`).then((r) => r.text());
    await waitFor('a live access-log line', () => /GET \/health\//.test(pane('follow')));

    tmux('send-keys', '-t', 'follow', 'C-c');
    await waitFor('pallet to exit', () => existsSync(exitFile), 60_000);
    expect(readFileSync(exitFile, 'utf8').trim()).toBe('0');
    expect(localSshProcesses()).toEqual([]);
    expect(readdirSync(runnerTemp)).toEqual([]);
    for (const h of hosts()) await waitFor(`no docker logs left on ${h}`, async () => (await remoteLeftovers(h)).length === 0, 15_000);
  });
});
