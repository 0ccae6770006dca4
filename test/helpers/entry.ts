// How the e2e tests start pallet as a process: the shipped bundles, as the runner runs the
// action (node dist/index.js) and users run the CLI (node dist/cli/index.js). CI checks dist/
// against src/ (test/unit/dist.test.ts) before the e2e suite runs. While developing, rebuild
// with `npm run build`, or set PALLET_E2E_FROM_SOURCE=1 to run src/ through tsx (each process
// then takes seconds to start instead of a fraction of one).
import { spawn } from 'node:child_process';
import path from 'node:path';
import { REPO_ROOT } from './lab.js';

const FROM_SOURCE = process.env.PALLET_E2E_FROM_SOURCE === '1';
const TSX = path.join(REPO_ROOT, 'node_modules/tsx/dist/loader.mjs');

/** argv that runs the action's entry point (main, or post with STATE_isPost=true) with node itself, so signals reach it. */
export const ACTION_COMMAND: string[] = FROM_SOURCE
  ? [process.execPath, '--import', TSX, path.join(REPO_ROOT, 'test/helpers/run-action.ts')]
  : [process.execPath, path.join(REPO_ROOT, 'dist/index.js')];

/** argv prefix that runs the `pallet` CLI; append its arguments. */
export const CLI_COMMAND: string[] = FROM_SOURCE
  ? [process.execPath, '--import', TSX, path.join(REPO_ROOT, 'src/cli.ts')]
  : [process.execPath, path.join(REPO_ROOT, 'dist/cli/index.js')];

export interface CliRun {
  /** Exit code; null when it was killed (timeout). */
  code: number | null;
  stdout: string;
  stderr: string;
  /** stdout and stderr interleaved as they arrived, then a line saying so when it was killed. */
  output: string;
}

/**
 * Runs the CLI as a process (asynchronous, so the test process can drive load meanwhile) with
 * PATH and HOME plus `env` as its whole environment; killed after `timeoutMs` (default 180 s).
 */
export function runCli(args: string[], o: { cwd: string; env?: Record<string, string>; timeoutMs?: number }): Promise<CliRun> {
  const timeoutMs = o.timeoutMs ?? 180_000;
  return new Promise((resolve, reject) => {
    const child = spawn(CLI_COMMAND[0], [...CLI_COMMAND.slice(1), ...args], {
      cwd: o.cwd, env: { PATH: process.env.PATH, HOME: process.env.HOME, ...o.env }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    const r: CliRun = { code: null, stdout: '', stderr: '', output: '' };
    child.stdout.on('data', (d: Buffer) => { r.stdout += d; r.output += d; });
    child.stderr.on('data', (d: Buffer) => { r.stderr += d; r.output += d; });
    let killed = false;
    const timer = setTimeout(() => { killed = true; child.kill('SIGKILL'); }, timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ ...r, code, output: killed ? `${r.output}\n[pallet ${args[0]} killed after ${timeoutMs / 1000} s]` : r.output });
    });
  });
}
