// BuildKit builds on the lab's Docker Engine 20.10: the example app's `docker init`-style
// Dockerfile (RUN --mount cache/bind, COPY --chmod) through `ci` (build, cleanroom test against
// PostgreSQL, push); its multi-stage variant rebuilt on an empty engine (repo images and the
// whole BuildKit build cache removed) after a code-only change, with every dependency step of
// every stage from the registry cache images; Dockerfile errors naming their line with nothing
// tagged or pushed; the classic-builder fallback refusing a BuildKit Dockerfile before building.
import { jest } from '@jest/globals';
import Docker from 'dockerode';
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describeLab, readLab, type LabDescriptor } from '../helpers/lab.js';
import { copyExampleApp, fixtureContext, removeDir, removeRepoImages, runId } from '../../bench/lib/build-fixture.js';
import { buildCacheRecords, pruneRecordsSince } from '../../bench/lib/build-cache.js';
import { runBuildStage } from '../../src/builder/stage.js';
import { loadConfig } from '../../src/config/load.js';
import { runCiCommand } from '../../src/commands/ci.js';
import { CliReporter, setReporter } from '../../src/util/reporter.js';
import { UserError } from '../../src/errors.js';

jest.setTimeout(900_000);


const docker = new Docker();
const rid = runId();
let lab: LabDescriptor;
let appDir: string;
let cacheDir: string;
const repos: string[] = [];
const log: string[] = [];
const repo = (name: string) => {
  const r = `${lab.registry.address}/bk-e2e/${name}-${rid}`;
  repos.push(r);
  return r;
};
const auth = () => ({ username: lab.registry.username, password: lab.registry.password, serveraddress: lab.registry.address });
/** Whether the registry has ref (asked through the engine, with the lab's credentials). */
const inRegistry = (ref: string) => (docker.getImage(ref).distribution({ authconfig: auth() } as never) as unknown as Promise<unknown>).then(() => true, () => false);

describeLab('BuildKit builds (lab)', () => {
  beforeAll(async () => {
    lab = readLab();
    appDir = await copyExampleApp('pallet-bk-');
    cacheDir = await mkdtemp(path.join(os.tmpdir(), 'pallet-bk-cache-'));
    setReporter(new CliReporter((l) => log.push(l), (l) => log.push(l)));
  });
  afterAll(async () => {
    if (!lab) return;
    for (const r of repos) await removeRepoImages(docker, r);
    await removeDir(appDir);
    await removeDir(cacheDir);
  });

  test('the docker init-style Dockerfile goes through ci: BuildKit build, cleanroom test, push', async () => {
    const image = repo('init');
    log.length = 0;
    const res = await runCiCommand(fixtureContext({ dir: appDir, image, lab, command: 'ci', tag: 'build-1', env: { PALLET_CACHE_DIR: cacheDir } }));
    expect(res.exitCode).toBe(0);
    expect(res.outputs.digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(log).toContain('builder: BuildKit (Docker Engine 20.10.24+dfsg1 (API 1.41, linux) has BuildKit)');
    expect(log.some((l) => /#\d+ \[(?:\S+ )?\d+\/\d+\] RUN --mount=type=cache,target=\/root\/.cache\/pip\s+--mount=type=bind,source=wheelhouse/.test(l))).toBe(true);
    expect(log.some((l) => /#\d+ \[(?:\S+ )?\d+\/\d+\] COPY --chmod=0755 docker\/entrypoint.sh/.test(l))).toBe(true);
    expect(log.some((l) => /^ *#\d+ DONE \d+\.\ds$/.test(l))).toBe(true);
    expect(await inRegistry(`${image}:build-1`)).toBe(true);
    expect(await inRegistry(`${image}:cache-main`)).toBe(true);
    const cfg = (await docker.getImage(`${image}:build-1`).inspect()).Config;
    expect(cfg.Entrypoint).toEqual(['tini', '--', '/usr/local/bin/entrypoint.sh']);
    expect(cfg.Labels).toMatchObject({ 'pallet.app': 'example', 'pallet.build': 'build-1' });
  });

  test('multi-stage: code-only change rebuilt on an empty engine runs no pip step in any stage', async () => {
    const image = repo('multi');
    const ctx = (tag: string) => fixtureContext({ dir: appDir, image, lab, tag, env: { PALLET_CACHE_DIR: cacheDir } });
    const build = (tag: string) => runBuildStage({ ...ctx(tag), config: loadConfig(path.join(appDir, 'pallet.multistage.yml'), { image }) });
    // Truly cold: an ENV naming this run right after each FROM changes every later step's cache
    // key, so no record an earlier build left in the engine can match. The records this test
    // makes are then the only ones pruned (other work shares the engine's build cache).
    const dockerfile = path.join(appDir, 'Dockerfile.multistage');
    writeFileSync(dockerfile, readFileSync(dockerfile, 'utf8').replace(/^(FROM .*)$/gm, `$1\nENV PALLET_E2E_RUN=${rid}`));
    const before = new Set((await buildCacheRecords(docker)).map((r) => r.ID));
    const cold = await build('build-1');
    expect(cold.wheelhouse).toBeUndefined();
    expect(cold.image.stageCacheTags).toEqual(['cache-main--wheels']);
    expect(cold.stageCachePushes.map((p) => p.ref)).toEqual([`${image}:cache-main--wheels`]);
    expect(cold.image.steps.filter((s) => /pip wheel/.test(s.instruction)).map((s) => s.stage)).toEqual(['wheels']);
    // Line 25 of the example's Dockerfile, 27 with the two ENV lines added above.
    expect(cold.image.steps.find((s) => /pip install/.test(s.instruction))).toMatchObject({ stage: 'app', line: 27, cached: false });
    expect(cold.image.steps.filter((s) => /\bpip\b/.test(s.instruction) && s.cached)).toEqual([]);

    appendFileSync(path.join(appDir, 'notes', 'views.py'), `\n# code-only change ${rid}\n`);
    expect(await removeRepoImages(docker, image)).toBeGreaterThan(0);
    const pruned = await pruneRecordsSince(docker, before);
    expect(pruned).toMatchObject({ left: 0 });
    expect(pruned.pruned).toBeGreaterThan(0);
    log.length = 0;
    const warm = await build('build-2');
    expect(warm.image.cacheImports).toEqual([`${image}:cache-main--wheels`, `${image}:cache-main`]);
    const pipSteps = warm.image.steps.filter((s) => /\bpip\b/.test(s.instruction));
    expect(pipSteps.map((s) => s.stage).sort()).toEqual(['app', 'wheels']);
    expect(pipSteps.filter((s) => !s.cached)).toEqual([]);
    // The code and what is made from it run again: the copy, then collectstatic (the static files
    // are collected at build time, from the code); every dependency step is the cache's.
    const ran = warm.image.steps.filter((s) => !s.cached && !/^FROM/.test(s.instruction)).map((s) => s.instruction);
    expect(ran).toHaveLength(2);
    expect(ran[0]).toBe('COPY . /app');
    expect(ran[1]).toMatch(/^RUN SECRET_KEY=collectstatic-only python3 manage\.py collectstatic --noinput/);
    expect(warm.image.ranSteps).toBe(2);
    expect(warm.image.cachedSteps).toBeGreaterThanOrEqual(5);
    expect(log.some((l) => /\[wheels \d+\/\d+\] RUN --mount=type=cache.*pip wheel.*: CACHED$/.test(l))).toBe(true);
  });

  describe('Dockerfile errors fail naming the line, with the step\'s output; nothing tagged or pushed', () => {
    const dockerfile = () => path.join(appDir, 'Dockerfile');
    let original: string;
    beforeAll(() => { original = readFileSync(dockerfile(), 'utf8'); });
    afterEach(() => writeFileSync(dockerfile(), original));

    const breakWith = (line: string) => {
      writeFileSync(dockerfile(), original.replace('WORKDIR /app', `WORKDIR /app\n${line}`));
      return readFileSync(dockerfile(), 'utf8').split('\n').indexOf(line) + 1;
    };
    const expectNothingLeft = async (image: string, tag: string) => {
      await expect(docker.getImage(`${image}:${tag}`).inspect()).rejects.toThrow();
      expect(await inRegistry(`${image}:${tag}`)).toBe(false);
      expect(await inRegistry(`${image}:cache-main`)).toBe(false);
    };

    test.each([
      ['unknown instruction', 'FOOBAR nothing', (n: number) => new RegExp(`docker build failed \\(Dockerfile:${n}\\): .*unknown instruction: FOOBAR`), undefined],
      ['failing RUN', `RUN echo "boom-${rid}" >&2 && exit 3`, (n: number) => new RegExp(`docker build failed at \\[(?:\\S+ )?\\d+/\\d+\\] RUN echo "boom-${rid}" >&2 && exit 3 \\(Dockerfile:${n}\\): .*exit code: 3`), `boom-${rid}`],
      ['missing COPY source', 'COPY no-such-file.txt /app/', (n: number) => new RegExp(`docker build failed at \\[(?:\\S+ )?\\d+/\\d+\\] COPY no-such-file.txt /app/ \\(Dockerfile:${n}\\): .*not found`), undefined],
    ])('%s', async (name, line, message, output) => {
      const image = repo(`err-${name.split(' ')[0]}`);
      const n = breakWith(line);
      log.length = 0;
      const err = await runBuildStage(fixtureContext({ dir: appDir, image, lab, tag: 'build-1', env: { PALLET_CACHE_DIR: cacheDir } })).then(() => undefined, (e: unknown) => e);
      expect(err).toBeInstanceOf(UserError);
      expect((err as Error).message).toMatch(message(n));
      const error = log.findIndex((l) => l.startsWith('error: '));
      expect(error).toBeGreaterThanOrEqual(0);
      if (output) expect(log.slice(error).join('\n')).toContain(output);
      await expectNothingLeft(image, 'build-1');
    });
  });

  test('classic-builder fallback (DOCKER_BUILDKIT=0) refuses the BuildKit Dockerfile before building, naming file and line', async () => {
    const image = repo('classic');
    log.length = 0;
    const err = await runBuildStage(fixtureContext({ dir: appDir, image, lab, tag: 'build-1', env: { PALLET_CACHE_DIR: cacheDir, DOCKER_BUILDKIT: '0' } })).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(UserError);
    const file = path.join(appDir, 'Dockerfile');
    const mountLine = readFileSync(file, 'utf8').split('\n').findIndex((l) => l.startsWith('RUN --mount=type=cache')) + 1;
    expect((err as Error).message).toContain(`${file} needs BuildKit, but the image would be built with the classic builder (DOCKER_BUILDKIT=0 asks for the classic builder): ${file}:${mountLine}: RUN uses RUN --mount`);
    expect((err as Error).message).toMatch(/Dockerfile:\d+: COPY uses COPY --chmod/);
    expect(log.some((l) => /docker build/.test(l))).toBe(false);
    await expect(docker.getImage(`${image}:build-1`).inspect()).rejects.toThrow();
  });
});
