// Encrypted deploy keys are recognised in every format ssh-keygen writes (OpenSSH, PEM, PKCS#8),
// refused without a passphrase naming the input, and the agent's pid is read from its output.
// Every path that connects gets the passphrase from one place (sshMaterial): day-2 commands too.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { checkPrivateKey, checkSshInputs, privateKeyEncryption } from '../../src/ssh/material.js';
import { parseAgentPid } from '../../src/ssh/agent.js';
import { commonOptions } from '../../src/ssh/options.js';
import { parseInputs } from '../../src/inputs.js';
import { sessionOptions, sshMaterial, type RunContext } from '../../src/commands/context.js';
import { openSession } from '../../src/ops/remote.js';
import { CleanupLedger } from '../../src/util/cleanup.js';
import { CliReporter, setReporter } from '../../src/util/reporter.js';
import type { PalletConfig } from '../../src/config/types.js';
import type { SshTarget } from '../../src/ssh/host.js';
import '../../src/cleanup-handlers.js';

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

describe('one source of ssh material for every path', () => {
  const target: SshTarget = { user: 'deploy', host: 'app1.example.com', port: 22, label: 'app1.example.com' };
  /** A known_hosts line for `target` (a fresh host key). */
  function knownHostsLine(): string {
    const file = path.join(dir, `host-${++n}`);
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', file]);
    return `${target.host} ${readFileSync(`${file}.pub`, 'utf8').split(' ').slice(0, 2).join(' ')}`;
  }
  function context(raw: Record<string, string>, runnerTemp: string): RunContext {
    const config = { app: 'shop', image: 'r/shop', deploy: { ssh: { user: 'deploy', port: 22 }, roles: { web: { hosts: [target.label] } } } } as unknown as PalletConfig;
    return {
      inputs: parseInputs((name) => ({ command: 'status', ...raw })[name] ?? '', 'flag'), config, ledger: new CleanupLedger(),
      env: { PATH: process.env.PATH, RUNNER_TEMP: runnerTemp }, signal: new AbortController().signal, where: 'flag',
    };
  }

  test('sshMaterial and the day-2 session options carry the passphrase with the key', () => {
    const k = key('ed25519', 'day two');
    const ctx = context({ 'ssh-private-key': k, 'ssh-key-passphrase': 'day two', 'ssh-known-hosts': 'x' }, dir);
    const want = { knownHosts: 'x', privateKey: k.trim(), passphrase: 'day two', insecure: false, where: 'flag' };
    expect(sshMaterial(ctx)).toEqual(want);
    expect(sessionOptions(ctx).ssh).toEqual(want);
  });

  test('openSession (status, logs, exec, lock) unlocks an encrypted key with its passphrase, and refuses it without one', async () => {
    const lines: string[] = [];
    setReporter(new CliReporter((l) => lines.push(l), (l) => lines.push(l)));
    const k = key('ed25519', 'day two');
    const runnerTemp = mkdtempSync(path.join(dir, 'rt-'));
    const raw = { 'ssh-private-key': k, 'ssh-known-hosts': knownHostsLine() };
    await expect(openSession([], sessionOptions(context(raw, runnerTemp)))).rejects.toThrow('--ssh-private-key is encrypted with a passphrase');
    const ctx = context({ ...raw, 'ssh-key-passphrase': 'day two' }, runnerTemp);
    const session = await openSession([], sessionOptions(ctx));
    await session.close();
    expect(lines).toContain('ssh: the deploy key is unlocked in an ssh-agent for this run');
    expect(ctx.ledger.list().map((i) => i.kind)).toEqual(['path', 'ssh-agent']);
    await ctx.ledger.runAll();
    expect(readdirSync(runnerTemp)).toEqual([]);
  });

  test('checkSshInputs: deploys need a key, day-2 commands may use the agent; an encrypted key needs its passphrase on both', () => {
    const m = { knownHosts: knownHostsLine(), insecure: false, where: 'input' as const };
    expect(() => checkSshInputs(m, [target], undefined, false)).not.toThrow();
    expect(() => checkSshInputs(m, [target], undefined, true)).toThrow("input 'ssh-private-key' is required to deploy");
    const k = key('ed25519', 'pw');
    for (const required of [true, false]) {
      expect(() => checkSshInputs({ ...m, privateKey: k }, [target], undefined, required)).toThrow("input 'ssh-key-passphrase' is not set");
      expect(() => checkSshInputs({ ...m, privateKey: k, passphrase: 'pw' }, [target], undefined, required)).not.toThrow();
    }
    expect(() => checkSshInputs(m, [{ ...target, host: 'app2.example.com', label: 'app2.example.com' }], undefined, false)).toThrow('host key for app2.example.com:22 is not in ssh-known-hosts');
  });
});
