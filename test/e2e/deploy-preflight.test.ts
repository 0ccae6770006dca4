// Host hygiene on the real lab hosts: a deploy whose deploy.env_file is missing stops at
// preflight naming the host and the path (nothing changes, lock released), and a deploy with
// registry credentials leaves none behind: no auth in ~/.docker/config.json, no temp DOCKER_CONFIG.
import { randomBytes } from 'node:crypto';
import { describeLab } from '../helpers/lab.js';
import { DeployFixture } from './deploy-fixture.js';

describeLab('deploy preflight and host hygiene (lab)', () => {
  const fx = new DeployFixture(`preflight-${randomBytes(3).toString('hex')}`);
  const registry = fx.lab.registry.address;
  // What a host holds of registry credentials and of this product's temp config directories.
  const creds = (a: string) => fx.ssh(a, `cat ~/.docker/config.json 2>/dev/null; echo; echo DIRS:; ls -d /tmp/pallet-docker-* 2>/dev/null; true`);

  beforeAll(async () => {
    await fx.setup(['v1']);
  }, 600_000);

  afterAll(async () => {
    await fx.teardown();
  }, 300_000);

  test('a missing deploy.env_file stops preflight naming every host and the path; nothing changes, lock released', async () => {
    const missing = `/etc/pallet/missing-${fx.run}.env`;
    const config = fx.config();
    config.deploy!.env_file = missing;
    const r = await fx.deploy('deploy', { tag: fx.tags.v1, config });
    expect(r.report).toBeUndefined();
    const msg = r.error?.message ?? '';
    expect(msg).toContain('preflight failed, nothing was changed');
    for (const a of fx.addresses) expect(msg).toContain(`${a}: deploy.env_file ${missing} does not exist`);
    expect((r.error as { hint?: string }).hint).toContain('docs/hosts.md §3');
    for (const v of await fx.views()) expect(v).toEqual({ tag: '', revert: '', lock: false, audit: [], containers: [] });
    expect(r.leftovers).toEqual({ ledger: [], files: [] });
  }, 300_000);

  test('registry credentials are used for the pull and not left on any host', async () => {
    // Start from hosts without a stored login for the lab registry, so the pull can only succeed
    // through the deploy's own login, and anything found afterwards was left by this deploy.
    for (const a of fx.addresses) await fx.ssh(a, `docker logout ${registry} >/dev/null 2>&1; true`);
    for (const a of fx.addresses) expect(await creds(a)).not.toContain(`"${registry}"`);
    // Its own published port: other suites' web containers hold 8000 on the shared hosts.
    const config = fx.config();
    config.deploy!.roles.web.host_port = 21000 + Math.floor(Math.random() * 2000);
    // Temp login dirs other runs may have left (a host frozen mid-pull cannot be cleaned): only
    // what this deploy adds counts.
    const dirs = async (a: string) => (await creds(a)).split('DIRS:')[1].trim();
    const dirsBefore = await Promise.all(fx.addresses.map(dirs));
    const r = await fx.deploy('deploy', { tag: fx.tags.v1, config });
    expect(r.error).toBeUndefined();
    expect(r.report?.ok).toBe(true);
    expect(r.lines.some((l) => l.includes(fx.lab.registry.password))).toBe(false);
    for (const [i, a] of fx.addresses.entries()) {
      const shown = await creds(a);
      expect({ a, shown, hasAuth: shown.includes(`"${registry}"`) || shown.includes('"auth"') }).toEqual({ a, shown, hasAuth: false });
      expect({ a, dirs: await dirs(a) }).toEqual({ a, dirs: dirsBefore[i] });
    }
    for (const v of await fx.views()) expect(v.tag).toBe(fx.tags.v1);
    expect(r.leftovers).toEqual({ ledger: [], files: [] });
  }, 600_000);
});
