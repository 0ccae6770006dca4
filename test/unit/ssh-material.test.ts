// The shape checks on ssh-private-key and ssh-known-hosts that run before any host is contacted.
import { checkKnownHosts, checkPrivateKey, knownHostsCovers, knownHostsPathMistake, parseKnownHosts } from '../../src/ssh/material.js';
import { UserError } from '../../src/errors.js';
import type { SshTarget } from '../../src/ssh/host.js';

const ED = 'AAAAC3NzaC1lZDI1NTE5AAAAIPf6MC9Z/fNPI8uNE8WDIV1qq0ITJdnjxuSm/aSzh1Lj';
// `ssh-keygen -H` of "[127.0.0.1]:2204 ssh-ed25519 ED".
const HASHED = `|1|auuE+0aw/GBv8d/4wKwQyp4DJZo=|d6bwxpNOxt84EPbD3wdJ2ik0DzA= ssh-ed25519 ${ED}`;
const OPENSSH_KEY = '-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ\n-----END OPENSSH PRIVATE KEY-----\n';
const host = (h: string, port = 22): SshTarget => ({ user: 'root', host: h, port, label: `${h}:${port}` });

function thrown(fn: () => void): UserError {
  try { fn(); } catch (e) { if (e instanceof UserError) return e; throw e; }
  throw new Error('did not throw');
}

describe('checkPrivateKey', () => {
  test.each([
    ['OpenSSH', OPENSSH_KEY],
    ['PEM RSA, CRLF', '-----BEGIN RSA PRIVATE KEY-----\r\nMIIEogIBAAKCAQEA\r\n-----END RSA PRIVATE KEY-----'],
    ['PKCS8', '  -----BEGIN PRIVATE KEY-----\nMIIEvQ\n-----END PRIVATE KEY-----  '],
  ])('accepts %s', (_n, key) => expect(() => checkPrivateKey(key)).not.toThrow());

  test.each([
    ['random text', 'not-a-key-at-all-0x5f', /input 'ssh-private-key' is not a private key/],
    ['a public key', `ssh-ed25519 ${ED} hx`, /input 'ssh-private-key' holds a public key/],
    ['BEGIN without END', '-----BEGIN OPENSSH PRIVATE KEY-----\nabc', /is not a private key/],
    ['mismatched END', '-----BEGIN RSA PRIVATE KEY-----\nabc\n-----END OPENSSH PRIVATE KEY-----', /is not a private key/],
    ['a certificate', '-----BEGIN CERTIFICATE-----\nabc\n-----END CERTIFICATE-----', /is not a private key/],
  ])('refuses %s without echoing it', (_n, key, msg) => {
    const e = thrown(() => checkPrivateKey(key));
    expect(e.message).toMatch(msg);
    expect(`${e.message} ${e.hint}`).not.toContain(key.split('\n')[0].slice(0, 20) === '-----BEGIN' ? 'abc' : key);
  });

  test('missing: the action names the input, the CLI the variable and the file flag', () => {
    expect(thrown(() => checkPrivateKey(undefined)).message).toContain("input 'ssh-private-key' is required to deploy");
    const cli = thrown(() => checkPrivateKey('  ', 'flag'));
    expect(cli.message).toContain('--ssh-private-key is required');
    expect(cli.hint).toContain('PALLET_SSH_PRIVATE_KEY or --ssh-private-key-file');
  });
});

describe('parseKnownHosts', () => {
  test('reads markers, patterns and skips comments and blanks', () => {
    const text = `# hosts\n\na.example.com,10.0.0.1 ssh-ed25519 ${ED}\n@cert-authority *.example.com ssh-ed25519 ${ED} ca\n${HASHED}\n`;
    expect(parseKnownHosts(text)).toEqual([
      { marker: undefined, patterns: ['a.example.com', '10.0.0.1'], keyType: 'ssh-ed25519' },
      { marker: '@cert-authority', patterns: ['*.example.com'], keyType: 'ssh-ed25519' },
      { marker: undefined, patterns: [HASHED.split(' ')[0]], keyType: 'ssh-ed25519' },
    ]);
  });

  test.each([
    ['words', 'this is not a known_hosts line', /line 2 .*key type/],
    ['too few fields', `a.example.com ssh-ed25519`, /line 2 .*expected hosts/],
    ['not base64', 'a.example.com ssh-ed25519 %%%%', /line 2 .*base64/],
    ['type mismatch', `a.example.com ssh-rsa ${ED}`, /line 2 .*of type ssh-ed25519, not ssh-rsa/],
    ['unknown marker', `@trusted a.example.com ssh-ed25519 ${ED}`, /line 2 .*marker/],
  ])('names the line of %s, not its content', (_n, bad, msg) => {
    const e = thrown(() => parseKnownHosts(`ok.example.com ssh-ed25519 ${ED}\n${bad}`, 'flag'));
    expect(e.message).toMatch(/^--ssh-known-hosts: /);
    expect(e.message).toMatch(msg);
    expect(e.message).not.toContain(bad);
    expect(e.hint).toContain('ssh-keyscan');
  });
});

describe('known_hosts given as a file name', () => {
  const files = new Set(['known_hosts', 'deploy/known_hosts']);
  const isFile = (p: string) => files.has(p);
  const view = (e: ReturnType<typeof knownHostsPathMistake>) => e && { message: e.message, hint: e.hint };
  test.each<[string, string, 'flag' | 'input', { message: string; hint: string } | undefined]>([
    ['an existing file', 'known_hosts', 'flag', {
      message: "--ssh-known-hosts takes the known_hosts lines, not a file name: 'known_hosts' looks like a path",
      hint: 'use --ssh-known-hosts-file known_hosts to read the file (or --ssh-known-hosts "$(cat known_hosts)")',
    }],
    ['an absolute path that does not exist', '/etc/ssh/ssh_known_hosts2', 'flag', {
      message: "--ssh-known-hosts takes the known_hosts lines, not a file name: '/etc/ssh/ssh_known_hosts2' looks like a path",
      hint: 'use --ssh-known-hosts-file /etc/ssh/ssh_known_hosts2 to read the file (or --ssh-known-hosts "$(cat /etc/ssh/ssh_known_hosts2)")',
    }],
    ['~ and a trailing newline', '~/.ssh/known_hosts\n', 'flag', {
      message: "--ssh-known-hosts takes the known_hosts lines, not a file name: '~/.ssh/known_hosts' looks like a path",
      hint: 'use --ssh-known-hosts-file ~/.ssh/known_hosts to read the file (or --ssh-known-hosts "$(cat ~/.ssh/known_hosts)")',
    }],
    ['./relative in the action', './deploy/known_hosts', 'input', {
      message: "input 'ssh-known-hosts' takes the known_hosts lines, not a file name: './deploy/known_hosts' looks like a path",
      hint: "set it to the file's content, e.g. the DEPLOY_KNOWN_HOSTS secret holding the output of ssh-keyscan (the pallet command reads a file with --ssh-known-hosts-file PATH)",
    }],
    ['a word that is no file', 'garbage', 'flag', undefined],
    ['known_hosts lines', `a.example.com ssh-ed25519 ${ED}`, 'flag', undefined],
    ['a path with spaces (not one word)', '/my files/known_hosts', 'flag', undefined],
    ['empty', '  ', 'flag', undefined],
  ])('%s', (_n, text, where, want) => {
    expect(view(knownHostsPathMistake(text, where, isFile))).toEqual(want);
  });

  test('parseKnownHosts and checkKnownHosts say so instead of "line 1 is not a known_hosts line"', () => {
    expect(thrown(() => parseKnownHosts('/tmp/known_hosts', 'flag')).message).toMatch(/not a file name: '\/tmp\/known_hosts' looks like a path$/);
    expect(thrown(() => checkKnownHosts('./known_hosts', [host('a')], false, 'input')).hint).toContain('--ssh-known-hosts-file PATH');
    // With host-key checking off the text's shape is still checked: the mistake is still named.
    expect(thrown(() => checkKnownHosts('./known_hosts', [host('a')], true, 'flag')).message).toContain('looks like a path');
  });
});

describe('knownHostsCovers', () => {
  const entries = (t: string) => parseKnownHosts(t);
  test.each([
    [`a.example.com ssh-ed25519 ${ED}`, host('a.example.com'), true],
    [`a.example.com ssh-ed25519 ${ED}`, host('a.example.com', 2222), false],
    [`[a.example.com]:2222 ssh-ed25519 ${ED}`, host('a.example.com', 2222), true],
    [`*.example.com,!b.example.com ssh-ed25519 ${ED}`, host('a.example.com'), true],
    [`*.example.com,!b.example.com ssh-ed25519 ${ED}`, host('b.example.com'), false],
    [`a?.example.com ssh-ed25519 ${ED}`, host('a1.example.com'), true],
    [`a.example.com ssh-ed25519 ${ED}`, host('aXexample.com'), false],
    [`@revoked a.example.com ssh-ed25519 ${ED}`, host('a.example.com'), false],
    [HASHED, host('127.0.0.1', 2204), true],
    [HASHED, host('127.0.0.1', 2205), false],
  ])('%s covers %j: %s', (text, t, covered) => expect(knownHostsCovers(entries(text), t)).toBe(covered));
});

describe('checkKnownHosts', () => {
  const line = `[127.0.0.1]:2204 ssh-ed25519 ${ED}`;
  test('names every host without an entry and the ssh-keyscan to run', () => {
    const e = thrown(() => checkKnownHosts(line, [host('127.0.0.1', 2204), host('127.0.0.1', 2205)], false, 'input', host('jump.example.com')));
    expect(e.message).toBe("input 'ssh-known-hosts': host key for jump host jump.example.com:22 is not in ssh-known-hosts: add the output of `ssh-keyscan jump.example.com`; "
      + 'host key for 127.0.0.1:2205 is not in ssh-known-hosts: add the output of `ssh-keyscan -p 2205 127.0.0.1`');
  });
  test('required unless insecure; insecure still checks the shape of what is given', () => {
    // Status, logs, exec need them too: the message does not speak of a deploy, and each front door says how to give them.
    const cli = thrown(() => checkKnownHosts('', [host('a')], false, 'flag'));
    expect([cli.message, cli.hint]).toEqual(['--ssh-known-hosts is required: every command that reaches a host checks its key',
      'run `ssh-keyscan -p PORT HOST >> known_hosts` for every host (and the jump host), check the fingerprints, then pass --ssh-known-hosts-file known_hosts (or PALLET_SSH_KNOWN_HOSTS); ~/.ssh/known_hosts is not read']);
    expect(thrown(() => checkKnownHosts(' ', [host('a')], false, 'input')).hint).toContain('in a secret (e.g. DEPLOY_KNOWN_HOSTS)');
    expect(() => checkKnownHosts(undefined, [host('a')], true)).not.toThrow();
    expect(() => checkKnownHosts(line, [host('other')], true)).not.toThrow();
    expect(thrown(() => checkKnownHosts('garbage', [host('a')], true)).message).toContain('line 1');
  });
  test('all hosts covered passes', () => expect(() => checkKnownHosts(line, [host('127.0.0.1', 2204)], false)).not.toThrow());
});
