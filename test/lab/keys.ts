// The lab's SSH identity (one ed25519 key, made once) and the pinned host keys of every host.
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { labPath } from './state.js';
import { run } from './util.js';

export interface LabKeys {
  privateKeyPath: string;
  publicKey: string;
  knownHostsPath: string;
}

export async function ensureKeys(): Promise<LabKeys> {
  const dir = labPath('ssh');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const privateKeyPath = labPath('ssh', 'id_ed25519');
  if (!existsSync(privateKeyPath)) {
    await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'pallet-lab', '-f', privateKeyPath]);
  }
  chmodSync(privateKeyPath, 0o600);
  return {
    privateKeyPath,
    publicKey: readFileSync(`${privateKeyPath}.pub`, 'utf8').trim(),
    knownHostsPath: labPath('ssh', 'known_hosts'),
  };
}

/** `[127.0.0.1]:PORT ssh-ed25519 AAAA...` lines of one host, from ssh-keyscan; [] while sshd is not up. */
export async function scanHostKey(port: number): Promise<string[]> {
  const r = await run('ssh-keyscan', ['-t', 'ed25519', '-T', '3', '-p', String(port), '127.0.0.1'], {
    allowFailure: true,
    timeoutMs: 10_000,
  });
  return r.stdout
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#') && l.includes(' ssh-ed25519 '));
}

export function writeKnownHosts(path: string, lines: string[]): void {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, lines.join('\n') + '\n', { mode: 0o644 });
  renameSync(tmp, path);
}

/** Arguments for `ssh` into a lab host with the host key checked strictly. */
export function sshArgs(keys: Pick<LabKeys, 'privateKeyPath' | 'knownHostsPath'>, port: number): string[] {
  return [
    '-i', keys.privateKeyPath,
    '-o', `UserKnownHostsFile=${keys.knownHostsPath}`,
    '-o', 'StrictHostKeyChecking=yes',
    '-o', 'BatchMode=yes',
    '-o', 'IdentitiesOnly=yes',
    '-o', 'ConnectTimeout=5',
    '-p', String(port),
    'root@127.0.0.1',
  ];
}
