// Generated tables must not drift from their source: the README's inputs and outputs (action.yml),
// docs/targets.md's support table (the targets' declarations in src/engine/capabilities.ts).
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import YAML from 'yaml';
import path from 'node:path';
import { actionTables } from '../../scripts/readme-tables.js';
import { targetsTable } from '../../scripts/targets-table.js';
import { REPO_ROOT } from '../helpers/lab.js';

test('README inputs and outputs tables match action.yml', () => {
  const readme = readFileSync(path.join(REPO_ROOT, 'README.md'), 'utf8');
  const { inputs, outputs } = actionTables(readFileSync(path.join(REPO_ROOT, 'action.yml'), 'utf8'));
  expect(readme).toContain(inputs);
  expect(readme).toContain(outputs);
});

test('every docs/ page the README links to exists', () => {
  const readme = readFileSync(path.join(REPO_ROOT, 'README.md'), 'utf8');
  const links = [...readme.matchAll(/\]\(((?:docs|examples)\/[^)#]+)\)/g)].map((m) => m[1]);
  expect(links.length).toBeGreaterThan(5);
  expect(links.filter((l) => !existsSync(path.join(REPO_ROOT, l)))).toEqual([]);
});

test("docs/targets.md's support table matches the targets' declarations", () => {
  const page = readFileSync(path.join(REPO_ROOT, 'docs/targets.md'), 'utf8');
  // Blank lines around it: a stale row left next to the table fails too.
  expect(page).toContain(`\n\n${targetsTable()}\n\n`);
});

test('the example and the docs cite only documents the repository has (no DESIGN.md)', () => {
  const files = (dir: string): string[] => readdirSync(path.join(REPO_ROOT, dir), { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? (['node_modules', 'wheelhouse', '__pycache__'].includes(e.name) ? [] : files(`${dir}/${e.name}`)) : [`${dir}/${e.name}`]));
  const cited = [...files('examples'), ...files('docs'), 'README.md']
    .filter((f) => /\.(md|sh|py|ya?ml|ts|txt)$|Dockerfile/.test(f))
    .filter((f) => /DESIGN(\.md)?\s*§/.test(readFileSync(path.join(REPO_ROOT, f), 'utf8')));
  expect(existsSync(path.join(REPO_ROOT, 'DESIGN.md'))).toBe(false);
  expect(cited).toEqual([]);
});

test("the example deploys as the user docs/hosts.md creates", () => {
  const hosts = readFileSync(path.join(REPO_ROOT, 'docs/hosts.md'), 'utf8');
  const created = /useradd [^\n]*?(\S+)\n/.exec(hosts)?.[1];
  const example = YAML.parse(readFileSync(path.join(REPO_ROOT, 'examples/django-app/pallet.yml'), 'utf8')) as { deploy: { ssh: { user: string } } };
  expect(created).toBe('deploy');
  expect(example.deploy.ssh.user).toBe(created);
});
