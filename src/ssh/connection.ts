// One multiplexed ssh connection per host: `open()` starts the master (one handshake),
// `run()` sends commands over it, `close()` asks it to exit. Runs the OpenSSH client via
// @actions/exec; stdin carries anything secret (passwords, env values), never argv.
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { getExecOutput } from '@actions/exec';
import type { CleanupLedger, CleanupItem } from '../util/cleanup.js';
import { reporter } from '../util/reporter.js';
import { commandArgs, controlPath, destination, exitArgs, masterArgs, directPrefix, type SshSettings } from './options.js';
import { lastLines, sshConnectError } from './errors.js';
import type { SshTarget } from './host.js';

export interface RemoteResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  /** Sent on the remote command's stdin. */
  input?: string;
}

/** ssh exits 255 when the connection (not the remote command) failed. */
export class HostConnectionError extends Error {
  constructor(readonly host: string, readonly detail: string) {
    super(`lost the ssh connection to ${host}: ${detail}`);
    this.name = 'HostConnectionError';
  }
}

/** The one place that runs the ssh binary. */
export async function runSsh(args: string[], input?: string): Promise<RemoteResult> {
  const r = await getExecOutput('ssh', args, {
    ignoreReturnCode: true,
    silent: true,
    input: input === undefined ? undefined : Buffer.from(input),
    // The backgrounded master does not hold our pipes open; don't wait 10s for them.
    delay: 200,
  });
  return { exitCode: r.exitCode, stdout: r.stdout, stderr: r.stderr };
}

/**
 * What the deploy needs of a host: run small commands and get (exit code, stdout, stderr)
 * back. SshConnection is the real one; the unit tests inject a fake host that honours the
 * remote commands' contract (test/helpers/fake-host.ts). A lost connection throws
 * HostConnectionError; a failing command does not throw from run().
 */
export interface HostConnection {
  readonly target: SshTarget;
  /** The host's label as written in pallet.yml. */
  readonly name: string;
  open(): Promise<void>;
  run(argv: readonly string[], opts?: RunOptions): Promise<RemoteResult>;
  check(argv: readonly string[], what: string, opts?: RunOptions): Promise<RemoteResult>;
  /** Fresh-connection ssh argv prefix, recorded in cleanup items so a post step can reach the host. */
  directPrefix(): string[];
  close(): Promise<void>;
}

/** Opens the connection to one target (the engine's seam: a fake host in unit tests). */
export type Connector = (target: SshTarget) => HostConnection;

export class SshConnection implements HostConnection {
  private masterItem?: CleanupItem;
  constructor(
    readonly target: SshTarget,
    readonly settings: SshSettings,
    private readonly ledger: CleanupLedger,
  ) {}

  get name(): string {
    return this.target.label;
  }

  /** Fresh-connection argv prefix (for the deploy-lock cleanup item). */
  directPrefix(): string[] {
    return directPrefix(this.settings, this.target);
  }

  async open(): Promise<void> {
    this.masterItem = { kind: 'ssh-master', socket: controlPath(this.settings), destination: destination(this.target), args: exitArgs(this.settings, this.target) };
    this.ledger.add(this.masterItem);
    const r = await runSsh(masterArgs(this.settings, this.target));
    if (r.exitCode !== 0) throw sshConnectError(this.target, r.stderr);
  }

  /** Runs argv on the host. A non-zero exit of the remote command is returned, a lost connection throws. */
  async run(argv: readonly string[], opts: RunOptions = {}): Promise<RemoteResult> {
    reporter().debug(`[${this.name}] $ ${argv.join(' ')}`);
    const r = await runSsh(commandArgs(this.settings, this.target, argv), opts.input);
    if (r.exitCode === 255) throw new HostConnectionError(this.name, lastLines(r.stderr) || 'ssh exited 255');
    return r;
  }

  /** Like run, but a non-zero exit throws with the command's last output lines. */
  async check(argv: readonly string[], what: string, opts: RunOptions = {}): Promise<RemoteResult> {
    const r = await this.run(argv, opts);
    if (r.exitCode !== 0) {
      throw new Error(`${what} failed on ${this.name} (exit ${r.exitCode}): ${lastLines(r.stderr || r.stdout) || 'no output'}`);
    }
    return r;
  }

  /**
   * Starts argv on the host over the master and hands back the running ssh client, for output
   * that streams (logs --follow) or a terminal (exec -i). stdio defaults to pipes; `tty` asks
   * for a remote terminal. The caller waits for 'close' and ends the process it started.
   */
  spawn(argv: readonly string[], opts: { tty?: boolean; stdio?: StdioOptions } = {}): ChildProcess {
    reporter().debug(`[${this.name}] $ ${argv.join(' ')}`);
    return spawn('ssh', commandArgs(this.settings, this.target, argv, { tty: opts.tty }), { stdio: opts.stdio ?? 'pipe' });
  }

  async close(): Promise<void> {
    if (!this.masterItem) return;
    await runSsh(exitArgs(this.settings, this.target));
    this.ledger.done(this.masterItem);
    this.masterItem = undefined;
  }
}
