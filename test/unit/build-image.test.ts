import { contextFilter } from '../../src/builder/context.js';
import { buildArgs, imageLabels, sourceFromEnv } from '../../src/builder/labels.js';
import { cacheCandidates, cacheTag, registryCachePlan, resolveBranch, resolveDefaultBranches, sanitizeBranch } from '../../src/builder/cache-tags.js';
import { BuildStreamParser, buildFailureAnnotation, type BuildEvent } from '../../src/builder/build-stream.js';
import { buildQuery } from '../../src/builder/image.js';
import { buildSummaryRows } from '../../src/builder/summary.js';
import type { BuildReport } from '../../src/builder/stage.js';
import { formatDuration } from '../../src/util/reporter.js';

describe('contextFilter (.dockerignore)', () => {
  const ignore = [
    '# comment', '.git', '**/__pycache__', '**/*.pyc', 'packages', 'docs', '!docs/keep.md', 'Dockerfile', '.dockerignore', 'secret/',
  ].join('\n');
  const decide = contextFilter(ignore, ['Dockerfile', '.dockerignore']);
  test.each([
    ['manage.py', false, 'include'],
    ['notes/views.py', false, 'include'],
    ['notes/__pycache__', true, 'exclude'],
    ['notes/__pycache__/views.cpython-311.pyc', false, 'exclude'],
    ['a/b/c.pyc', false, 'exclude'],
    ['.git', true, 'exclude'],
    ['packages', true, 'exclude'],
    ['docs', true, 'descend'], // an exception below it
    ['docs/keep.md', false, 'include'],
    ['docs/other.md', false, 'exclude'],
    ['Dockerfile', false, 'include'], // always sent, even when ignored
    ['.dockerignore', false, 'include'],
    ['wheelhouse', true, 'descend'],
    ['wheelhouse/x-1.0-py3-none-any.whl', false, 'include'],
    ['notes', true, 'descend'],
  ])('%s (dir=%s) -> %s', (rel, isDir, expected) => {
    const d = decide(rel, isDir);
    expect(d).toBe(expected);
  });
  test('without exceptions an ignored directory is pruned; a nested Dockerfile keeps its dir', () => {
    const d = contextFilter('build\n', ['build/Dockerfile']);
    expect(d('build', true)).toBe('descend');
    expect(d('build/Dockerfile', false)).toBe('include');
    expect(d('build/other', false)).toBe('exclude');
    expect(contextFilter('build\n', ['Dockerfile'])('build', true)).toBe('exclude');
  });
  test('empty .dockerignore includes everything', () => {
    expect(contextFilter('', ['Dockerfile'])('x/y', false)).toBe('include');
  });
});

describe('labels and build args', () => {
  const created = new Date('2024-05-01T10:00:00Z');
  test.each([
    ['from the runner', { GITHUB_SHA: 'abc123', GITHUB_SERVER_URL: 'https://github.com', GITHUB_REPOSITORY: 'thraxil/notes' },
      { 'org.opencontainers.image.revision': 'abc123', 'org.opencontainers.image.source': 'https://github.com/thraxil/notes' }],
    ['no runner', {}, {}],
  ])('%s', (_n, env, extra) => {
    expect(imageLabels({ app: 'notes', tag: 'build-7', created, source: sourceFromEnv(env) })).toEqual({
      'org.opencontainers.image.created': '2024-05-01T10:00:00.000Z',
      'org.opencontainers.image.version': 'build-7',
      'pallet.app': 'notes',
      'pallet.build': 'build-7',
      ...extra,
    });
  });
  test('build args become strings', () => {
    expect(buildArgs({ A: 1, B: true, C: null, D: 'x' })).toEqual({ A: '1', B: 'true', C: '', D: 'x' });
  });
  test('build query: cachefrom is a JSON array string, target only when set', () => {
    const q = buildQuery({ ref: 'r/a:build-1', dockerfile: 'Dockerfile', args: { A: '1' }, labels: { l: 'v' }, cacheFrom: ['r/a:cache-main'] });
    expect(q).toMatchObject({ t: 'r/a:build-1', dockerfile: 'Dockerfile', buildargs: { A: '1' }, labels: { l: 'v' }, cachefrom: '["r/a:cache-main"]', pull: false });
    expect(q).not.toHaveProperty('target');
    const q2 = buildQuery({ ref: 'x', dockerfile: 'D', target: 'prod', args: {}, labels: {}, cacheFrom: [] });
    expect(q2).toHaveProperty('target', 'prod');
    expect(q2).not.toHaveProperty('cachefrom');
  });
});

describe('cache tags', () => {
  test.each([
    ['main', 'main'],
    ['feature/Login-Page', 'feature-login-page'],
    ['refs/heads/fix_1.2', 'fix_1.2'],
    ['-odd--', 'odd'],
    ['###', 'unknown'],
    ['x'.repeat(200), 'x'.repeat(122)],
  ])('sanitizeBranch(%s) = %s', (b, expected) => {
    expect(sanitizeBranch(b)).toBe(expected);
    expect(cacheTag(b)).toMatch(/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/);
  });
  test.each([
    ['feature/x', ['main', 'master'], ['cache-feature-x', 'cache-main', 'cache-master']],
    ['main', ['main', 'master'], ['cache-main', 'cache-master']],
    [undefined, ['trunk'], ['cache-trunk']],
  ])('candidates for %s', (branch, defaults, expected) => {
    expect(cacheCandidates(branch, defaults)).toEqual(expected);
  });
  test.each([
    [{ GITHUB_HEAD_REF: 'pr-branch', GITHUB_REF_NAME: '12/merge' }, 'pr-branch'],
    [{ GITHUB_REF_NAME: 'master' }, 'master'],
  ])('resolveBranch %#', (env, expected) => {
    expect(resolveBranch(env, '/nonexistent')).toBe(expected);
  });
  test('default branch: explicit, else main and master', () => {
    expect(resolveDefaultBranches({ PALLET_DEFAULT_BRANCH: 'trunk' })).toEqual(['trunk']);
    expect(resolveDefaultBranches({})).toEqual(['main', 'master']);
  });
});

describe('BuildStreamParser', () => {
  const s = (text: string): BuildEvent => ({ stream: text });
  test('counts cached and run steps and keeps the image id', () => {
    const p = new BuildStreamParser();
    const events: BuildEvent[] = [
      s('Step 0/4 : ARG BASE=base\n'), s('Step 1/4 : FROM base\n'), s(' ---> 765228525339\n'),
      s('Step 2/4 : COPY wheelhouse/ /wheelhouse/\n'), s(' ---> Using cache\n'), s(' ---> aaa\n'),
      s('Step 3/4 : RUN pip install x\n'), s(' ---> Using cache\n ---> bbb\n'),
      s('Step 4/4 : COPY . /app\n'), s(' ---> ccc\n'),
      { aux: { ID: 'sha256:ccc' } }, s('Successfully built ccc\n'),
    ];
    const lines = events.flatMap((e) => p.push(e));
    expect(lines).toContain('Step 3/4 : RUN pip install x');
    const r = p.result();
    expect(r.steps.map((x) => [x.n, x.cached])).toEqual([[0, false], [1, false], [2, true], [3, true], [4, false]]);
    expect(r.cachedSteps).toBe(2);
    expect(r.ranSteps).toBe(1);
    expect(r.imageId).toBe('sha256:ccc');
    expect(r.error).toBeUndefined();
  });
  test('a failing step is named with its last output lines', () => {
    const p = new BuildStreamParser();
    p.push(s('Step 1/2 : FROM base\n'));
    p.push(s('Step 2/2 : RUN make\n ---> Running in 123\n'));
    for (let i = 1; i <= 30; i++) p.push(s(`line ${i}\n`));
    // Split across events: a line is only complete at its newline.
    p.push(s('make: *** [all] Err'));
    p.push(s('or 2\n'));
    p.push({ error: "The command '/bin/sh -c make' returned a non-zero code: 2", errorDetail: { code: 2, message: "The command '/bin/sh -c make' returned a non-zero code: 2" } });
    const r = p.result();
    expect(r.error?.step?.header).toBe('Step 2/2 : RUN make');
    expect(r.error?.tail).toHaveLength(20);
    expect(r.error?.tail.at(-1)).toBe('make: *** [all] Error 2');
    expect(r.error?.tail[0]).toBe('line 12');
    const a = buildFailureAnnotation(r.error!);
    expect(a.title).toBe('docker build failed at Step 2/2 : RUN make');
    expect(a.body).toMatch(/Error 2\nThe command/);
  });
});

test.each([
  ['docs/keep.md', 'docs', true],
  ['docs/keep.md', 'notes', false],
  ['docs/*/x', 'docs/a', true],
  ['**/keep', 'any/where', true],
  ['keep.md', 'docs', false],
  ['d?cs/a', 'docs', true],
  ['docs', 'docs', false],
])('exception %s may match below %s: %s', async (pattern, dir, expected) => {
  const { mayMatchBelow } = await import('../../src/builder/context.js');
  expect(mayMatchBelow(pattern, dir)).toBe(expected);
});

describe('registryCachePlan: the registry layer cache needs credentials outside Actions', () => {
  const base = { image: '127.0.0.1:5000/team/app', registry: '127.0.0.1:5000' };
  test.each([
    ['cache off: no pull, nothing said', { cache: false, hasAuth: true, env: {} }, false, undefined],
    ['credentials: pull', { cache: true, hasAuth: true, env: {} }, true, undefined],
    ['Actions without credentials: pull (public images need none)', { cache: true, hasAuth: false, env: { GITHUB_ACTIONS: 'true' } }, true, undefined],
    ['local without credentials: off, said why', { cache: true, hasAuth: false, env: {} }, false,
      /^layer cache: the registry cache \(127\.0\.0\.1:5000\/team\/app:cache-<branch>\) is off: no registry credentials for 127\.0\.0\.1:5000, .*--registry-username and set PALLET_REGISTRY_PASSWORD$/],
  ])('%s', (_name, o, pull, note) => {
    const plan = registryCachePlan({ ...base, ...o });
    expect(plan.pull).toBe(pull);
    if (note) expect(plan.note).toMatch(note);
    else expect(plan.note).toBeUndefined();
  });
});

describe('build summary rows', () => {
  test('the steps run are one plain-text cell (the terminal table and the job summary alike, no HTML)', () => {
    const image = {
      ref: 'r/app:build-7', imageId: 'sha256:abc', size: 1, builder: 'buildkit', builderReason: '', cachedSteps: 1, ranSteps: 2, cacheImports: [], stageCacheTags: [], contextFiles: 1, durationMs: 1, pullCacheMs: 0,
      steps: [
        { instruction: 'FROM base', cached: false, ms: 5 },
        { instruction: 'RUN pip install', cached: false, ms: 1500, line: 4 },
        { instruction: 'COPY . /app', cached: false, ms: 20, stage: 'app' },
        { instruction: 'RUN true', cached: true, ms: 1 },
      ],
    } as unknown as BuildReport['image'];
    const rows = buildSummaryRows({ tag: 'build-7', image, stageCachePushes: [], phases: [] });
    expect(rows.find((r) => r[0] === 'steps run')?.[1]).toBe(`RUN pip install (line 4) ${formatDuration(1500)}; app: COPY . /app ${formatDuration(20)}`);
  });
});
