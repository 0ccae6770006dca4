// The files a build reads are checked when the config loads (build and ci): pure checks over a
// fake probe (table), the real probe on real trees, and the loader's FILE:LINE:COL form.
import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { buildFileProblems, fileProblem, probePath, type PathInfo } from '../../src/config/build-files.js';
import { displayPath, loadConfig } from '../../src/config/load.js';

const ROOT = '/p';
const show = (abs: string) => path.relative(ROOT, abs) || '.';

/** A fake file system: absolute path -> what is there (everything else is missing). */
function fake(tree: Record<string, PathInfo>) {
  return (abs: string): PathInfo => tree[abs] ?? { kind: 'missing' };
}

const FILE: PathInfo = { kind: 'file', size: 10 };
const DIR: PathInfo = { kind: 'dir', entries: 3 };

describe('buildFileProblems (fake tree)', () => {
  const cases: [string, unknown, Record<string, PathInfo>, { path: (string | number)[]; at?: string; message: RegExp }[]][] = [
    ['all there', {}, { '/p': DIR, '/p/Dockerfile': FILE }, []],
    ['default Dockerfile missing points at build (parent)', {}, { '/p': DIR },
      [{ path: ['build', 'dockerfile'], at: 'parent', message: /^no Dockerfile: 'Dockerfile' not found in the build context '\.'; add a Dockerfile there, or set build\.dockerfile/ }]],
    ['configured Dockerfile missing points at the key', { build: { dockerfile: 'docker/Dockerfile' } }, { '/p': DIR },
      [{ path: ['build', 'dockerfile'], message: /^file 'docker\/Dockerfile' not found \(build\.dockerfile is relative to the build context '\.'\); fix the path or add the file$/ }]],
    ['Dockerfile is a directory', {}, { '/p': DIR, '/p/Dockerfile': DIR },
      [{ path: ['build', 'dockerfile'], at: 'parent', message: /^'Dockerfile' is a directory, not a file; name the file itself/ }]],
    ['Dockerfile unreadable', {}, { '/p': DIR, '/p/Dockerfile': { kind: 'unreadable' } },
      [{ path: ['build', 'dockerfile'], at: 'parent', message: /^file 'Dockerfile' cannot be read \(permission denied\); make it readable/ }]],
    ['Dockerfile a symlink loop', { build: { dockerfile: 'D' } }, { '/p': DIR, '/p/D': { kind: 'loop' } },
      [{ path: ['build', 'dockerfile'], message: /^'D' is a symlink loop \(too many levels of symbolic links\)/ }]],
    ['Dockerfile a dangling symlink', {}, { '/p': DIR, '/p/Dockerfile': { kind: 'dangling', target: 'docker/Dockerfile' } },
      [{ path: ['build', 'dockerfile'], at: 'parent', message: /^'Dockerfile' is a symlink to 'docker\/Dockerfile', which does not exist/ }]],
    ['Dockerfile empty', {}, { '/p': DIR, '/p/Dockerfile': { kind: 'file', size: 0 } },
      [{ path: ['build', 'dockerfile'], at: 'parent', message: /^file 'Dockerfile' is empty; a Dockerfile needs at least a FROM line$/ }]],
    ['Dockerfile a FIFO', {}, { '/p': DIR, '/p/Dockerfile': { kind: 'other' } },
      [{ path: ['build', 'dockerfile'], at: 'parent', message: /is not a regular file/ }]],
    ['Dockerfile outside the context is the semantic checks\' problem', { build: { dockerfile: '../D' } }, { '/p': DIR }, []],
    ['empty context: one problem, nothing else', { build: { context: 'app' } }, { '/p': DIR, '/p/app': { kind: 'dir', entries: 0 } },
      [{ path: ['build', 'context'], message: /^directory 'app' is empty; point build\.context at the directory that holds the Dockerfile/ }]],
    ['unreadable context', { build: { context: 'app' } }, { '/p': DIR, '/p/app': { kind: 'unreadable' } },
      [{ path: ['build', 'context'], message: /^directory 'app' cannot be read \(permission denied\)/ }]],
    ['missing context is the semantic checks\' problem', { build: { context: 'app' } }, { '/p': DIR }, []],
    ['.dockerignore unreadable', {}, { '/p': DIR, '/p/Dockerfile': FILE, '/p/.dockerignore': { kind: 'unreadable' } },
      [{ path: ['build', 'context'], at: 'parent', message: /^file '\.dockerignore' cannot be read \(permission denied\).*\(Docker reads \.dockerignore from the build context\)$/ }]],
    ['.dockerignore a directory', {}, { '/p': DIR, '/p/Dockerfile': FILE, '/p/.dockerignore': DIR },
      [{ path: ['build', 'context'], at: 'parent', message: /^'\.dockerignore' is a directory, not a file/ }]],
    ['wheelhouse dir missing, parent there: fine (created)', { build: { wheelhouse: { builder: 'b' } } }, { '/p': DIR, '/p/Dockerfile': FILE }, []],
    ['wheelhouse dir is a file', { build: { wheelhouse: { builder: 'b', dir: 'wh' } } }, { '/p': DIR, '/p/Dockerfile': FILE, '/p/wh': FILE },
      [{ path: ['build', 'wheelhouse', 'dir'], message: /^'wh' is not a directory; the wheels are written to a directory there/ }]],
    ['wheelhouse dir\'s parent is a file (default dir: points at wheelhouse)', { build: { wheelhouse: { builder: 'b' } } }, { '/p': DIR, '/p/Dockerfile': FILE, '/p/wheelhouse': FILE },
      [{ path: ['build', 'wheelhouse', 'dir'], at: 'parent', message: /^'wheelhouse' is not a directory/ }]],
    ['wheelhouse dir below a file', { build: { wheelhouse: { builder: 'b', dir: 'out/wheels' } } }, { '/p': DIR, '/p/Dockerfile': FILE, '/p/out': FILE },
      [{ path: ['build', 'wheelhouse', 'dir'], message: /^'out' \(where 'out\/wheels' would be created\) is not a directory/ }]],
  ];
  test.each(cases)('%s', (_name, data, tree, want) => {
    const got = buildFileProblems(data, { dir: ROOT, show, probe: fake(tree) });
    expect(got.map((p) => ({ path: p.path, at: p.at, message: p.message }))).toEqual(want.map((w) => ({ path: w.path, at: w.at, message: expect.stringMatching(w.message) })));
  });
});

test('fileProblem: a file is fine, a missing one gets the caller\'s words', () => {
  expect(fileProblem(FILE, 'x', 'nf')).toBeUndefined();
  expect(fileProblem({ kind: 'missing' }, 'x', 'nf')).toBe('nf');
});

describe('probePath on a real tree', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'pallet-probe-'));
    writeFileSync(path.join(dir, 'file'), 'x');
    mkdirSync(path.join(dir, 'empty'));
    symlinkSync('a', path.join(dir, 'b'));
    symlinkSync('b', path.join(dir, 'a'));
    symlinkSync('nowhere', path.join(dir, 'dangling'));
    writeFileSync(path.join(dir, 'secret'), 'x');
    chmodSync(path.join(dir, 'secret'), 0);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test.each([
    ['file', { kind: 'file', size: 1 }],
    ['empty', { kind: 'dir', entries: 0 }],
    ['a', { kind: 'loop' }],
    ['dangling', { kind: 'dangling', target: 'nowhere' }],
    ['missing', { kind: 'missing' }],
    ['file/below-a-file', { kind: 'missing' }],
  ])('%s', (name, want) => {
    expect(probePath(path.join(dir, name))).toEqual(want);
  });

  // root reads anything; the e2e corpus runs pallet as an unprivileged user for this case.
  (process.getuid?.() === 0 ? test.skip : test)('a file without read permission is unreadable', () => {
    expect(probePath(path.join(dir, 'secret'))).toEqual({ kind: 'unreadable' });
  });
});

describe('loadConfig with buildFiles', () => {
  let tmp: string;
  beforeAll(() => { tmp = mkdtempSync(path.join(os.tmpdir(), 'pallet-buildfiles-')); });
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));
  let n = 0;
  const project = (yaml: string, files: Record<string, string> = {}) => {
    const d = path.join(tmp, `p${++n}`);
    mkdirSync(d, { recursive: true });
    for (const [rel, body] of Object.entries(files)) {
      mkdirSync(path.dirname(path.join(d, rel)), { recursive: true });
      writeFileSync(path.join(d, rel), body);
    }
    writeFileSync(path.join(d, 'pallet.yml'), yaml);
    return path.join(d, 'pallet.yml');
  };
  const messageOf = (file: string, buildFiles = true) => {
    try { loadConfig(file, {}, { buildFiles }); } catch (e) { return (e as Error).message; }
    return '';
  };
  const rel = (f: string) => displayPath(f);

  test('no build mapping: a missing default Dockerfile points at the top of the file', () => {
    const f = project('app: shop\nimage: r.example.com/shop\n');
    expect(messageOf(f)).toBe(`${rel(f)}:1:1 build.dockerfile: no Dockerfile: '${rel(path.join(path.dirname(f), 'Dockerfile'))}' not found in the build context '${rel(path.dirname(f))}'; add a Dockerfile there, or set build.dockerfile to the one to use`);
  });

  test('a build mapping without dockerfile: points at build', () => {
    const f = project('app: shop\nimage: r.example.com/shop\nbuild:\n  target: x\n');
    expect(messageOf(f)).toMatch(/:3:1 build\.dockerfile: no Dockerfile: /);
  });

  test('a configured Dockerfile: points at its key, and with other problems all are reported in order', () => {
    const f = project('app: shop\nimage: r.example.com/shop\nbuild:\n  dockerfile: docker/Dockerfile\n  wheelhouse:\n    builder: python:3\n    requirements: [req.txt]\n', { 'req.txt/x': '' });
    expect(messageOf(f).split('\n').map((l) => l.replace(/^.*?:(\d+:\d+ [^:]+):.*$/, '$1'))).toEqual([
      '4:3 build.dockerfile',
      '7:20 build.wheelhouse.requirements[0]',
    ]);
    expect(messageOf(f)).toContain("req.txt' is a directory, not a file");
  });

  test('without buildFiles (deploy, rollback, test, push) the Dockerfile is not looked for', () => {
    const f = project('app: shop\nimage: r.example.com/shop\n');
    expect(messageOf(f, false)).toBe('');
  });

  test('a complete tree loads', () => {
    const f = project('app: shop\nimage: r.example.com/shop\n', { Dockerfile: 'FROM scratch\n' });
    expect(messageOf(f)).toBe('');
  });
});
