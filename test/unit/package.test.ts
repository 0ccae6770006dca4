// What `npm pack` would publish: the action and its docs, never tests, the lab or the example app.
import { execFileSync } from 'node:child_process';
import { REPO_ROOT } from '../helpers/lab.js';

test('npm pack ships action.yml, dist and docs only', () => {
  const out = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: REPO_ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  const files: string[] = JSON.parse(out)[0].files.map((f: { path: string }) => f.path);
  expect(files).toEqual(expect.arrayContaining(['action.yml', 'dist/index.js', 'dist/cli/index.js', 'README.md', 'CHANGELOG.md', 'package.json']));
  const unwanted = files.filter((f) => /^(test|bench|examples|src|scripts|\.lab|\.ci|\.github|node_modules)\//.test(f) || /\.(test|spec)\.ts$/.test(f));
  expect(unwanted).toEqual([]);
}, 60_000);
