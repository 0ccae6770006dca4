// Host trust on the lab: a deploy to hosts whose keys are unknown, changed, or reached through a
// jump host that is not in ssh-known-hosts is refused at preflight with a message naming the
// host, and no host changes (TAG, REVERT, lock, containers are compared before and after).
// Attempts to loosen StrictHostKeyChecking through pallet.yml are refused by the loader.
// `insecure-skip-host-key-check: true` is the one way through, and it warns.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describeLab } from '../helpers/lab.js';
import { labRegistryAuth, pushToLab } from '../helpers/lab-registry.js';
import { DeployFixture } from './deploy-fixture.js';
import { loadConfig } from '../../src/config/load.js';
import { UserError } from '../../src/errors.js';

describeLab('host-trust refusals', () => {
  const fx = new DeployFixture();
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'pallet-hosttrust-'));
  const known = readFileSync(fx.lab.ssh.knownHostsPath, 'utf8');
  const [h1, h2] = fx.lab.hosts;
  const withoutHost = (port: number) => known.split('\n').filter((l) => l.trim() && !l.startsWith(`[127.0.0.1]:${port} `)).join('\n') + '\n';
  // This file's own app name: the deploy suite's app on the same hosts is never looked at or touched.
  const APP = `hardening-trust-${fx.run}`;
  const cfg = (c = fx.config()) => ({ ...c, app: APP });
  const clean = (a: string) => fx.ssh(a, `ids=$(docker ps -aq --filter label=pallet.app=${APP}); [ -z "$ids" ] || docker rm -f $ids >/dev/null; rm -rf /var/lib/pallet/${APP}; rm -f /etc/pallet/${APP}.env`);
  /** What this app has on a host: state files, lock, containers. */
  const state = (a: string) => fx.ssh(a, `d=/var/lib/pallet/${APP}; ls -A $d 2>/dev/null | tr '\\n' ' '; echo; [ -d $d/lock ] && echo LOCK; docker ps -aq --filter label=pallet.app=${APP}`);

  // A deploy resolves its tag on the registry before any host: the tag exists there (a small lab
  // image), and the last test takes it away as the first pull starts, so that deploy stops at the pull.
  const TAG = `trust-${fx.run}`;
  const registryAuth = labRegistryAuth(fx.lab);
  const manifestUrl = (ref: string) => `http://${fx.lab.registry.address}/v2/${fx.repo.slice(fx.lab.registry.address.length + 1)}/manifests/${ref}`;
  beforeAll(async () => {
    await pushToLab(fx.docker, fx.lab, fx.lab.images.base, fx.repo, TAG);
    await fx.docker.getImage(`${fx.repo}:${TAG}`).remove().catch(() => undefined);
  });

  afterAll(async () => {
    for (const h of fx.lab.hosts) await clean(h.address).catch(() => undefined);
    rmSync(tmp, { recursive: true, force: true });
    rmSync(fx.runnerTemp, { recursive: true, force: true });
  });

  /** Nothing on any host moved, and the run left no ssh socket or key file behind. */
  async function expectUnchanged(leftovers: { ledger: string[]; files: string[] }, pastPreflight = false): Promise<void> {
    const now = await Promise.all(fx.addresses.map(state));
    // Hosts whose key was fine may have taken and released the lock (an empty storage dir stays).
    // A deploy that got past preflight adds only the audit line of its failure. Never a TAG,
    // REVERT, lock or container.
    for (const v of now) expect(v).toMatch(pastPreflight ? /^audit\.log storage \n$/ : /^(storage )?\n$/);
    expect(leftovers).toEqual({ ledger: [], files: [] });
  }

  test('refused: a host whose key is not in ssh-known-hosts (named, with the ssh-keyscan to run)', async () => {
    expect(known).toContain(`[127.0.0.1]:${h1.sshPort} `);
    const r = await fx.deploy('deploy', { tag: TAG, config: cfg(), inputs: { 'ssh-known-hosts': withoutHost(h1.sshPort) } });
    const text = `${r.error?.message ?? ''} ${r.report?.error ?? ''}`;
    expect(r.report?.ok ?? false).toBe(false);
    expect(r.report?.phase ?? 'preflight').toBe('preflight');
    expect(text).toContain(`host key for 127.0.0.1:${h1.sshPort} is not in ssh-known-hosts`);
    expect(text).toContain(`ssh-keyscan -p ${h1.sshPort} 127.0.0.1`);
    await expectUnchanged(r.leftovers);
  });

  test('refused: a host whose key CHANGED (known_hosts holds another key for [127.0.0.1]:port)', async () => {
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', path.join(tmp, 'other')]);
    const otherKey = readFileSync(path.join(tmp, 'other.pub'), 'utf8').trim().split(' ').slice(0, 2).join(' ');
    const forged = withoutHost(h2.sshPort) + `[127.0.0.1]:${h2.sshPort} ${otherKey}\n`;
    const r = await fx.deploy('deploy', { tag: TAG, config: cfg(), inputs: { 'ssh-known-hosts': forged } });
    const text = `${r.error?.message ?? ''} ${r.report?.error ?? ''}`;
    expect(r.report?.ok ?? false).toBe(false);
    expect(text).toMatch(new RegExp(`host key for 127\\.0\\.0\\.1:${h2.sshPort} (has CHANGED|is not in ssh-known-hosts)`));
    await expectUnchanged(r.leftovers);
  });

  test('refused: a jump host that is not in ssh-known-hosts (ProxyCommand keeps strict checking)', async () => {
    const config = cfg(fx.config({ web: [h1.address], workers: [h1.address] }));
    config.deploy!.ssh.jump = `root@${h2.address}`;
    const r = await fx.deploy('deploy', { tag: TAG, config, inputs: { 'ssh-known-hosts': withoutHost(h2.sshPort) } });
    const text = `${r.error?.message ?? ''} ${r.report?.error ?? ''}`;
    expect(r.report?.ok ?? false).toBe(false);
    // Refused before any connection, naming the JUMP host (over ssh only the target's kex error
    // would show, because the jump's 'Host key verification failed' goes to the ProxyCommand's stderr).
    expect(r.report?.phase ?? 'preflight').toBe('preflight');
    expect(text).toContain(`host key for jump host 127.0.0.1:${h2.sshPort} is not in ssh-known-hosts`);
    expect(text).toContain(`ssh-keyscan -p ${h2.sshPort} 127.0.0.1`);
    expect(text).not.toContain(`127.0.0.1:${h1.sshPort}`);
    await expectUnchanged(r.leftovers);
  });

  test.each([
    ['StrictHostKeyChecking in deploy.ssh', 'deploy:\n  ssh: { user: root, StrictHostKeyChecking: "no" }\n  roles: { web: { hosts: [app1] } }\n', /deploy\.ssh/],
    ['ssh options in deploy.ssh', 'deploy:\n  ssh: { options: ["-oStrictHostKeyChecking=no"] }\n  roles: { web: { hosts: [app1] } }\n', /deploy\.ssh/],
    ['an option smuggled in a host', 'deploy:\n  roles: { web: { hosts: ["-oStrictHostKeyChecking=no"] } }\n', /hosts/],
    ['an option smuggled in the jump host', 'deploy:\n  ssh: { jump: "-oProxyCommand=sh" }\n  roles: { web: { hosts: [app1] } }\n', /jump/],
  ])('refused: downgrade attempt through pallet.yml: %s', (_what, yaml, field) => {
    const file = path.join(tmp, `cfg-${Math.random().toString(36).slice(2)}.yml`);
    writeFileSync(file, `app: hosttrust\nimage: 127.0.0.1:5000/hardening/hosttrust\n${yaml}`);
    let err: unknown;
    try { loadConfig(file); } catch (e) { err = e; }
    expect(err).toBeInstanceOf(UserError);
    expect((err as Error).message).toMatch(field);
  });

  test('allowed: insecure-skip-host-key-check connects without known hosts and logs a warning', async () => {
    // Preflight also checks deploy.env_file on every host: give this app its own.
    const config = { ...cfg(), deploy: { ...cfg().deploy!, env_file: `/etc/pallet/${APP}.env` } };
    for (const a of fx.addresses) await fx.ssh(a, `mkdir -p /etc/pallet && : > /etc/pallet/${APP}.env`);
    let removed: Promise<void> | undefined;
    const removeFromRegistry = async () => {
      const head = await fetch(manifestUrl(TAG), { method: 'HEAD', headers: { authorization: registryAuth, accept: 'application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json' } });
      const digest = head.headers.get('docker-content-digest') ?? '';
      const del = await fetch(manifestUrl(digest), { method: 'DELETE', headers: { authorization: registryAuth } });
      expect([digest.startsWith('sha256:'), del.status]).toEqual([true, 202]);
    };
    const r = await fx.deploy('deploy', { tag: TAG, config, inputs: { 'ssh-known-hosts': '', 'insecure-skip-host-key-check': 'true' }, hooks: { beforePull: () => (removed ??= removeFromRegistry()) } });
    expect(r.lines.some((l) => /warning: insecure-skip-host-key-check is on: host keys are NOT verified/.test(l))).toBe(true);
    // Preflight passed on every host (keys not checked); it stops at the pull of a digest the registry no longer has.
    expect(r.report?.phase).toBe('pull');
    await expectUnchanged(r.leftovers, true);
  });
});
