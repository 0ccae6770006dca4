// Runs an entry point the way the GitHub runner does: INPUT_* variables, GITHUB_OUTPUT /
// GITHUB_STATE / GITHUB_STEP_SUMMARY files, then reads those files back. The post step gets the
// saved state as STATE_* variables, as the runner hands it over.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface RunnerResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  outputs: Record<string, string>;
  state: Record<string, string>;
  summary: string;
}

/** Parses the runner's file-command format: `name<<DELIM\nvalue\nDELIM` or `name=value`. */
export function parseFileCommands(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const heredoc = /^([^=<]+)<<(.+)$/.exec(lines[i]);
    if (heredoc) {
      const [, name, delim] = heredoc;
      const value: string[] = [];
      for (i++; i < lines.length && lines[i] !== delim; i++) value.push(lines[i]);
      out[name] = value.join('\n');
    } else if (lines[i].includes('=')) {
      const at = lines[i].indexOf('=');
      out[lines[i].slice(0, at)] = lines[i].slice(at + 1);
    }
  }
  return out;
}

export interface RunnerOptions {
  inputs?: Record<string, string>;
  env?: Record<string, string>;
  state?: Record<string, string>;
  cwd?: string;
  /** Called with the child once it started (to send signals in tests). */
  onStart?: (pid: number) => void;
  /** Entry script; default dist/index.js. Tests of src use test/helpers/run-action.ts via tsx. */
  command?: string[];
}

export function runLikeRunner(entry: string, opts: RunnerOptions = {}): Promise<RunnerResult> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pallet-runner-'));
  const files = { GITHUB_OUTPUT: 'output', GITHUB_STATE: 'state', GITHUB_STEP_SUMMARY: 'summary' } as const;
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: process.env.HOME, GITHUB_ACTIONS: 'true', RUNNER_TEMP: dir };
  for (const [k, f] of Object.entries(files)) {
    env[k] = path.join(dir, f);
    writeFileSync(env[k]!, '');
  }
  for (const [k, v] of Object.entries(opts.inputs ?? {})) env[`INPUT_${k.replace(/ /g, '_').toUpperCase()}`] = v;
  for (const [k, v] of Object.entries(opts.state ?? {})) env[`STATE_${k}`] = v;
  Object.assign(env, opts.env);
  const [cmd, ...args] = opts.command ?? [process.execPath, entry];
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    if (child.pid) opts.onStart?.(child.pid);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      const read = (f: string) => readFileSync(path.join(dir, f), 'utf8');
      resolve({
        code,
        signal,
        stdout,
        stderr,
        outputs: parseFileCommands(read('output')),
        state: parseFileCommands(read('state')),
        summary: read('summary'),
      });
    });
  });
}
