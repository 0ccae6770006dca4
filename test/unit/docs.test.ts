// The README's inputs and outputs tables are generated from action.yml; they must not drift.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { actionTables } from '../../scripts/readme-tables.js';
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
