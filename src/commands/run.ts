// `pallet run -- cmd ...`: a command on this machine with the cleanroom services provided
// (ports on 127.0.0.1, the same variables as in CI). Its exit code is ours.
import { spawn } from 'node:child_process';
import path from 'node:path';
import type { CliArgs } from '../inputs.js';
import type { DispatchOptions } from './index.js';
import { UserError } from '../errors.js';
import { loadConfig } from '../config/load.js';
import { CleanupLedger } from '../util/cleanup.js';
import { reporter } from '../util/reporter.js';
import { withPublishedServices } from '../cleanroom/host-services.js';

export async function runHostCommand(args: CliArgs, opts: DispatchOptions): Promise<number> {
  if (!args.rest.length) {
    throw new UserError('pallet run: no command given', "put the command after --, e.g. 'pallet run -- ./manage.py test'");
  }
  const workdir = path.resolve(args.raw('working-directory') || '.');
  const config = loadConfig(path.resolve(workdir, args.raw('config') || 'pallet.yml'), { image: args.raw('image') || undefined });
  const ledger = opts.ledger ?? new CleanupLedger();
  const signal = opts.signal ?? new AbortController().signal;
  const env = opts.env ?? process.env;
  return withPublishedServices(config, ledger, signal, async (serviceEnv) => {
    reporter().info(`running: ${args.rest.join(' ')}`);
    return runInherited(args.rest, { ...env, ...serviceEnv }, workdir, signal);
  });
}

/** Spawns with inherited stdio; resolves to the exit code (128+n for a signal, as shells do). */
export function runInherited(cmd: string[], env: NodeJS.ProcessEnv, cwd: string, signal: AbortSignal): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd[0], cmd.slice(1), { stdio: 'inherit', env, cwd });
    const onAbort = () => child.kill('SIGTERM');
    signal.addEventListener('abort', onAbort, { once: true });
    child.on('error', (e: NodeJS.ErrnoException) => {
      signal.removeEventListener('abort', onAbort);
      reject(e.code === 'ENOENT' ? new UserError(`pallet run: command not found: ${cmd[0]}`, 'check the command after --') : e);
    });
    child.on('exit', (code, sig) => {
      signal.removeEventListener('abort', onAbort);
      const signals: Record<string, number> = { SIGINT: 2, SIGKILL: 9, SIGTERM: 15 };
      resolve(code ?? (sig ? 128 + (signals[sig] ?? 1) : 1));
    });
  });
}
