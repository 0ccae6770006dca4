// Encrypted deploy keys are recognised in every format ssh-keygen writes (OpenSSH, PEM, PKCS#8),
// refused without a passphrase naming the input, and the agent's pid is read from its output.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { checkPrivateKey, privateKeyEncryption } from '../../src/ssh/material.js';
import { parseAgentPid } from '../../src/ssh/agent.js';
import { commonOptions } from '../../src/ssh/options.js';

let dir: string;
beforeAll(() => { dir = mkdtempSync(path.join(os.tmpdir(), 'pallet-keys-')); });
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let n = 0;
/** A fresh key from ssh-keygen: type, passphrase ('' = none), format (-m). */
function key(type: string, passphrase: string, format?: string): string {
  const file = path.join(dir, `${type}-${format ?? 'openssh'}-${passphrase ? 'enc' : 'plain'}-${++n}`);
  execFileSync('ssh-keygen', ['-q', '-t', type, ...(type === 'rsa' ? ['-b', '2048'] : []), '-N', passphrase, ...(format ? ['-m', format] : []), '-f', file]);
  return readFileSync(file, 'utf8');
}

test.each<[string, string, string | undefined, object | undefined]>([
  ['ed25519 OpenSSH with a passphrase', 'ed25519', undefined, { format: 'OpenSSH', cipher: 'aes256-ctr' }],
  ['rsa PEM with a passphrase', 'rsa', 'PEM', { format: 'PEM', cipher: 'AES-128-CBC' }],
  ['rsa PKCS#8 with a passphrase', 'rsa', 'PKCS8', { format: 'PKCS#8' }],
])('%s is recognised as encrypted', (_name, type, format, want) => {
  const k = key(type, 'pass phrase', format);
  expect(privateKeyEncryption(k)).toEqual(want);
  // CRLF (a secret pasted on Windows) changes nothing.
  expect(privateKeyEncryption(k.replace(/\n/g, '\r\n'))).toEqual(want);
});

test.each([['ed25519', undefined], ['rsa', 'PEM'], ['rsa', 'PKCS8']])('%s %s without a passphrase is not encrypted', (type, format) => {
  expect(privateKeyEncryption(key(type!, '', format))).toBeUndefined();
});

test('an encrypted key without a passphrase is refused naming the input (action and CLI) and what to do', () => {
  const k = key('ed25519', 'secret words');
  expect(() => checkPrivateKey(k, 'input')).toThrow("input 'ssh-private-key' is encrypted with a passphrase (OpenSSH key, cipher aes256-ctr) and input 'ssh-key-passphrase' is not set: ssh cannot use the key without it");
  let hint = '';
  try { checkPrivateKey(k, 'flag'); } catch (e) { hint = (e as { hint: string }).hint; expect((e as Error).message).toContain("--ssh-private-key is encrypted"); }
  expect(hint).toContain('set PALLET_SSH_KEY_PASSPHRASE or --ssh-key-passphrase-file PATH');
  expect(() => checkPrivateKey(k, 'input', 'secret words')).not.toThrow();
  expect(() => checkPrivateKey(key('rsa', 'xxxxxx', 'PEM'), 'input')).toThrow(/\(PEM key, cipher AES-128-CBC\)/);
  expect(() => checkPrivateKey(key('rsa', 'xxxxxx', 'PKCS8'), 'input')).toThrow(/\(PKCS#8 key\)/);
});

test('ssh-agent -s output gives the pid', () => {
  expect(parseAgentPid('SSH_AUTH_SOCK=/tmp/x/agent.sock; export SSH_AUTH_SOCK;\nSSH_AGENT_PID=4321; export SSH_AGENT_PID;\necho Agent pid 4321;\n')).toBe(4321);
  expect(parseAgentPid('nothing')).toBeUndefined();
});

test('with an agent, ssh offers only the key whose public half is given, from that agent', () => {
  const o = commonOptions({ insecure: false, knownHostsFile: '/r/known_hosts', identityFile: '/r/id.pub', identityAgent: '/r/agent.sock', controlDir: '/r', connectTimeout: 1, serverAliveInterval: 1, serverAliveCountMax: 1, controlPersist: 1 });
  expect(o.join(' ')).toContain('-i /r/id.pub -o IdentitiesOnly=yes -o IdentityAgent=/r/agent.sock');
});
