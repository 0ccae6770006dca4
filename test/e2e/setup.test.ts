// pallet setup against a bare Debian host of the lab (systemd, sshd, sudo, no Docker), through the
// real `pallet` command: a dry run lists the changes and changes nothing; a user without sudo is
// refused naming what is missing; port 80 taken by another process, and a nearly full disk under the
// engine's root, are reported before any change;
// setup then installs Docker from the Debian archive, creates the deploy user with a fresh deploy
// key, the directories and the env file, starts the proxy; the example app deploys with that key;
// a second setup reports no change.
import { jest } from '@jest/globals';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { describeLab, REPO_ROOT } from '../helpers/lab.js';
import { CLI_COMMAND } from '../helpers/entry.js';
import { DeployFixture } from './deploy-fixture.js';
import { bareExec, removeBareHost, startBareHost, type BareHost } from '../lab/bare.js';

jest.setTimeout(900_000);
const APP = 'e2esetup';
const ENV_FILE = '/etc/pallet/e2esetup.env';

describeLab('pallet setup on a bare Debian host (lab)', () => {
  let fx: DeployFixture;
  let bare: BareHost | undefined;
  let dir: string;
  let runnerTemp: string;

  beforeAll(async () => {
    fx = new DeployFixture(APP, { envFile: '/etc/pallet/e2esetup-lab-hosts.env', repository: 'pallet-e2e/setup' });
    await fx.setup(['v1']);
    bare = await startBareHost(fx.lab, readFileSync(`${fx.lab.ssh.privateKeyPath}.pub`, 'utf8').trim());
    dir = mkdtempSync(path.join(os.tmpdir(), 'pallet-e2e-setup-'));
    // Short: ssh's ControlMaster socket path must fit 108 bytes.
    runnerTemp = mkdtempSync('/tmp/ps-');
    // The deploy key is new: setup must install it (the admin logs in with the lab key).
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'pallet-e2e-deploy', '-f', path.join(dir, 'deploy_key')]);
    writeFileSync(path.join(dir, 'known_hosts'), bare.knownHosts);
    writeFileSync(path.join(dir, 'pallet.yml'), YAML.stringify({
      app: APP, image: fx.repo,
      deploy: {
        ssh: { user: 'deploy' }, env_file: ENV_FILE, tasks: [['deploy']], require_tested: false,
        env: { clear: { SECRET_KEY: `e2e-${fx.run}`, DATABASE_URL: fx.dbUrl, DB_DEFAULT_URL: fx.dbUrl, ALLOWED_HOSTS: '*', ENVIRONMENT: 'production', WEB_CONCURRENCY: '2' } },
        proxy: { image: fx.lab.images.proxy, hosts: ['setup.test'], tls: 'off' },
        roles: { web: { hosts: [bare.address], command: 'serve', health: { path: '/health/', timeout: 90 } } },
      },
    }));
  }, 1_200_000);

  afterAll(async () => {
    if (bare) await removeBareHost(bare.id);
    await fx?.teardown();
    if (dir) rmSync(dir, { recursive: true, force: true });
    if (runnerTemp) rmSync(runnerTemp, { recursive: true, force: true });
  }, 300_000);

  const LAB_KEY = () => readFileSync(fx.lab.ssh.privateKeyPath, 'utf8');
  /** Runs `pallet ARGS` to the end (bounded); the admin logs in with the lab key, the deploy key is the new one. */
  function pallet(args: string[], timeoutMs = 600_000): Promise<{ code: number; out: string }> {
    const env = {
      PATH: process.env.PATH, HOME: process.env.HOME, USER: 'e2e-tester', RUNNER_TEMP: runnerTemp,
      PALLET_SSH_PRIVATE_KEY: readFileSync(path.join(dir, 'deploy_key'), 'utf8'), PALLET_ADMIN_SSH_PRIVATE_KEY: LAB_KEY(),
      PALLET_REGISTRY_PASSWORD: fx.lab.registry.password,
    };
    const argv = [...CLI_COMMAND.slice(1), ...args, '--config', path.join(dir, 'pallet.yml'), '--ssh-known-hosts-file', path.join(dir, 'known_hosts'), '--registry-username', fx.lab.registry.username];
    return new Promise((resolve, reject) => {
      const child = spawn(CLI_COMMAND[0], argv, { env, cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      child.stdout.on('data', (b) => (out += b));
      child.stderr.on('data', (b) => (out += b));
      const t = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      child.on('error', reject);
      child.on('close', (code) => {
        clearTimeout(t);
        if (process.env.PALLET_E2E_VERBOSE) console.log(`$ pallet ${args.join(' ')} -> ${code}\n${out}`);
        resolve({ code: code ?? -1, out });
      });
    });
  }

  /** What setup would change, as seen from inside the host (the lab's own access). */
  async function hostState(): Promise<string> {
    return bareExec(bare!.id, `printf 'dockerd=%s\\n' "$(command -v dockerd)"
printf 'deploy=%s\\n' "$(getent passwd deploy)"
for p in /var/lib/pallet /etc/pallet ${ENV_FILE}; do [ -e "$p" ] && printf 'path=%s %s\\n' "$p" "$(stat -c '%a %U %G' "$p")"; done; true`);
  }
  const UNTOUCHED = 'dockerd=\ndeploy=\n';

  test('--dry-run on a fresh host lists every change and changes nothing', async () => {
    const r = await pallet(['setup', '--admin-user', 'admin', '--dry-run']);
    expect({ code: r.code, out: r.out }).toEqual({ code: 0, out: expect.stringContaining(`${bare!.address}: would make 12 change(s):`) });
    for (const want of ["install docker.io, curl from the distribution's packages (apt-get install docker.io curl)", 'create the deploy user deploy', 'add deploy to the docker group',
      'authorize the deploy key for deploy', `create the env file ${ENV_FILE} empty (mode 0600`, "start pallet's proxy"]) {
      expect(r.out).toContain(want);
    }
    expect(r.out).not.toContain('done:');
    expect(await hostState()).toBe(UNTOUCHED);
  });

  test('a user without sudo is refused, naming what is missing, and nothing changes', async () => {
    const r = await pallet(['setup', '--admin-user', 'nosudo']);
    expect(r.code).toBe(1);
    expect(r.out).toContain(`setup stopped before changing anything: ${bare!.address}: user nosudo is not root and cannot use sudo without a password (sudo asks for a password (sudo -n true failed))`);
    expect(await hostState()).toBe(UNTOUCHED);
  });

  test('port 80 taken by another process is reported before any change', async () => {
    // Another web server on port 80 (a transient systemd unit, stopped by its name afterwards).
    await bareExec(bare!.id, 'systemd-run --unit lab-port80 socat TCP-LISTEN:80,fork,reuseaddr EXEC:/bin/true >/dev/null 2>&1\ni=0; until grep -q ":0050 00000000:0000 0A" /proc/net/tcp /proc/net/tcp6 2>/dev/null; do i=$((i+1)); [ $i -gt 100 ] && exit 1; sleep 0.1; done');
    try {
      const r = await pallet(['setup', '--admin-user', 'admin']);
      expect(r.code).toBe(1);
      expect(r.out).toContain(`setup stopped before changing anything: ${bare!.address}: port 80 is taken by another process (socat), and pallet's proxy needs ports 80 and 443`);
      expect(r.out).not.toContain('done:');
      expect(await hostState()).toBe(UNTOUCHED);
    } finally {
      await bareExec(bare!.id, 'systemctl stop lab-port80');
    }
  });

  test('a nearly full disk under the engine\'s root is reported before any change', async () => {
    // The bare host's /var/lib/docker is a tmpfs: shrunk below 1 GiB it is the nearly full disk, then given its size back.
    const mount = await bareExec(bare!.id, "awk '$2 == \"/var/lib/docker\" { print $1, $3, $4 }' /proc/mounts");
    if (!/^tmpfs tmpfs /.test(mount.trim())) throw new Error(`the bare host has no tmpfs on /var/lib/docker to shrink: /proc/mounts says '${mount.trim()}'`);
    // Without a size option it has the kernel's default, half the memory (size=50% gives that back).
    const size = /size=(\d+k)/.exec(mount)?.[1] ?? '50%';
    await bareExec(bare!.id, 'mount -o remount,size=600m /var/lib/docker');
    try {
      const r = await pallet(['setup', '--admin-user', 'admin']);
      expect(r.code).toBe(1);
      expect(r.out).toContain(`setup stopped before changing anything: ${bare!.address}: only 600.0 MB free on /var/lib/docker (holding the engine's root /var/lib/docker): free some space first`);
      expect(r.out).not.toContain('done:');
      expect(await hostState()).toBe(UNTOUCHED);
    } finally {
      await bareExec(bare!.id, `mount -o remount,size=${size} /var/lib/docker`);
    }
  });

  test('setup makes the bare host ready, and the example app deploys to it with the new deploy key', async () => {
    const r = await pallet(['setup', '--admin-user', 'admin']);
    expect({ code: r.code, tail: r.out.slice(-3000) }).toEqual({ code: 0, tail: expect.any(String) });
    expect(r.out).toContain(`${bare!.address}: done: install docker.io, curl from the distribution's packages`);
    expect(r.out).toContain(`${bare!.address}: deploy logs in with the deploy key and runs docker`);
    const state = await hostState();
    expect(state).toMatch(/^dockerd=\/usr\/(s)?bin\/dockerd$/m);
    expect(state).toMatch(/^deploy=deploy:x:\d+:\d+::\/home\/deploy:\/bin\/bash$/m);
    expect(state).toContain('path=/var/lib/pallet 755 deploy deploy\n');
    expect(state).toContain('path=/etc/pallet 750 root deploy\n');
    expect(state).toContain(`path=${ENV_FILE} 600 deploy deploy\n`);
    expect(await bareExec(bare!.id, 'id -nG deploy; systemctl is-enabled docker; systemctl is-active docker; wc -c < ' + ENV_FILE)).toMatch(/\bdocker\b.*\nenabled\nactive\n0\n$/s);

    const d = await pallet(['deploy', '--tag', fx.tags.v1]);
    expect({ code: d.code, tail: d.code === 0 ? '' : d.out.slice(-3000) }).toEqual({ code: 0, tail: '' });
    // Through the proxy setup started, by the app's name.
    const health = execFileSync('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', '--max-time', '10', '-H', 'Host: setup.test', `http://${bare!.ip}/health/`], { encoding: 'utf8' });
    expect(health).toBe('200');

    const s = await pallet(['status', '--json']);
    expect(s.code).toBe(0);
    const st = JSON.parse(s.out.slice(s.out.indexOf('{'))) as { hosts: { tag: string; checks?: { engine: string; ports: Record<string, string | null> } }[]; problems: string[] };
    expect(st.problems).toEqual([]);
    expect(st.hosts[0]).toMatchObject({ tag: fx.tags.v1, checks: { engine: expect.stringMatching(/^20\./) } });
  });

  test('a second setup changes nothing and says so', async () => {
    const r = await pallet(['setup', '--admin-user', 'admin']);
    expect({ code: r.code, out: r.out }).toEqual({ code: 0, out: expect.stringContaining(`${bare!.address}: no change\n`) });
    expect(r.out).not.toContain('done:');
  });
});
