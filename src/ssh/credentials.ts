// Writes the ssh material of one run (known_hosts, private key) into a private per-run
// directory that also holds the ControlMaster sockets. The directory is recorded in the
// cleanup ledger before it exists, so the post step removes keys even after a crash.
import { mkdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import type { CleanupLedger } from '../util/cleanup.js';
import { reporter } from '../util/reporter.js';
import { DEFAULT_SSH_TIMING, type SshSettings } from './options.js';
import type { SshTarget } from './host.js';
import { missingKnownHosts, privateKeyEncryption, type Where } from './material.js';
import { loadKeyIntoAgent } from './agent.js';

export interface SshMaterial {
  knownHosts?: string;
  privateKey?: string;
  /** Passphrase of an encrypted privateKey: the key goes into a per-run ssh-agent. */
  passphrase?: string;
  where?: Where;
  insecure: boolean;
  jump?: SshTarget;
}

export async function prepareSshSettings(m: SshMaterial, ledger: CleanupLedger, env: NodeJS.ProcessEnv = process.env): Promise<SshSettings> {
  if (!m.insecure && !m.knownHosts?.trim()) throw missingKnownHosts(m.where);
  if (m.insecure) {
    reporter().warning('insecure-skip-host-key-check is on: host keys are NOT verified and a man-in-the-middle could take over this deploy. Use ssh-known-hosts instead.');
  }
  if (m.privateKey) reporter().setSecret(m.privateKey);
  if (m.passphrase) reporter().setSecret(m.passphrase);
  const base = env.RUNNER_TEMP || os.tmpdir();
  // Short name: unix socket paths (dir + 40-char %C hash) must stay under ~104 bytes.
  const dir = path.join(base, `pallet-ssh-${randomBytes(4).toString('hex')}`);
  ledger.add({ kind: 'path', path: dir });
  await mkdir(dir, { mode: 0o700 });
  let knownHostsFile: string | undefined;
  if (m.knownHosts?.trim()) {
    knownHostsFile = path.join(dir, 'known_hosts');
    await writeFile(knownHostsFile, m.knownHosts.trim() + '\n', { mode: 0o600 });
  }
  let identityFile: string | undefined;
  if (m.privateKey?.trim()) {
    identityFile = path.join(dir, 'id');
    // OpenSSH rejects a key without its final newline; secrets often lose it.
    await writeFile(identityFile, m.privateKey.replace(/\r\n/g, '\n').trim() + '\n', { mode: 0o600 });
  }
  let identityAgent: string | undefined;
  if (identityFile && m.privateKey && m.passphrase) {
    if (privateKeyEncryption(m.privateKey)) {
      const agent = await loadKeyIntoAgent(dir, identityFile, m.passphrase, ledger, m.where);
      await rm(identityFile, { force: true });
      identityFile = agent.publicKeyFile;
      identityAgent = agent.socket;
      reporter().info('ssh: the deploy key is unlocked in an ssh-agent for this run');
    } else {
      reporter().warning('ssh-key-passphrase is set but ssh-private-key is not encrypted; the passphrase is not used');
    }
  }
  return { ...DEFAULT_SSH_TIMING, knownHostsFile, identityFile, identityAgent, insecure: m.insecure, controlDir: dir, jump: m.jump };
}
