// Build once, promote the same bytes, through the CLI as a user runs it on the lab: one `pallet
// ci` (build, cleanroom test against a real PostgreSQL, push, test record on the real registry),
// a deploy to staging (one host), a promotion to production (two hosts) after the tag was
// re-pushed by hand: every host runs the tested digest and the outer engine gained no image in
// between. A digest without a test record is refused before any host is touched; the override is
// audited. A rollback in staging leaves production as it was. (Timeout: setup-timeout.ts.)
import Docker from 'dockerode';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { describeLab } from '../helpers/lab.js';
import { labRegistryAuth, pushToLab } from '../helpers/lab-registry.js';
import { EXAMPLE_APP_DIR } from '../helpers/example-image.js';
import { runCli } from '../helpers/entry.js';
import { DeployFixture, type HostView } from './deploy-fixture.js';


const APP = 'e2epromote';

/** Runs the CLI as a user would, in the project directory (bounded: 8 minutes). */
async function pallet(args: string[], cwd: string): Promise<{ code: number | null; out: string; err: string }> {
  const r = await runCli(args, { cwd, env: { USER: 'e2e-promoter', RUNNER_TEMP: cwd }, timeoutMs: 480_000 });
  return { code: r.code, out: r.stdout, err: r.stderr };
}

const output = (out: string, name: string) => new RegExp(`^${name}=(.*)$`, 'm').exec(out)?.[1] ?? '';

describeLab('build once, promote the same digest', () => {
  const fx = new DeployFixture(APP);
  const docker = new Docker();
  const dir = mkdtempSync('/tmp/ppr-');
  const repo = `${fx.lab.registry.address}/pallet-e2e/promote`;
  const name = repo.slice(fx.lab.registry.address.length + 1);
  const [h1, h2, h3] = fx.addresses;
  const tested = 'e2e-tested';
  const untested = 'e2e-untested';
  let digest = '';
  let ciLog = '';
  const localImages: string[] = [];

  const common = () => [
    '--ssh-private-key-file', fx.lab.ssh.privateKeyPath, '--ssh-known-hosts-file', fx.lab.ssh.knownHostsPath,
    '--registry-username', fx.lab.registry.username, '--registry-password-file', path.join(dir, 'registry-password'),
  ];
  /** What a host runs for the app: TAG and the digest of the image its live container was started from. */
  const runs = async (address: string) => {
    const out = await fx.ssh(address, `c=$(docker ps -q --filter label=pallet.app=${APP} | head -1); [ -n "$c" ] || { echo none; exit 0; }
img=$(docker inspect --format '{{.Image}}' $c); docker image inspect --format '{{json .RepoDigests}}' $img`);
    const list = out.trim() === 'none' ? [] : (JSON.parse(out) as string[]);
    return list.filter((d) => d.startsWith(`${repo}@`)).map((d) => d.slice(repo.length + 1));
  };
  const summary = (v: HostView) => ({ tag: v.tag, containers: v.containers.filter((c) => c.running).map((c) => c.id).sort() });
  /** Every image the outer engine holds (ids, dangling ones included): a build adds one, a deploy none. */
  const engineImages = async () => (await docker.listImages({ all: true })).map((i) => i.Id).sort();

  beforeAll(async () => {
    await fx.setup([]);
    cpSync(EXAMPLE_APP_DIR, dir, { recursive: true, filter: (src) => !/\/(wheelhouse|test-results)(\/|$)/.test(src) });
    writeFileSync(path.join(dir, 'registry-password'), fx.lab.registry.password, { mode: 0o600 });
    const example = YAML.parse(readFileSync(path.join(EXAMPLE_APP_DIR, 'pallet.yml'), 'utf8'));
    const web = { command: 'serve', port: 8000, health: { path: '/health/', timeout: 60 }, stop_timeout: 5 };
    writeFileSync(path.join(dir, 'pallet.yml'), YAML.stringify({
      app: APP, image: repo, build: example.build, test: example.test,
      deploy: { ssh: { user: 'root' }, env_file: '/etc/pallet/example.env', tasks: [['deploy']], proxy: false, keep: 3, roles: { web: { ...web, hosts: [h1] } } },
      environments: {
        staging: { deploy: { roles: { web: { hosts: [h1] } } } },
        production: { deploy: { url: 'https://production.example.test/', roles: { web: { hosts: [h2, h3] } } } },
      },
    }));
  });

  afterAll(async () => {
    await fx.teardown();
    for (const ref of localImages) await docker.getImage(ref).remove({ force: true }).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  });

  test('ci builds, tests and pushes once, and records on the registry that this digest passed', async () => {
    const imagesBefore = await engineImages();
    const r = await pallet(['ci', '--tag', tested, ...common()], dir);
    ciLog = r.out + r.err;
    expect({ code: r.code, tail: ciLog.split('\n').slice(-15).join('\n') }).toMatchObject({ code: 0 });
    localImages.push(`${repo}:${tested}`);
    digest = output(r.out, 'digest');
    expect(digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(ciLog).toContain(`test record: ${repo}@${digest} passed its tests`);
    // The record is an OCI artifact on the real registry whose subject is the tested manifest.
    const res = await fetch(`http://${fx.lab.registry.address}/v2/${name}/manifests/${digest.replace(':', '-')}.pallet-tested`, { headers: { authorization: labRegistryAuth(fx.lab), accept: 'application/vnd.oci.image.manifest.v1+json' } });
    expect(res.status).toBe(200);
    const manifest = (await res.json()) as { artifactType: string; subject: { digest: string } };
    expect(manifest).toMatchObject({ artifactType: 'application/vnd.pallet.test-record.v1+json', subject: { digest } });
    // The probe used below sees a build: the ci run added images to this engine.
    expect((await engineImages()).filter((id) => !imagesBefore.includes(id)).length).toBeGreaterThan(0);
  });

  test('deploy to staging: only the staging host runs the tested digest', async () => {
    const r = await pallet(['deploy', '--environment', 'staging', '--tag', tested, ...common()], dir);
    expect({ code: r.code, tail: (r.out + r.err).split('\n').slice(-15).join('\n') }).toMatchObject({ code: 0 });
    expect(r.out).toContain(`test gate: ${digest.slice(0, 19)}`);
    expect(output(r.out, 'digest')).toBe(digest);
    expect(await runs(h1)).toEqual([digest]);
    expect([await runs(h2), await runs(h3)]).toEqual([[], []]);
    expect((await fx.view(h1)).audit.at(-1)).toContain(`\t(none)->${tested}@${digest}\tsuccess`);
  });

  test('promote to production after the tag was re-pushed by hand: both hosts run the tested digest, nothing was built', async () => {
    // Someone with push rights points the tag at other bytes: an image derived from the tested one.
    writeFileSync(path.join(dir, 'Dockerfile.untested'), `FROM ${repo}:${tested}\nLABEL e2e.untested=yes\n`);
    const stream = await docker.buildImage({ context: dir, src: ['Dockerfile.untested'] }, { t: `${repo}:${untested}`, dockerfile: 'Dockerfile.untested' });
    await new Promise((res, rej) => docker.modem.followProgress(stream, (e: Error | null) => (e ? rej(e) : res(undefined))));
    localImages.push(`${repo}:${untested}`);
    await pushToLab(docker, fx.lab, `${repo}:${untested}`, repo, untested);
    await pushToLab(docker, fx.lab, `${repo}:${untested}`, repo, tested);
    const imagesBefore = await engineImages();
    const r = await pallet(['promote', '--from', 'staging', '--to', 'production', ...common()], dir);
    expect({ code: r.code, tail: (r.out + r.err).split('\n').slice(-15).join('\n') }).toMatchObject({ code: 0 });
    expect(r.out).toContain(`promote: staging runs ${repo}:${tested}@${digest} on ${h1}; deploying it to production`);
    for (const h of [h1, h2, h3]) expect([h, await runs(h)]).toEqual([h, [digest]]);
    expect(await engineImages()).toEqual(imagesBefore);
  });

  test('a digest without a test record is refused before any host is touched; the override deploys it and the audit log says so', async () => {
    const before = await Promise.all([h2, h3].map((h) => fx.view(h)));
    const refused = await pallet(['deploy', '--environment', 'production', '--tag', untested, ...common()], dir);
    expect(refused.code).toBe(1);
    expect(refused.err).toMatch(new RegExp(`deploy refused, nothing was changed: ${repo}:${untested} \\(sha256:[0-9a-f]{64}\\) has no passing test record`));
    expect(refused.err).toContain("run 'pallet ci'");
    expect(refused.err).toContain('--allow-untested');
    const after = await Promise.all([h2, h3].map((h) => fx.view(h)));
    expect(after.map(summary)).toEqual(before.map(summary));
    expect(after.map((v) => [v.lock, v.audit.length])).toEqual(before.map((v) => [v.lock, v.audit.length]));

    const allowed = await pallet(['deploy', '--environment', 'staging', '--tag', untested, '--allow-untested', ...common()], dir);
    expect({ code: allowed.code, tail: (allowed.out + allowed.err).split('\n').slice(-15).join('\n') }).toMatchObject({ code: 0 });
    const other = await runs(h1);
    expect(other).toHaveLength(1);
    expect(other[0]).not.toBe(digest);
    expect((await fx.view(h1)).audit.at(-1)).toMatch(new RegExp(`\\t${tested}->${untested}@sha256:[0-9a-f]{64}\\tsuccess untested: allow-untested by e2e-promoter\\t`));
  });

  test('rollback in staging goes back to the tested digest and leaves production untouched', async () => {
    const before = await Promise.all([h2, h3].map((h) => fx.view(h)));
    const r = await pallet(['rollback', '--environment', 'staging', ...common()], dir);
    expect({ code: r.code, tail: (r.out + r.err).split('\n').slice(-15).join('\n') }).toMatchObject({ code: 0 });
    expect(await runs(h1)).toEqual([digest]);
    expect((await fx.view(h1)).tag).toBe(tested);
    const after = await Promise.all([h2, h3].map((h) => fx.view(h)));
    expect(after.map(summary)).toEqual(before.map(summary));
    for (const h of [h2, h3]) expect([h, await runs(h)]).toEqual([h, [digest]]);
  });

  test('a host command without --environment names the environments to choose from', async () => {
    const r = await pallet(['status', ...common()], dir);
    expect(r.code).toBe(1);
    expect(r.err).toContain('environments: declares staging, production: name the one to act on with --environment');
  });
});
