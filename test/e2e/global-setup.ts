// jest globalSetup of the e2e project: bring the lab up (idempotent, reuses what is up), or,
// when no Docker Engine can be had on this machine, say why and let lab tests skip.
// Under CI=true the lab must come up: a missing engine fails the run instead of skipping.
// Kept free of project imports: it runs the lab CLI through tsx in a child process.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const SKIP_ENV = 'PALLET_LAB_SKIP_REASON';

function engineReason(): string | undefined {
  const info = spawnSync('docker', ['info', '--format', '{{.ServerVersion}}'], { encoding: 'utf8', timeout: 30_000 });
  if (info.status === 0) return undefined;
  const why = (info.stderr || String(info.error ?? '')).trim().split('\n')[0];
  if (process.env.DOCKER_HOST) return `no Docker Engine answers at DOCKER_HOST=${process.env.DOCKER_HOST} (${why})`;
  const debianRoot = process.getuid?.() === 0 && existsSync('/etc/debian_version');
  if (debianRoot) return undefined; // lab up installs and starts dockerd
  return `no Docker Engine answers (docker info: ${why}) ` +
    'and this is not Debian as root, so the lab cannot start one';
}

export default async function globalSetup(): Promise<void> {
  const ci = process.env.CI === 'true';
  const reason = engineReason();
  if (reason) {
    if (ci) throw new Error(`e2e: ${reason}`);
    process.env[SKIP_ENV] = reason;
    process.stderr.write(`\n[e2e] lab tests will be SKIPPED: ${reason}\n`);
    return;
  }
  process.stdout.write('\n[e2e] lab up --acme (reuses what is already up)\n');
  const tsx = path.join(ROOT, 'node_modules', '.bin', 'tsx');
  const up = spawnSync(tsx, [path.join(ROOT, 'test/lab/cli.ts'), 'up', '--acme'], {
    cwd: ROOT,
    stdio: 'inherit',
    timeout: 60 * 60_000,
  });
  if (up.status !== 0) throw new Error(`e2e: lab up failed (exit ${up.status ?? up.signal}); see .lab/logs`);
}
