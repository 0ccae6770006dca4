import type { Inputs } from '../inputs.js';
import type { PalletConfig } from '../config/types.js';
import type { CleanupLedger } from '../util/cleanup.js';
import type { SessionOptions } from '../ops/remote.js';

/** Everything a command needs, built once by the entry point. */
export interface RunContext {
  inputs: Inputs;
  config: PalletConfig;
  ledger: CleanupLedger;
  env: NodeJS.ProcessEnv;
  /** Set when the job is cancelled (SIGINT/SIGTERM); long waits check it and stop early. */
  signal: AbortSignal;
  /** How messages name inputs: `input 'x'` (the action, default) or `--x` (the CLI). */
  where?: 'input' | 'flag';
}

/** What a command hands back to the entry point. Outputs are set by the entry point. */
export interface CommandResult {
  exitCode: number;
  outputs: Record<string, string>;
}

/** The image tag this run works with: the `tag` input, else build-<GITHUB_RUN_NUMBER>, else build-local. */
export function resolveTag(inputs: Inputs, env: NodeJS.ProcessEnv): string {
  if (inputs.tag) return inputs.tag;
  const n = env.GITHUB_RUN_NUMBER;
  return n && /^\d+$/.test(n) ? `build-${n}` : 'build-local';
}

/** What to run so that IMAGE:TAG exists on this engine, worded for the front door in use. */
export function buildFirstHint(where: RunContext['where'], tag: string): string {
  return where === 'flag'
    ? `run 'pallet build --tag ${tag}' first (or 'pallet ci --tag ${tag}', which builds, tests and pushes)`
    : `run command 'build' first in this job (or command 'ci', which builds, tests and pushes) with the same tag`;
}

/** The ssh side of a day-2 command (status, exec, logs, lock-*): the same inputs a deploy uses. */
export function sessionOptions(ctx: RunContext): SessionOptions {
  const { sshKnownHosts, sshPrivateKey, insecureSkipHostKeyCheck } = ctx.inputs;
  return {
    config: ctx.config, ledger: ctx.ledger, env: ctx.env, where: ctx.where,
    ssh: { knownHosts: sshKnownHosts, privateKey: sshPrivateKey, insecure: insecureSkipHostKeyCheck },
  };
}
