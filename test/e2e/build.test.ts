// The build and push stage on the real engine and the lab registry, with the example app:
// a code-only change reuses the dependency layers and builds no wheel; a fresh engine (all
// of the repo's local images gone) still hits the layer cache through the registry cache
// image; a wrong password fails on the first attempt; a good push is pullable by digest on a
// lab host.
import { jest } from '@jest/globals';
import Docker from 'dockerode';
import { spawnSync } from 'node:child_process';
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describeLab, readLab, type LabDescriptor } from '../helpers/lab.js';
import { copyExampleApp, fixtureContext, removeDir, removeRepoImages, runId } from '../../bench/lib/build-fixture.js';
import { runBuildStage, type BuildReport } from '../../src/builder/stage.js';
import { runPushCommand } from '../../src/commands/push.js';
import { runBuildCommand } from '../../src/commands/build.js';
import { CliReporter, setReporter } from '../../src/util/reporter.js';
import { UserError } from '../../src/errors.js';

jest.setTimeout(600_000);


const docker = new Docker();
const rid = runId();
let lab: LabDescriptor;
let image: string;
let appDir: string;
let cacheDir: string;
const log: string[] = [];

const stepOf = (r: BuildReport, re: RegExp) => {
  const s = r.image.steps.find((x) => re.test(x.instruction));
  if (!s) throw new Error(`no step matching ${re} in ${r.image.steps.map((x) => x.header).join(' | ')}`);
  return s;
};
const ctxFor = (extra: Parameters<typeof fixtureContext>[0] extends infer O ? Partial<O> : never = {}) =>
  fixtureContext({ dir: appDir, image, lab, env: { PALLET_CACHE_DIR: cacheDir }, ...extra });

function sshHost(script: string, input?: string) {
  const h = lab.hosts[0];
  return spawnSync('ssh', [
    '-i', lab.ssh.privateKeyPath, '-o', `UserKnownHostsFile=${lab.ssh.knownHostsPath}`, '-o', 'StrictHostKeyChecking=yes',
    '-o', 'BatchMode=yes', '-o', 'ConnectTimeout=10', '-p', String(h.sshPort), `${lab.ssh.user}@${h.sshHost}`, script,
  ], { input, encoding: 'utf8', timeout: 180_000 });
}

describeLab('build and push (lab)', () => {
  beforeAll(async () => {
    lab = readLab();
    image = `${lab.registry.address}/e2e/build-${rid}`;
    appDir = await copyExampleApp();
    cacheDir = await mkdtemp(path.join(os.tmpdir(), 'pallet-cache-'));
    setReporter(new CliReporter((l) => log.push(l), (l) => log.push(l)));
  });
  afterAll(async () => {
    if (!lab) return;
    await removeRepoImages(docker, image);
    await removeDir(appDir);
    await removeDir(cacheDir);
  });

  let cold: BuildReport;
  test('cold build, then a code-only change: dependency layers from cache, no wheel built', async () => {
    cold = await runBuildStage(ctxFor());
    expect(cold.wheelhouse?.cache).toBe('miss');
    expect(cold.wheelhouse?.built.map((w) => w.split('-')[0]).sort()).toEqual(['fastslug', 'notesutil']);
    expect(cold.image.ranSteps).toBeGreaterThan(0);
    expect(stepOf(cold, /^COPY \. \/app/).cached).toBe(false);
    expect(cold.cachePush?.digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    const labels = (await docker.getImage(cold.image.ref).inspect()).Config.Labels;
    expect(labels).toMatchObject({ 'pallet.app': 'example', 'pallet.build': 'build-1', 'org.opencontainers.image.version': 'build-1' });

    appendFileSync(path.join(appDir, 'notes', 'views.py'), `\n# code-only change ${rid}\n`);
    log.length = 0;
    const warm = await runBuildStage(ctxFor({ tag: 'build-2' }));
    expect(warm.wheelhouse?.cache).toBe('hit');
    expect(warm.wheelhouse?.built).toEqual([]);
    expect(log.some((l) => /wheelhouse: cache hit \(key pallet-wheelhouse-v1-example-.*\), 0 wheels built/.test(l))).toBe(true);
    expect(stepOf(warm, /pip install/).cached).toBe(true);
    expect(stepOf(warm, /^COPY --chmod=0755 docker\/entrypoint.sh/).cached).toBe(true);
    expect(stepOf(warm, /^COPY \. \/app/).cached).toBe(false); // the code did change
    expect(warm.image.imageId).not.toBe(cold.image.imageId);
  });

  test('fresh engine (all local images of the repo and the build cache removed): layer cache comes from the registry', async () => {
    const removed = await removeRepoImages(docker, image);
    expect(removed).toBeGreaterThan(0);
    await docker.pruneBuilder({ all: true } as never);
    const left = (await docker.listImages()).filter((i) => (i.RepoTags ?? []).some((t) => t.startsWith(image + ':')));
    expect(left).toEqual([]);
    // A fresh runner has no wheelhouse dir either: it comes back from the wheelhouse cache.
    await removeDir(path.join(appDir, 'wheelhouse'));
    log.length = 0;
    const r = await runBuildStage(ctxFor({ tag: 'build-3' }));
    expect(r.image.cacheFrom).toBe(`${image}:cache-main`);
    expect(log).toContain(`layer cache: using ${image}:cache-main`);
    expect(r.image.builder).toBe('buildkit');
    expect(r.wheelhouse?.cache).toBe('hit');
    expect(r.wheelhouse?.built).toEqual([]);
    expect(r.image.cachedSteps).toBeGreaterThan(0);
    expect(stepOf(r, /pip install/).cached).toBe(true);
    expect(r.image.steps.filter((s) => !s.cached && /pip/.test(s.instruction))).toEqual([]);
  });

  test('a failing Dockerfile step is reported with the step, its line and its output; nothing is tagged', async () => {
    const dockerfile = path.join(appDir, 'Dockerfile');
    const original = readFileSync(dockerfile, 'utf8');
    writeFileSync(dockerfile, original.replace('WORKDIR /app', `WORKDIR /app\nRUN echo "boom-${rid}" && exit 3`));
    const line = readFileSync(dockerfile, 'utf8').split('\n').findIndex((l) => l.includes(`boom-${rid}`)) + 1;
    log.length = 0;
    try {
      await expect(runBuildStage(ctxFor({ tag: 'build-broken' }))).rejects.toThrow(new RegExp(`docker build failed at \\[(?:\\S+ )?\\d+/\\d+\\] RUN echo "boom-${rid}" && exit 3 \\(Dockerfile:${line}\\)`));
      await expect(docker.getImage(`${image}:build-broken`).inspect()).rejects.toThrow();
      const errorLine = log.findIndex((l) => l.startsWith('error: '));
      expect(errorLine).toBeGreaterThanOrEqual(0);
      expect(log.slice(errorLine).join('\n')).toContain(`boom-${rid}`);
    } finally {
      writeFileSync(dockerfile, original);
    }
  });

  test('push with a wrong password fails on the first attempt and says why', async () => {
    log.length = 0;
    const started = Date.now();
    const ctx = ctxFor({ tag: 'build-3', password: `wrong-${rid}`, command: 'push' });
    const err = await runPushCommand(ctx).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(UserError);
    expect((err as Error).message).toContain(`registry rejected the credentials for ${lab.registry.username} at ${lab.registry.address}: check registry-username/registry-password`);
    expect(log.filter((l) => / attempt \d+ of \d+/.test(l))).toEqual([`push ${image}:build-3: attempt 1 of 4`]);
    expect(log.some((l) => /retrying/.test(l))).toBe(false);
    expect(log.join('\n')).not.toContain(`wrong-${rid}`);
    expect(Date.now() - started).toBeLessThan(30_000);
  });

  test('push, then pull by digest on a lab host', async () => {
    log.length = 0;
    const res = await runPushCommand(ctxFor({ tag: 'build-3', command: 'push' }));
    expect(res.exitCode).toBe(0);
    expect(res.outputs.image).toBe(`${image}:build-3`);
    expect(res.outputs.tag).toBe('build-3');
    expect(res.outputs.digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(res.outputs['image-id']).toBe((await docker.getImage(`${image}:build-3`).inspect()).Id);
    expect(log.join('\n')).not.toContain(lab.registry.password);

    const ref = `${image}@${res.outputs.digest}`;
    // Login and pull in one session with a private DOCKER_CONFIG, so no credentials stay on the host
    // (and a deploy test's check that hosts hold none is never disturbed).
    const pull = sshHost(
      `d=$(mktemp -d) && trap 'rm -rf "$d"' EXIT && export DOCKER_CONFIG="$d" && ` +
      `docker login -u ${lab.registry.username} --password-stdin ${lab.registry.address} >/dev/null && ` +
      `docker pull ${ref} && docker image inspect --format '{{index .Config.Labels "pallet.build"}}' ${ref}`,
      lab.registry.password + '\n',
    );
    try {
      expect(pull.stderr).not.toMatch(/error/i);
      expect(pull.status).toBe(0);
      expect(pull.stdout.trim().split('\n').at(-1)).toBe('build-3');
    } finally {
      sshHost(`docker rmi ${ref} >/dev/null 2>&1; true`);
    }
  });

  test('build command outputs', async () => {
    const res = await runBuildCommand(ctxFor({ tag: 'build-4' }));
    expect(res).toMatchObject({ exitCode: 0, outputs: { image: `${image}:build-4`, tag: 'build-4', 'wheelhouse-cache': 'hit' } });
    expect(res.outputs['image-id']).toMatch(/^sha256:/);
  });
});
