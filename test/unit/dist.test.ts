// The action runs dist/index.js, not src/: a change to src/ without a rebuilt dist/ would ship
// old code. Rebuild both bundles into a temp dir and compare them with what is committed.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { REPO_ROOT } from '../helpers/lab.js';

const NCC = path.join(REPO_ROOT, 'node_modules/@vercel/ncc/dist/ncc/cli.js');

// Two full bundles take minutes on a busy 2-core machine: CI (CI=true, as .ci/run and the GitHub
// workflow set it) always checks; locally set PALLET_DIST_CHECK=1 (npm run build makes dist/ fresh anyway).
const check = process.env.CI === 'true' || process.env.PALLET_DIST_CHECK === '1';
if (!check) process.stdout.write('dist/ check skipped: set CI=true or PALLET_DIST_CHECK=1 to run it\n');

(check ? describe : describe.skip)('dist/', () => {
  test.each([
    ['src/main.ts', 'dist/index.js'],
    ['src/cli.ts', 'dist/cli/index.js'],
  ])('%s bundles to the committed %s', (entry, committed) => {
    const out = mkdtempSync(path.join(os.tmpdir(), 'pallet-dist-'));
    execFileSync(process.execPath, [NCC, 'build', entry, '-o', out, '--quiet'], { cwd: REPO_ROOT, stdio: 'pipe' });
    const fresh = readFileSync(path.join(out, 'index.js'), 'utf8');
    const current = readFileSync(path.join(REPO_ROOT, committed), 'utf8');
    // Not toEqual on megabytes of text: a readable hint instead of a giant diff.
    expect(fresh === current ? 'up to date' : `${committed} is stale: run 'npm run build' and commit dist/`).toBe('up to date');
  }, 180_000);
});
