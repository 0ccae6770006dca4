// `npm run bench`: every benchmark in turn, each printing its own table of times and ratios
// measured in one run (results in bench/results/). Needs the lab (`npm run lab:up`; the deploy
// benchmark measures 1, 2, 4 and 8 hosts when the lab has 8: `npm run lab:up -- --hosts 8`).
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { REPO_ROOT } from '../test/helpers/lab.js';

const only = process.argv.slice(2);
const benches = ['build', 'cleanroom', 'deploy', 'backup', 'review'].filter((b) => only.length === 0 || only.includes(b));
let failed = 0;
for (const b of benches) {
  process.stdout.write(`\n===== bench/${b}.ts =====\n`);
  const r = spawnSync('npx', ['tsx', path.join(REPO_ROOT, 'bench', `${b}.ts`)], { stdio: 'inherit', cwd: REPO_ROOT });
  if (r.status !== 0) failed++;
}
process.exit(failed ? 1 : 0);
