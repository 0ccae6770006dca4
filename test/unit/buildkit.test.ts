// BuildKit builds without an engine: progress from recorded streams (test/fixtures/buildkit,
// recorded from Docker Engine 20.10's build endpoint), the Dockerfile model, the builder
// choice and its refusals, the per-stage layer-cache plan, and the session's credential rule.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { BuildkitProgress, mergeBuildSteps, type BuildkitEvent } from '../../src/builder/buildkit-progress.js';
import { buildFailureAnnotation } from '../../src/builder/build-stream.js';
import { parseDockerfile, stagesFor, instructionForStep } from '../../src/builder/dockerfile.js';
import { buildkitOnlyUses, chooseBuilder, classicBuilderRefusal, heredocRefusal, type EngineFacts } from '../../src/builder/builder-choice.js';
import { cacheMissLines, layerCachePlan, type CacheMiss } from '../../src/builder/layer-cache.js';
import { stageCacheTag } from '../../src/builder/cache-tags.js';
import { buildkitQuery } from '../../src/builder/buildkit-build.js';
import { credentialsFor, credentialHost } from '../../src/docker/buildkit-session.js';

const FIX = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../fixtures/buildkit');
const read = (f: string) => readFileSync(path.join(FIX, f), 'utf8');

function replay(dockerfile: string, stream: string) {
  const p = new BuildkitProgress(parseDockerfile(read(dockerfile)));
  const lines: string[] = [];
  for (const l of read(stream).split('\n').filter(Boolean)) lines.push(...p.push(JSON.parse(l) as BuildkitEvent));
  return { lines, result: p.result() };
}

describe('BuildKit progress from a recorded stream', () => {
  test('cold build: one line per start and finish with its time, output under its step, counts', () => {
    const { lines, result } = replay('Dockerfile', 'cold.jsonl');
    expect(lines).toContain('#5 [stage-1 2/5] RUN --mount=type=cache,target=/root/.cache/pip echo install line1 && echo install line2 >&2');
    expect(lines).toContain('#5 install line1');
    expect(lines).toContain('#5 install line2');
    expect(lines).toContain('#6 building wheels');
    expect(lines.filter((l) => /^#\d+ DONE \d+\.\ds$/.test(l))).toHaveLength(9);
    // Two stages ran in parallel: the wheels stage's output is under its own number.
    expect(lines.indexOf('#6 building wheels')).toBeLessThan(lines.indexOf('#5 install line1'));
    expect(result.cachedSteps).toBe(0);
    expect(result.ranSteps).toBe(5);
    expect(result.imageId).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(result.error).toBeUndefined();
    const byLine = Object.fromEntries(result.steps.map((s) => [s.instruction.split(' ').slice(0, 3).join(' '), [s.stage, s.line]]));
    expect(byLine).toMatchObject({
      'RUN echo building': ['wheels', 2], // a continued RUN: BuildKit keeps the continuation's spaces
      'RUN --mount=type=cache,target=/root/.cache/pip echo': ['stage-1', 6],
      'COPY --chmod=0755 run.sh': ['stage-1', 7],
      'COPY --from=wheels /etc/hostname': ['stage-1', 8],
      'RUN echo "code': ['stage-1', 9],
    });
    expect(result.steps.find((s) => s.line === 2)!.ms).toBeGreaterThan(1000);
  });

  test('code-only rebuild: dependency steps CACHED in one line each, only the changed ones run', () => {
    const { lines, result } = replay('Dockerfile', 'code-only.jsonl');
    expect(lines).toContain('#5 [stage-1 2/5] RUN --mount=type=cache,target=/root/.cache/pip echo install line1 && echo install line2 >&2: CACHED');
    expect(lines).toContain('#7 [wheels 2/2] RUN echo building wheels     && sleep 1: CACHED');
    expect(lines).toContain('#9 code echo v2');
    expect(lines.some((l) => /install line1/.test(l) && !/CACHED/.test(l))).toBe(false);
    expect(result.cachedSteps).toBe(2);
    expect(result.ranSteps).toBe(3);
    expect(result.steps.filter((s) => s.cached).map((s) => s.ms)).toEqual([0, 0]);
  });

  test('a failing RUN: the step, its output and its Dockerfile line; the annotation names them', () => {
    const { lines, result } = replay('Dockerfile.fail', 'fail.jsonl');
    expect(lines.at(-1)).toMatch(/^#9 ERROR: executor failed running \[\/bin\/sh -c echo "code .*exit code: 3$/);
    expect(result.error).toMatchObject({ line: 9, tail: ['oops: no such module', 'code echo v2'] });
    expect(result.error!.step!.header).toBe('[stage-1 5/5] RUN echo "code $(cat /run.sh)" && echo "oops: no such module" >&2 && exit 3');
    expect(result.ranSteps).toBe(1);
    expect(result.cachedSteps).toBe(4);
    const a = buildFailureAnnotation(result.error!, 'Dockerfile');
    expect(a.title).toBe('docker build failed at [stage-1 5/5] RUN echo "code $(cat /run.sh)" && echo "oops: no such module" >&2 && exit 3 (Dockerfile:9)');
    expect(a.body.split('\n')).toEqual(['oops: no such module', 'code echo v2', result.error!.message]);
  });

  test('an unknown instruction fails before any step; the line comes from the frontend\'s message', () => {
    const { result } = replay('Dockerfile.unknown', 'unknown-instruction.jsonl');
    expect(result.steps).toEqual([]);
    expect(result.error).toMatchObject({ line: 3, tail: [] });
    expect(result.error!.message).toContain('unknown instruction: FOOBAR');
    expect(buildFailureAnnotation(result.error!, 'Dockerfile').title).toBe('docker build failed (Dockerfile:3)');
  });

  test('steps of several builds in one run count once per stage and instruction, as the first build saw them', () => {
    const first = replay('Dockerfile', 'cold.jsonl').result.steps;
    const second = replay('Dockerfile', 'code-only.jsonl').result.steps;
    const merged = mergeBuildSteps([first, second]);
    expect(merged.steps).toHaveLength(6);
    expect(merged.ranSteps).toBe(5);
    expect(merged.cachedSteps).toBe(0);
    expect(mergeBuildSteps([second, first])).toMatchObject({ ranSteps: 3, cachedSteps: 2 });
  });

  test('output split across messages and progress redraws are joined into lines', () => {
    const p = new BuildkitProgress();
    const v = { digest: 'sha256:a', name: '[1/2] RUN x', started: { seconds: 10 } };
    p.status({ vertexes: [v] });
    const enc = (s: string) => new Uint8Array(Buffer.from(s));
    expect(p.status({ logs: [{ vertex: 'sha256:a', msg: enc('hel') }] })).toEqual([]);
    expect(p.status({ logs: [{ vertex: 'sha256:a', msg: enc('lo\n10%\r50%\r100%\n') }] })).toEqual(['#1 hello', '#1 100%']);
    expect(p.status({ vertexes: [{ ...v, completed: { seconds: 12, nanos: 5e8 } }] })).toEqual(['#1 DONE 2.5s']);
    expect(p.result()).toMatchObject({ ranSteps: 1, cachedSteps: 0 });
  });
});

describe('Dockerfile model', () => {
  const df = parseDockerfile([
    'ARG PY=3.12', // 1
    'FROM python:${PY} AS base', // 2
    'RUN pip install -U pip', // 3
    'FROM base AS wheels', // 4
    'RUN --mount=type=cache,target=/root/.cache/pip \\', // 5
    '    pip wheel -w /wheels -r requirements.txt', // 6
    'FROM busybox AS unused', // 7
    'RUN echo never', // 8
    'FROM python:${PY}', // 9
    'RUN --mount=type=bind,from=wheels,source=/wheels,target=/wheels pip install /wheels/*', // 10
    'COPY . /app', // 11
  ].join('\n'));
  test('stages, lines and the instruction text BuildKit prints', () => {
    expect(df.stages.map((s) => [s.index, s.name, s.base, s.instructions[0].line])).toEqual([
      [0, 'base', 'python', 2], [1, 'wheels', 'base', 4], [2, 'unused', 'busybox', 7], [3, undefined, 'python', 9],
    ]);
    expect(df.stages[1].instructions[1]).toMatchObject({ keyword: 'RUN', line: 5, endLine: 6, text: 'RUN --mount=type=cache,target=/root/.cache/pip pip wheel -w /wheels -r requirements.txt' });
    expect(instructionForStep(df, 'wheels', 'RUN --mount=type=cache,target=/root/.cache/pip     pip wheel -w /wheels -r requirements.txt')?.instruction.line).toBe(5);
    expect(instructionForStep(df, 'stage-3', 'COPY . /app')?.instruction.line).toBe(11);
    expect(instructionForStep(df, undefined, 'RUN nothing like it')).toBeUndefined();
  });
  test('a target needs its FROM chain and the stages its mounts and COPY --from name, not the others', () => {
    expect(stagesFor(df).map((s) => s.name ?? s.index)).toEqual(['base', 'wheels', 3]);
    expect(stagesFor(df, 'wheels').map((s) => s.name)).toEqual(['base', 'wheels']);
    expect(() => stagesFor(df, 'nope')).toThrow('build.target "nope" is not a stage of the Dockerfile (stages: base, wheels, unused, 3)');
  });
});

describe('builder choice (fallback decision)', () => {
  const engine = (o: Partial<EngineFacts> = {}): EngineFacts => ({ apiVersion: '1.41', os: 'linux', version: '20.10.24', ...o });
  test.each([
    ['Engine 20.10 on Linux', engine(), {}, 'buildkit'],
    ['Engine 28 on Linux', engine({ apiVersion: '1.50', version: '28.2.2' }), {}, 'buildkit'],
    ['Engine 18.06 (API 1.38)', engine({ apiVersion: '1.38', version: '18.06.3' }), {}, 'classic'],
    ['a Windows engine', engine({ os: 'windows' }), {}, 'classic'],
    ['Podman\'s Docker API', engine({ components: ['Podman Engine'] }), {}, 'classic'],
    ['DOCKER_BUILDKIT=0', engine(), { DOCKER_BUILDKIT: '0' }, 'classic'],
    ['DOCKER_BUILDKIT=false', engine(), { DOCKER_BUILDKIT: 'false' }, 'classic'],
    ['DOCKER_BUILDKIT=1 on an old engine', engine({ apiVersion: '1.38' }), { DOCKER_BUILDKIT: '1' }, 'buildkit'],
  ])('%s -> %s', (_n, facts, env, want) => {
    expect(chooseBuilder(facts, env).builder).toBe(want);
  });

  const initStyle = parseDockerfile([
    '# syntax=docker/dockerfile:1', // 1
    'FROM python:3.12', // 2
    'RUN python -m venv /venv', // 3
    'RUN --mount=type=cache,target=/root/.cache/pip \\', // 4
    '    --mount=type=bind,source=requirements.txt,target=requirements.txt \\', // 5
    '    /venv/bin/pip install -r requirements.txt', // 6
    'COPY --chmod=0755 docker/entrypoint.sh /entrypoint.sh', // 7
    'COPY --link . /app', // 8
    'RUN <<EOF', // 9
    'echo hi', // 10
    'EOF', // 11
  ].join('\n'));
  test('every BuildKit-only use, with its line and instruction', () => {
    expect(buildkitOnlyUses(initStyle).map((u) => `${u.line} ${u.instruction}: ${u.feature}`)).toEqual([
      '1 # syntax: the frontend directive "# syntax=docker/dockerfile:1"',
      '4 RUN: RUN --mount',
      '4 RUN: RUN --mount',
      '7 COPY: COPY --chmod',
      '8 COPY: COPY --link',
      '9 RUN: a heredoc in RUN',
    ]);
    expect(buildkitOnlyUses(parseDockerfile('FROM x\nCOPY --from=0 a b\nRUN echo\n'))).toEqual([]);
  });
  test('the classic builder refuses such a Dockerfile, naming file, line and instruction', () => {
    const r = classicBuilderRefusal('/src/Dockerfile', buildkitOnlyUses(initStyle), chooseBuilder(engine(), { DOCKER_BUILDKIT: '0' }));
    expect(r!.message).toMatch(/^\/src\/Dockerfile needs BuildKit, but the image would be built with the classic builder \(DOCKER_BUILDKIT=0 asks for the classic builder\): /);
    expect(r!.message).toContain('/src/Dockerfile:4: RUN uses RUN --mount; ');
    expect(r!.message).toContain('/src/Dockerfile:7: COPY uses COPY --chmod');
    expect(r!.hint).toBe('unset DOCKER_BUILDKIT (or set it to 1) to build with BuildKit');
    expect(classicBuilderRefusal('/src/Dockerfile', [], chooseBuilder(engine({ os: 'windows' }), {}))).toBeUndefined();
  });
  test('heredocs are refused on an engine whose built-in frontend predates them, unless # syntax= brings one', () => {
    const heredoc = parseDockerfile('FROM x\nRUN <<EOF\necho hi\nEOF\n');
    expect(heredocRefusal('Dockerfile', heredoc, engine())!.message).toBe(
      'Dockerfile:2: RUN uses a heredoc, which the built-in Dockerfile frontend of Docker Engine 20.10.24 does not understand (heredocs need Docker Engine 23.0 or later)');
    expect(heredocRefusal('Dockerfile', heredoc, engine({ apiVersion: '1.43' }))).toBeUndefined();
    expect(heredocRefusal('Dockerfile', initStyle, engine())).toBeUndefined();
  });
});

describe('layer cache plan (one inline-cache image per stage)', () => {
  const df = parseDockerfile('FROM b AS wheels\nRUN pip wheel\nFROM b\nRUN --mount=type=bind,from=wheels,target=/w pip install\nCOPY . /app\n');
  test('stages before the target get cache-<branch>--<stage>; lookups try the branch then the default branch', () => {
    expect(layerCachePlan(df, undefined, 'feature/x', ['main'])).toEqual({
      stages: [{ name: 'wheels', tag: 'cache-feature-x--wheels' }],
      tag: 'cache-feature-x',
      lookups: [{ stage: 'wheels', tags: ['cache-feature-x--wheels', 'cache-main--wheels'] }, { tags: ['cache-feature-x', 'cache-main'] }],
      unnamed: [],
    });
    expect(layerCachePlan(df, 'wheels', 'main', ['main']).stages).toEqual([]);
  });
  test('unnamed stages are listed (no --target for them); FROM-only stages need no cache image', () => {
    const p = layerCachePlan(parseDockerfile('FROM a\nRUN x\nFROM b AS only\nFROM c\nCOPY --from=0 / /\nCOPY --from=only / /\n'), undefined, 'main', ['main']);
    expect(p.unnamed).toEqual([0]);
    expect(p.stages).toEqual([]);
  });
  test('stage cache tags stay within 128 characters', () => {
    expect(stageCacheTag('b'.repeat(200), 'wheels')).toHaveLength(128);
    expect(stageCacheTag('b'.repeat(200), 'wheels').endsWith('--wheels')).toBe(true);
  });
});

describe('BuildKit build query and session credentials', () => {
  test('query: version 2, the session, inline cache arg, cachefrom as a JSON array', () => {
    expect(buildkitQuery({ ref: 'r/a:build-1', dockerfile: 'Dockerfile', target: 'app', args: { A: '1' }, labels: { l: 'v' }, cacheFrom: ['r/a:cache-main'], inlineCache: true, session: 's1' })).toEqual({
      t: 'r/a:build-1', dockerfile: 'Dockerfile', target: 'app', buildargs: { A: '1', BUILDKIT_INLINE_CACHE: '1' }, labels: { l: 'v' },
      cachefrom: '["r/a:cache-main"]', version: '2', session: 's1', rm: true, forcerm: true, pull: false,
    });
    expect(buildkitQuery({ ref: 'x', dockerfile: 'D', args: {}, cacheFrom: [], inlineCache: false, session: 's' })).not.toHaveProperty('cachefrom');
  });
  test('credentials go only to the registry they belong to', () => {
    const auth = { username: 'u', password: 'p', serveraddress: '127.0.0.1:5000' };
    expect(credentialsFor('127.0.0.1:5000', auth)).toEqual({ Username: 'u', Secret: 'p' });
    expect(credentialsFor('registry-1.docker.io', auth)).toEqual({});
    expect(credentialsFor('127.0.0.1:5000', undefined)).toEqual({});
    expect(credentialHost('https://index.docker.io/v1/')).toBe('registry-1.docker.io');
    expect(credentialsFor('registry-1.docker.io', { ...auth, serveraddress: 'https://index.docker.io/v1/' })).toEqual({ Username: 'u', Secret: 'p' });
  });
});

describe('cacheMissLines: cache images the registry did not give', () => {
  test.each<[string, CacheMiss[], string[]]>([
    ['a first build: both candidates 404, one info line saying it is expected', [
      { ref: 'r.example.com/shop:cache-feature', error: '(HTTP code 404) unexpected - manifest unknown', statusCode: 404 },
      { ref: 'r.example.com/shop:cache-main', error: 'manifest unknown', statusCode: undefined },
    ], ['layer cache: not in the registry yet: r.example.com/shop:cache-feature, r.example.com/shop:cache-main (expected on a first build; this build pushes its cache for the next one)']],
    ['another failure keeps its error', [
      { ref: 'r.example.com/shop:cache-main', error: 'unauthorized: authentication required', statusCode: 401 },
    ], ['layer cache: r.example.com/shop:cache-main not available (unauthorized: authentication required)']],
    ['both kinds', [
      { ref: 'r/shop:cache-x', error: 'not found', statusCode: undefined },
      { ref: 'r/shop:cache-main', error: 'dial tcp: i/o timeout', statusCode: undefined },
    ], ['layer cache: not in the registry yet: r/shop:cache-x (expected on a first build; this build pushes its cache for the next one)', 'layer cache: r/shop:cache-main not available (dial tcp: i/o timeout)']],
    ['nothing missed', [], []],
  ])('%s', (_n, misses, lines) => {
    expect(cacheMissLines(misses)).toEqual(lines);
  });
});
