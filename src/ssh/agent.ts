// A per-run ssh-agent for a passphrase-protected deploy key: started with its socket inside the
// run's private directory, recorded in the cleanup ledger (so the post step kills it even after a
// crash), and given the key by ssh-add. The passphrase reaches ssh-add through SSH_ASKPASS (with
// SSH_ASKPASS_REQUIRE=force, OpenSSH 8.4+) and a small script that prints it from ssh-add's own
// environment: never argv, never a file.
import { execFile } from 'node:child_process';
import { readFileSync, existsSync } from 'node:fs';
import { rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { UserError } from '../errors.js';
import type { CleanupLedger } from '../util/cleanup.js';
import { inputLabel, secretSource, type Where } from './material.js';

const execFileP = promisify(execFile);

/** Where the agent listens and the public key file that selects its key (`ssh -i KEY.pub`). */
export interface LoadedAgent {
  socket: string;
  pid: number;
  publicKeyFile: string;
}

// Prints the passphrase once; on ssh-add's "Bad passphrase, try again" prompt it prints nothing,
// which makes ssh-add give up instead of asking forever.
const ASKPASS = `#!/bin/sh
case "$1" in *Bad\\ passphrase*|*try\\ again*) exit 1;; esac
printf '%s\\n' "$PALLET_ASKPASS_PASSPHRASE"
`;

/** Pure: the agent pid from `ssh-agent -s` output (`SSH_AGENT_PID=1234; export SSH_AGENT_PID;`). */
export function parseAgentPid(stdout: string): number | undefined {
  const m = /SSH_AGENT_PID=(\d+)/.exec(stdout);
  return m ? Number(m[1]) : undefined;
}

/**
 * Starts an agent listening on DIR/agent.sock, loads `keyFile` into it with `passphrase`, and
 * writes the key's public half to DIR/id.pub. Throws a UserError naming the inputs when the
 * passphrase does not unlock the key.
 */
export async function loadKeyIntoAgent(dir: string, keyFile: string, passphrase: string, ledger: CleanupLedger, where: Where = 'input'): Promise<LoadedAgent> {
  const socket = path.join(dir, 'agent.sock');
  const started = await execFileP('ssh-agent', ['-s', '-a', socket], { timeout: 15_000 });
  const pid = parseAgentPid(started.stdout);
  if (!pid) throw new Error(`ssh-agent did not say its pid: ${started.stdout.trim() || started.stderr.trim()}`);
  ledger.add({ kind: 'ssh-agent', pid, socket });
  const askpass = path.join(dir, 'askpass');
  await writeFile(askpass, ASKPASS, { mode: 0o700 });
  const env = {
    PATH: process.env.PATH ?? '/usr/bin:/bin', SSH_AUTH_SOCK: socket, SSH_ASKPASS: askpass, SSH_ASKPASS_REQUIRE: 'force',
    // OpenSSH before 8.4 uses SSH_ASKPASS only with a DISPLAY and no terminal.
    DISPLAY: process.env.DISPLAY || ':0', PALLET_ASKPASS_PASSPHRASE: passphrase,
  };
  try {
    await execFileP('ssh-add', ['-q', keyFile], { env, timeout: 15_000 });
  } catch (e) {
    const said = ((e as { stderr?: string }).stderr ?? '').trim().split('\n').pop() || (e as Error).message;
    throw new UserError(
      `${inputLabel('ssh-key-passphrase', where)} does not unlock ${inputLabel('ssh-private-key', where)} (ssh-add: ${said})`,
      `set ${secretSource('ssh-key-passphrase', where)} to the passphrase the key was made with (\`ssh-keygen -y -f KEY\` asks for it)`,
    );
  } finally {
    await rm(askpass, { force: true });
  }
  const listed = await execFileP('ssh-add', ['-L'], { env: { PATH: env.PATH, SSH_AUTH_SOCK: socket }, timeout: 15_000 });
  const publicKeyFile = path.join(dir, 'id.pub');
  await writeFile(publicKeyFile, listed.stdout.trim().split('\n')[0] + '\n', { mode: 0o600 });
  return { socket, pid, publicKeyFile };
}

/**
 * Stops a per-run agent: only a process that is still an ssh-agent bound to this run's socket
 * (a pid reused by something else is left alone). Where /proc is missing, `ssh-agent -k`.
 */
export async function stopAgent(pid: number, socket: string): Promise<void> {
  if (existsSync('/proc')) {
    let cmdline = '';
    try { cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8'); } catch { return; } // already gone
    if (!cmdline.includes('ssh-agent') || !cmdline.includes(socket)) return;
    process.kill(pid, 'SIGTERM');
    return;
  }
  await execFileP('ssh-agent', ['-k'], { env: { PATH: process.env.PATH, SSH_AGENT_PID: String(pid) }, timeout: 15_000 }).catch(() => undefined);
}
