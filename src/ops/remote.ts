// The thin executor under status, exec, logs and lock: one multiplexed ssh connection per host
// (or to a Swarm's manager; host keys checked exactly as for a deploy), and streaming commands
// whose output is passed through or prefixed with the host, and that stop cleanly when asked (Ctrl-C).
import type { ChildProcess } from 'node:child_process';
import { UserError, errorMessage } from '../errors.js';
import type { CleanupLedger } from '../util/cleanup.js';
import { SshConnection } from '../ssh/connection.js';
import { prepareSshSettings, type SshMaterial } from '../ssh/credentials.js';
import { checkSshInputs } from '../ssh/material.js';
import { jumpTarget } from '../deploy/plan.js';
import { failures, forEachHost } from '../deploy/parallel.js';
import type { PalletConfig } from '../config/types.js';
import type { SshTarget } from '../ssh/host.js';
import type { SshSettings } from '../ssh/options.js';
import { LineWriter } from '../cleanroom/stream-lines.js';
import { checkManager } from '../swarm/rollout.js';

export interface SessionOptions {
  config: PalletConfig;
  /** From sshMaterial (src/commands/context.ts); the jump host is added here from the config. */
  ssh: SshMaterial;
  ledger: CleanupLedger;
  env: NodeJS.ProcessEnv;
}

/** Open connections by host label; close() ends every master. */
export interface OpsSession {
  conns: Map<string, SshConnection>;
  close(): Promise<void>;
}

/**
 * Checks the ssh material (known_hosts must cover every host; a private key, when given, must
 * look like one and come with its passphrase if encrypted; without one ssh uses the agent and
 * default keys) and opens one master per host in parallel. Throws one UserError naming every
 * host that could not be reached.
 */
export async function openSession(targets: SshTarget[], o: SessionOptions): Promise<OpsSession> {
  const jump = jumpTarget(o.config.deploy);
  checkSshInputs(o.ssh, targets, jump, false);
  const settings = await prepareSshSettings({ ...o.ssh, jump }, o.ledger, o.env);
  return connectAll(targets, settings, o.ledger);
}

/**
 * Opens one master per target with ssh settings already prepared, in parallel. Throws one
 * UserError naming every host that could not be reached (the others are closed again).
 */
export async function connectAll(targets: SshTarget[], settings: SshSettings, ledger: CleanupLedger): Promise<OpsSession> {
  const conns = new Map(targets.map((t) => [t.label, new SshConnection(t, settings, ledger)]));
  const close = async () => { await Promise.all([...conns.values()].map((c) => c.close().catch(() => undefined))); };
  const failed = failures(await forEachHost([...conns.keys()], (label) => conns.get(label)!.open()));
  if (failed.length) {
    await close();
    const hint = failed.map((f) => (f.error instanceof UserError ? f.error.hint : undefined)).find(Boolean);
    throw new UserError(failed.map((f) => `${f.host}: ${errorMessage(f.error)}`).join('; '), hint);
  }
  return { conns, close };
}

/**
 * A session on a Swarm's manager (the one SSH host of a Swarm config), checked to be an active
 * manager before anything runs. Throws a UserError saying what to fix otherwise.
 */
export async function openSwarmManager(manager: SshTarget, o: SessionOptions): Promise<{ session: OpsSession; conn: SshConnection }> {
  const session = await openSession([manager], o);
  const conn = session.conns.get(manager.label)!;
  try {
    await checkManager(conn);
  } catch (e) {
    await session.close();
    throw e;
  }
  return { session, conn };
}

export interface StreamOptions {
  /** Prefix for every output line (several hosts); without one, bytes pass through untouched. */
  prefix?: string;
  /** Where lines go when prefixed (default: process stdout/stderr). */
  out?: (line: string) => void;
  err?: (line: string) => void;
  /** Stops the command (closes its stdin, see hangup.ts; SIGTERM to ssh if it lingers). */
  signal?: AbortSignal;
  /** Gives the remote command a terminal and this process's stdio (exec -i). */
  tty?: boolean;
}

/** How long a stopped command may take to wind down before its ssh client is terminated. */
export const STOP_GRACE_MS = 5000;

/**
 * Runs argv on the host over its master, streaming output; resolves with the remote exit code
 * (128+n when ssh died of signal n). stdin stays open until the command ends or is stopped,
 * which is what tells a hangup-wrapped command (hangup.ts) to keep running.
 */
export function streamRemote(conn: SshConnection, argv: string[], o: StreamOptions = {}): Promise<number> {
  const child: ChildProcess = conn.spawn(argv, { tty: o.tty, stdio: o.tty ? 'inherit' : ['pipe', 'pipe', 'pipe'] });
  const out = o.out ?? ((l: string) => process.stdout.write(`${l}\n`));
  const err = o.err ?? ((l: string) => process.stderr.write(`${l}\n`));
  if (!o.tty) {
    if (o.prefix !== undefined) {
      const p = o.prefix;
      child.stdout!.pipe(new LineWriter((l) => out(p + l)));
      child.stderr!.pipe(new LineWriter((l) => err(p + l)));
    } else {
      child.stdout!.on('data', (b: Buffer) => (o.out ? o.out(b.toString('utf8').replace(/\n$/, '')) : process.stdout.write(b)));
      child.stderr!.on('data', (b: Buffer) => (o.err ? o.err(b.toString('utf8').replace(/\n$/, '')) : process.stderr.write(b)));
    }
    child.stdin!.on('error', () => undefined);
  }
  let timer: NodeJS.Timeout | undefined;
  const stop = () => {
    // A hangup-wrapped command ends when its stdin closes; ssh then exits with it.
    child.stdin?.end();
    timer = setTimeout(() => child.kill('SIGTERM'), STOP_GRACE_MS);
  };
  if (o.signal?.aborted) stop();
  o.signal?.addEventListener('abort', stop, { once: true });
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, sig) => {
      if (timer) clearTimeout(timer);
      o.signal?.removeEventListener('abort', stop);
      const signals: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGKILL: 9, SIGTERM: 15 };
      resolve(code ?? (sig ? 128 + (signals[sig] ?? 1) : 1));
    });
  });
}

/** Runs argv to its end (or until `signal`), collecting its output lines, stdout and stderr alike. */
export async function collectLines(conn: SshConnection, argv: string[], signal: AbortSignal): Promise<{ exitCode: number; lines: string[] }> {
  const lines: string[] = [];
  const exitCode = await streamRemote(conn, argv, { signal, prefix: '', out: (l) => lines.push(l), err: (l) => lines.push(l) });
  return { exitCode, lines };
}

/** Width that lines host prefixes up. */
export function prefixWidth(labels: string[]): number {
  return Math.max(0, ...labels.map((l) => l.length));
}
