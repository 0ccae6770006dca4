// Generated tables must not drift from their source: the README's inputs and outputs (action.yml),
// docs/targets.md's support table (the targets' declarations in src/engine/capabilities.ts).
import { existsSync, readFileSync } from 'node:fs';
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
