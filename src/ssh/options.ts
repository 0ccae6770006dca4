// Pure: the `ssh` argument vectors for a master connection, a command riding it, and closing it.
// Every connection uses the same options so host keys, identity and timeouts are never looser
// on one path than on another.
import { shellQuote } from './quote.js';
import type { SshTarget } from './host.js';

export interface SshSettings {
  /** known_hosts file built from the `ssh-known-hosts` input. */
  knownHostsFile?: string;
  /** Accept any host key (insecure-skip-host-key-check). */
  insecure: boolean;
  /** Private key file (0600) from `ssh-private-key`; else the user's agent/default keys. */
  identityFile?: string;
  /** ssh-agent socket holding the (passphrase-protected) key; identityFile is then its public half. */
  identityAgent?: string;
  /** Directory holding the ControlMaster sockets. */
  controlDir: string;
  jump?: SshTarget;
  connectTimeout: number;
  serverAliveInterval: number;
  serverAliveCountMax: number;
  /** Seconds the master stays up without clients (a safety net if cleanup never runs). */
  controlPersist: number;
}

export const DEFAULT_SSH_TIMING = { connectTimeout: 10, serverAliveInterval: 5, serverAliveCountMax: 3, controlPersist: 900 };

export function destination(t: SshTarget): string {
  return `${t.user}@${t.host}`;
}

/** Options every ssh invocation (target and jump) carries. */
export function commonOptions(s: SshSettings): string[] {
  const o = (kv: string) => ['-o', kv];
  const args = [
    ...o('BatchMode=yes'),
    ...o(`ConnectTimeout=${s.connectTimeout}`),
    ...o(`ServerAliveInterval=${s.serverAliveInterval}`),
    ...o(`ServerAliveCountMax=${s.serverAliveCountMax}`),
    ...o('LogLevel=ERROR'),
    ...o('GlobalKnownHostsFile=/dev/null'),
  ];
  if (s.insecure) {
    args.push(...o('StrictHostKeyChecking=no'), ...o('UserKnownHostsFile=/dev/null'));
  } else {
    args.push(...o('StrictHostKeyChecking=yes'), ...o(`UserKnownHostsFile=${s.knownHostsFile ?? '/dev/null'}`));
  }
  if (s.identityFile) args.push('-i', s.identityFile, ...o('IdentitiesOnly=yes'));
  if (s.identityAgent) args.push(...o(`IdentityAgent=${s.identityAgent}`));
  return args;
}

/**
 * Jump host as a ProxyCommand rather than `-J`: options given on the command line do not reach
 * a `-J` hop, so it would check the jump's key against ~/.ssh/known_hosts with default keys.
 */
export function jumpOptions(s: SshSettings): string[] {
  if (!s.jump) return [];
  const proxy = shellQuote(['ssh', ...commonOptions(s), '-p', String(s.jump.port), '-W', '%h:%p', destination(s.jump)]);
  return ['-o', `ProxyCommand=${proxy}`];
}

export function controlPath(s: SshSettings): string {
  // %C = hash of local host, remote host, port, user: short and unique per target.
  return `${s.controlDir}/%C`;
}

/** Starts the multiplexing master in the background once authenticated. */
export function masterArgs(s: SshSettings, t: SshTarget): string[] {
  return [
    ...commonOptions(s), ...jumpOptions(s),
    '-M', '-N', '-f',
    '-o', `ControlPath=${controlPath(s)}`,
    '-o', `ControlPersist=${s.controlPersist}`,
    '-p', String(t.port), destination(t),
  ];
}

/**
 * A remote command riding the master (never opening its own connection). `tty: true` asks for a
 * remote terminal (`-tt`, for interactive programs); the default `-T` keeps stdout and stderr apart.
 */
export function commandArgs(s: SshSettings, t: SshTarget, remoteArgv: readonly string[], opts: { tty?: boolean } = {}): string[] {
  return [
    ...commonOptions(s), ...jumpOptions(s),
    '-o', `ControlPath=${controlPath(s)}`,
    '-o', 'ControlMaster=no',
    opts.tty ? '-tt' : '-T', '-p', String(t.port), destination(t),
    '--', shellQuote(remoteArgv),
  ];
}

/** Everything up to the remote command for a fresh connection (cleanup after the master is gone). */
export function directPrefix(s: SshSettings, t: SshTarget): string[] {
  return [...commonOptions(s), ...jumpOptions(s), '-o', 'ControlPath=none', '-T', '-p', String(t.port), destination(t)];
}

export function directCommandArgs(s: SshSettings, t: SshTarget, remoteArgv: readonly string[]): string[] {
  return [...directPrefix(s, t), '--', shellQuote(remoteArgv)];
}

/** Asks the master to exit. */
export function exitArgs(s: SshSettings, t: SshTarget): string[] {
  return ['-o', `ControlPath=${controlPath(s)}`, '-O', 'exit', '-p', String(t.port), destination(t)];
}
