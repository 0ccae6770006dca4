import type { Inputs } from '../inputs.js';
import type { PalletConfig } from '../config/types.js';
import type { CleanupLedger } from '../util/cleanup.js';
import type { SessionOptions } from '../ops/remote.js';
import type { SshMaterial } from '../ssh/credentials.js';
import { reporter } from '../util/reporter.js';

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

/**
 * The ssh settings of every path that reaches a host (deploy, Swarm deploy, every day-2 command),
 * read from the inputs in this one place: known_hosts, the private key and its passphrase (both
 * masked here), the insecure flag, and how messages name the inputs. The jump host comes from
 * the config where a connection is set up.
 */
export function sshMaterial(ctx: RunContext): SshMaterial {
  const { sshKnownHosts, sshPrivateKey, sshKeyPassphrase, insecureSkipHostKeyCheck } = ctx.inputs;
  for (const secret of [sshPrivateKey, sshKeyPassphrase]) if (secret) reporter().setSecret(secret);
  return { knownHosts: sshKnownHosts, privateKey: sshPrivateKey, passphrase: sshKeyPassphrase, insecure: insecureSkipHostKeyCheck, where: ctx.where };
}

/** The ssh side of a day-2 command (status, exec, logs, lock-*): the same material a deploy uses. */
export function sessionOptions(ctx: RunContext): SessionOptions {
  return { config: ctx.config, ledger: ctx.ledger, env: ctx.env, ssh: sshMaterial(ctx) };
}
