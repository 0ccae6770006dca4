import path from 'node:path';
import { collectRequirements, logicalLines, parseRequirementLine, rewriteRequirements } from '../../src/builder/requirements.js';
import { wheelhouseKeys } from '../../src/builder/wheelhouse-key.js';
import { builtWheelsFromPipOutput, findWheel, isCurrent, planLocalPackages, projectName, type WheelhouseManifest } from '../../src/builder/wheelhouse-manifest.js';
import { pipWheelSpec } from '../../src/builder/wheelhouse-builder.js';
import { UserError } from '../../src/errors.js';

describe('parseRequirementLine', () => {
  test.each([
    ['./packages/fastslug', { kind: 'local', target: './packages/fastslug', editable: false }],
    ['../x', { kind: 'local', target: '../x', editable: false }],
    ['-e ./pkg', { kind: 'local', target: './pkg', editable: true }],
    ['--editable=./pkg[extra]', { kind: 'local', target: './pkg', editable: true }],
    ['file:pkg', { kind: 'local', target: 'pkg', editable: false }],
    ['file:///abs/pkg', { kind: 'local', target: '/abs/pkg', editable: false }],
    ['mypkg @ file:///abs/pkg', { kind: 'local', target: '/abs/pkg', editable: false }],
    ['./pkg ; python_version >= "3.8"', { kind: 'local', target: './pkg', editable: false }],
    ['vendor/thing-1.0.tar.gz', { kind: 'local', target: 'vendor/thing-1.0.tar.gz', editable: false }],
    ['django>=4.2', { kind: 'other' }],
    ['requests[socks]==2.31', { kind: 'other' }],
    ['git+https://github.com/a/b#egg=b', { kind: 'other' }],
    ['mypkg @ https://example.com/x.whl', { kind: 'other' }],
    ['--no-binary :all:', { kind: 'other' }],
    ['-r base.txt', { kind: 'include', file: 'base.txt', constraint: false }],
    ['--requirement=dev/base.txt', { kind: 'include', file: 'dev/base.txt', constraint: false }],
    ['-c constraints.txt', { kind: 'include', file: 'constraints.txt', constraint: true }],
    ['', { kind: 'other' }],
  ])('%s', (line, expected) => {
    expect(parseRequirementLine(line)).toEqual(expected);
  });

  test('logical lines join continuations and drop comments, keeping #egg fragments', () => {
    expect(logicalLines('# c\n./a \\\n  [x]\ngit+https://h/r#egg=r  # trailing\n').map((l) => l.text))
      .toEqual(['', './a   [x]', 'git+https://h/r#egg=r', '']);
  });
});

describe('collectRequirements', () => {
  const files: Record<string, string> = {
    '/ctx/requirements.txt': '-r req/base.txt\n./packages/a\n-e ./packages/b\ndjango\n',
    '/ctx/req/base.txt': '-c ../constraints.txt\n../packages/a\n../packages/c\n',
    '/ctx/constraints.txt': 'django<6\n',
  };
  const read = (f: string) => { if (!(f in files)) throw new Error('ENOENT'); return files[f]; };

  test('follows includes relative to the including file and dedups local packages', () => {
    const r = collectRequirements('/ctx', ['requirements.txt'], read);
    expect(r.files).toEqual(['/ctx/requirements.txt', '/ctx/req/base.txt', '/ctx/constraints.txt']);
    expect(r.localPackages.map((p) => p.rel)).toEqual(['packages/a', 'packages/c', 'packages/b']);
  });

  test.each([
    ['a missing file names it', ['nope.txt'], /cannot read \/ctx\/nope.txt/],
    ['a package outside the context is refused', ['out.txt'], /outside the build context/],
  ])('%s', (_n, roots, msg) => {
    files['/ctx/out.txt'] = '../elsewhere/pkg\n';
    expect(() => collectRequirements('/ctx', roots, read)).toThrow(UserError);
    expect(() => collectRequirements('/ctx', roots, read)).toThrow(msg);
  });

  test('rewrite names reused wheels instead of their sources', () => {
    const reuse = new Map([[path.resolve('/ctx/packages/a'), '/wheelhouse/a-1.0-py3-none-any.whl']]);
    expect(rewriteRequirements('./packages/a\n./packages/b  # keep\ndjango\n', '/ctx/requirements.txt', reuse))
      .toBe('/wheelhouse/a-1.0-py3-none-any.whl\n./packages/b\ndjango\n');
  });
});

describe('wheelhouseKeys', () => {
  const base = {
    app: 'notes', platform: 'linux/amd64', builderImageId: 'sha256:b1', pipArgs: ['--no-index'],
    requirementFiles: { 'requirements.txt': 'h1' }, localPackages: { 'packages/a': 's1' },
  };
  const k0 = wheelhouseKeys(base);
  test('key starts with its restore key', () => {
    expect(k0.key.startsWith(k0.restoreKeys[0])).toBe(true);
    expect(k0.key).toMatch(/^pallet-wheelhouse-v1-notes-linux-amd64-[0-9a-f]{16}-[0-9a-f]{32}$/);
  });
  test.each([
    ['requirement file content', { requirementFiles: { 'requirements.txt': 'h2' } }, true, false],
    ['local package source', { localPackages: { 'packages/a': 's2' } }, true, false],
    ['builder image', { builderImageId: 'sha256:b2' }, false, true],
    ['platform', { platform: 'linux/arm64' }, false, true],
    ['pip args', { pipArgs: [] }, false, true],
  ])('%s changes the key (same restore key: %s)', (_n, change, sameRestore, toolchainChanges) => {
    const k = wheelhouseKeys({ ...base, ...change });
    expect(k.key).not.toBe(k0.key);
    expect(k.restoreKeys[0] === k0.restoreKeys[0]).toBe(sameRestore);
    expect(k.toolchain !== k0.toolchain).toBe(toolchainChanges);
  });
  test('order of entries does not matter', () => {
    const a = wheelhouseKeys({ ...base, localPackages: { x: '1', y: '2' } });
    const b = wheelhouseKeys({ ...base, localPackages: { y: '2', x: '1' } });
    expect(a.key).toBe(b.key);
  });
});

describe('wheelhouse manifest decisions', () => {
  const manifest: WheelhouseManifest = {
    version: 1, key: 'k1', toolchain: 't1',
    packages: { 'packages/a': { sourceHash: 'a1', wheel: 'a-1.0-py3-none-any.whl' }, 'packages/b': { sourceHash: 'b1', wheel: 'b-1.0-cp311-cp311-linux_x86_64.whl' } },
    wheels: ['a-1.0-py3-none-any.whl', 'b-1.0-cp311-cp311-linux_x86_64.whl'],
  };
  const all = (_w: string): boolean => true;
  test.each([
    ['nothing changed', 't1', { 'packages/a': 'a1', 'packages/b': 'b1' }, all, ['packages/a', 'packages/b'], [], []],
    ['one package changed', 't1', { 'packages/a': 'a2', 'packages/b': 'b1' }, all, ['packages/b'], ['packages/a'], ['a-1.0-py3-none-any.whl']],
    ['a new package', 't1', { 'packages/a': 'a1', 'packages/c': 'c1' }, all, ['packages/a'], ['packages/c'], []],
    ['other toolchain', 't2', { 'packages/a': 'a1', 'packages/b': 'b1' }, all, [], ['packages/a', 'packages/b'], []],
    ['wheel file missing', 't1', { 'packages/a': 'a1' }, () => false, [], ['packages/a'], []],
  ])('%s', (_n, toolchain, hashes, exists, reuse, build, stale) => {
    const plan = planLocalPackages(manifest, toolchain, hashes, exists);
    expect([...plan.reuse.keys()]).toEqual(reuse);
    expect(plan.build).toEqual(build);
    expect(plan.stale).toEqual(stale);
  });
  test('no manifest: build everything', () => {
    expect(planLocalPackages(undefined, 't1', { p: 'h' }, all).build).toEqual(['p']);
  });
  test.each([
    ['same key, wheels there', 'k1', all, true],
    ['other key', 'k2', all, false],
    ['a wheel missing', 'k1', (w: string) => !w.startsWith('b'), false],
  ])('isCurrent: %s', (_n, key, exists, expected) => {
    expect(isCurrent(manifest, key, exists)).toBe(expected);
  });
  test.each([
    [{ pyproject: '[build-system]\nrequires=[]\n[project]\nname = "Fast-Slug"\nversion="1"\n' }, 'Fast-Slug'],
    [{ setupCfg: '[metadata]\nname = notes_util\n' }, 'notes_util'],
    [{ setupPy: 'from setuptools import setup\nsetup(\n  name="fastslug", version="1.0")' }, 'fastslug'],
    [{}, 'dirname'],
  ])('projectName %#', (files, expected) => {
    expect(projectName(files, 'dirname')).toBe(expected);
  });
  test('findWheel matches normalised names', () => {
    const files = ['fast_slug-1.0-cp311-cp311-linux_x86_64.whl', 'notesutil-0.1-py3-none-any.whl', '.pallet.json'];
    expect(findWheel('Fast-Slug', files)).toBe(files[0]);
    expect(findWheel('notesutil', files)).toBe(files[1]);
    expect(findWheel('other', files)).toBeUndefined();
  });
  test('pip output names the wheels it built', () => {
    const out = [
      'Processing ./packages/fastslug',
      'Building wheels for collected packages: fastslug',
      '  Building wheel for fastslug (setup.py): started',
      '  Created wheel for fastslug: filename=fastslug-1.0-cp311-cp311-linux_x86_64.whl size=9000 sha256=ab',
      'File was already downloaded /wheelhouse/notesutil-0.1-py3-none-any.whl',
    ].join('\n');
    expect(builtWheelsFromPipOutput(out)).toEqual(['fastslug-1.0-cp311-cp311-linux_x86_64.whl']);
  });
});

test('pipWheelSpec: what runs in the builder', () => {
  const spec = pipWheelSpec({ builder: 'b:1', staging: '/tmp/s', wheelhouse: '/ctx/wheelhouse', requirements: ['requirements.txt'], pipArgs: ['--no-index'], user: '1001:121' });
  expect(spec.cmd).toEqual(['python3', '-m', 'pip', 'wheel', '--wheel-dir', '/wheelhouse', '--find-links', '/wheelhouse', '-r', '/src/requirements.txt', '--no-index']);
  expect(spec.binds).toEqual(['/tmp/s:/src', '/ctx/wheelhouse:/wheelhouse']);
  expect(spec.user).toBe('1001:121');
  expect(spec.env?.HOME).toBe('/tmp');
});
