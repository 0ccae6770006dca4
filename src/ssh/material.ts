// Pure: checks the shape of the ssh material a deploy is given (private key, known_hosts) before
// any host is contacted, so a pasted public key or a garbled known_hosts secret fails with a
// message naming the input instead of as an ssh error on a host. Values are never echoed.
import { createHmac } from 'node:crypto';
import { statSync } from 'node:fs';
import os from 'node:os';
import { UserError } from '../errors.js';
import { keyscanHint, knownHostsName, type SshTarget } from './host.js';
import type { SshMaterial } from './credentials.js';

export type Where = 'input' | 'flag';

/** How a message names an input: `input 'x'` in the action, `--x` on the CLI. */
export function inputLabel(name: string, where: Where = 'input'): string {
  return where === 'flag' ? `--${name}` : `input '${name}'`;
}

/** Where a secret comes from, for hints: the action input, or the CLI's env variable / file flag. */
export function secretSource(name: string, where: Where = 'input'): string {
  if (where === 'input') return `the ${name} input (from a secret)`;
  return `PALLET_${name.toUpperCase().replace(/-/g, '_')} or --${name}-file PATH`;
}

const PRIVATE_BEGIN = /^-----BEGIN ((?:RSA|EC|DSA|OPENSSH|ENCRYPTED) )?PRIVATE KEY-----$/;
const PUBLIC_KEY = /^(ssh-|ecdsa-|sk-)\S+ [A-Za-z0-9+/=]+/;

/** How a private key is protected: its format and, where the file says, the cipher. */
export interface KeyEncryption {
  format: 'OpenSSH' | 'PEM' | 'PKCS#8';
  cipher?: string;
}

const OPENSSH_MAGIC = 'openssh-key-v1\0';

/**
 * Pure: whether a private key (text) is passphrase-protected. OpenSSH keys
 * (PROTOCOL.key: "openssh-key-v1\0", then the cipher name as a length-prefixed string, "none"
 * when not encrypted), PEM keys with `Proc-Type: 4,ENCRYPTED` (RFC 1421; the cipher in
 * DEK-Info), and PKCS#8 `ENCRYPTED PRIVATE KEY` (RFC 5958). Undefined when not encrypted or unreadable.
 */
export function privateKeyEncryption(key: string): KeyEncryption | undefined {
  const text = key.replace(/\r\n/g, '\n').trim();
  if (/^-----BEGIN ENCRYPTED PRIVATE KEY-----/.test(text)) return { format: 'PKCS#8' };
  if (/^Proc-Type:\s*4,ENCRYPTED\s*$/m.test(text)) {
    const dek = /^DEK-Info:\s*([^,\s]+)/m.exec(text);
    return { format: 'PEM', ...(dek ? { cipher: dek[1] } : {}) };
  }
  if (!/^-----BEGIN OPENSSH PRIVATE KEY-----/.test(text)) return undefined;
  const body = Buffer.from(text.split('\n').filter((l) => !l.startsWith('-----')).join(''), 'base64');
  if (body.length < OPENSSH_MAGIC.length + 4 || body.subarray(0, OPENSSH_MAGIC.length).toString('latin1') !== OPENSSH_MAGIC) return undefined;
  const n = body.readUInt32BE(OPENSSH_MAGIC.length);
  const cipher = body.subarray(OPENSSH_MAGIC.length + 4, OPENSSH_MAGIC.length + 4 + n).toString('latin1');
  return cipher && cipher !== 'none' ? { format: 'OpenSSH', cipher } : undefined;
}

/**
 * Throws unless `key` has the shape of a PEM or OpenSSH private key, and, when the key is
 * passphrase-protected, unless a passphrase is given. Never includes the value.
 */
export function checkPrivateKey(key: string | undefined, where: Where = 'input', passphrase?: string): void {
  const name = inputLabel('ssh-private-key', where);
  if (!key?.trim()) {
    throw new UserError(`${name} is required to deploy: the hosts are reached over ssh with this key`, `set ${secretSource('ssh-private-key', where)} to the deploy user's private key`);
  }
  const lines = key.replace(/\r\n/g, '\n').trim().split('\n').map((l) => l.trim());
  const hint = `set ${secretSource('ssh-private-key', where)} to the whole private key file, from its -----BEGIN ... PRIVATE KEY----- line to its -----END line`;
  if (PUBLIC_KEY.test(lines[0])) throw new UserError(`${name} holds a public key, not a private key`, hint);
  const begin = PRIVATE_BEGIN.exec(lines[0]);
  const end = lines[lines.length - 1];
  if (!begin || end !== `-----END ${begin[1] ?? ''}PRIVATE KEY-----` || lines.length < 3) {
    throw new UserError(`${name} is not a private key (expected a PEM or OpenSSH key with BEGIN/END lines)`, hint);
  }
  const enc = privateKeyEncryption(key);
  if (enc && !passphrase) {
    throw new UserError(
      `${name} is encrypted with a passphrase (${enc.format} key${enc.cipher ? `, cipher ${enc.cipher}` : ''}) and ${inputLabel('ssh-key-passphrase', where)} is not set: ssh cannot use the key without it`,
      `set ${secretSource('ssh-key-passphrase', where)} to the key's passphrase (the key is then loaded into an ssh-agent for this run only), or use a deploy key made without one (ssh-keygen -N '')`,
    );
  }
}

export interface KnownHostsEntry {
  marker?: '@cert-authority' | '@revoked';
  patterns: string[];
  keyType: string;
}

const KEY_TYPE = /^(ssh-(ed25519|rsa|dss)|ecdsa-sha2-nistp(256|384|521)|sk-(ssh-ed25519|ecdsa-sha2-nistp256)@openssh\.com)(-cert-v01@openssh\.com)?$/;

/** The key type a base64 key blob names itself (its first length-prefixed string), if readable. */
function blobKeyType(b64: string): string | undefined {
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(b64)) return undefined;
  const buf = Buffer.from(b64, 'base64');
  if (buf.length < 8) return undefined;
  const n = buf.readUInt32BE(0);
  return n > 0 && n < 64 && buf.length >= 4 + n ? buf.subarray(4, 4 + n).toString('latin1') : undefined;
}

/** Whether a regular file exists at `path` (`~/` expanded). */
function fileExists(path: string): boolean {
  try { return statSync(path.replace(/^~(?=\/|$)/, os.homedir())).isFile(); } catch { return false; }
}

/**
 * Pure given `isFile`: the error for known_hosts text that is a file's name instead of its content (one
 * word, no spaces, that exists as a file or starts with /, ./, ../ or ~), else undefined. A single word is
 * never a known_hosts line (those have at least three fields), so this never refuses valid text.
 */
export function knownHostsPathMistake(text: string, where: Where, isFile: (path: string) => boolean): UserError | undefined {
  const word = text.trim();
  if (!word || /\s/.test(word) || !(/^(\/|\.\.?\/|~)/.test(word) || isFile(word))) return undefined;
  const name = inputLabel('ssh-known-hosts', where);
  return where === 'flag'
    ? new UserError(`${name} takes the known_hosts lines, not a file name: '${word}' looks like a path`,
      `use --ssh-known-hosts-file ${word} to read the file (or --ssh-known-hosts "$(cat ${word})")`)
    : new UserError(`${name} takes the known_hosts lines, not a file name: '${word}' looks like a path`,
      "set it to the file's content, e.g. the DEPLOY_KNOWN_HOSTS secret holding the output of ssh-keyscan (the pallet command reads a file with --ssh-known-hosts-file PATH)");
}

/**
 * Parses known_hosts text; throws naming the first bad line by number (never its content).
 * Each line: [@cert-authority|@revoked] hosts keytype base64-key [comment].
 */
export function parseKnownHosts(text: string, where: Where = 'input', isFile: (path: string) => boolean = fileExists): KnownHostsEntry[] {
  const mistake = knownHostsPathMistake(text, where, isFile);
  if (mistake) throw mistake;
  const out: KnownHostsEntry[] = [];
  const lines = text.replace(/\r\n/g, '\n').split('\n');
  lines.forEach((raw, i) => {
    const line = raw.trim();
    if (!line || line.startsWith('#')) return;
    const f = line.split(/\s+/);
    const marker = f[0].startsWith('@') ? f.shift() : undefined;
    const bad = (why: string) => new UserError(
      `${inputLabel('ssh-known-hosts', where)}: line ${i + 1} is not a known_hosts line (${why})`,
      'each line must be "[@cert-authority] HOSTS KEYTYPE BASE64KEY", exactly as `ssh-keyscan -p PORT HOST` prints it',
    );
    if (marker !== undefined && marker !== '@cert-authority' && marker !== '@revoked') throw bad('unknown marker; only @cert-authority and @revoked exist');
    if (f.length < 3) throw bad('expected hosts, key type and key');
    const [hosts, keyType, key] = f;
    if (!KEY_TYPE.test(keyType)) throw bad('the second field is not an ssh key type such as ssh-ed25519');
    const embedded = blobKeyType(key);
    if (embedded === undefined) throw bad('the key is not base64 ssh key data');
    if (embedded !== keyType) throw bad(`the key data is of type ${embedded}, not ${keyType}`);
    out.push({ marker: marker as KnownHostsEntry['marker'], patterns: hosts.split(','), keyType });
  });
  return out;
}

/** OpenSSH host pattern (with * and ?) or hashed |1|salt|hash entry against one name. */
function patternMatches(pattern: string, name: string): boolean {
  const hashed = /^\|1\|([^|]+)\|([^|]+)$/.exec(pattern);
  if (hashed) {
    const mac = createHmac('sha1', Buffer.from(hashed[1], 'base64')).update(name).digest('base64');
    return mac === hashed[2];
  }
  const re = new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`, 'i');
  return re.test(name);
}

/** Whether a (non-revoked) entry covers the host: a positive pattern matches and no !pattern does. */
export function knownHostsCovers(entries: KnownHostsEntry[], t: Pick<SshTarget, 'host' | 'port'>): boolean {
  const name = knownHostsName(t);
  return entries.some((e) => {
    if (e.marker === '@revoked') return false;
    const negated = e.patterns.filter((p) => p.startsWith('!')).some((p) => patternMatches(p.slice(1), name));
    return !negated && e.patterns.filter((p) => !p.startsWith('!')).some((p) => patternMatches(p, name));
  });
}

/** The refusal when no known_hosts were given, with the way to give them at this front door. */
export function missingKnownHosts(where: Where = 'input'): UserError {
  return new UserError(
    `${inputLabel('ssh-known-hosts', where)} is required: every command that reaches a host checks its key`,
    where === 'flag'
      ? 'run `ssh-keyscan -p PORT HOST >> known_hosts` for every host (and the jump host), check the fingerprints, then pass --ssh-known-hosts-file known_hosts (or PALLET_SSH_KNOWN_HOSTS); ~/.ssh/known_hosts is not read'
      : 'put the output of `ssh-keyscan -p PORT HOST` for every host (and the jump host) in a secret (e.g. DEPLOY_KNOWN_HOSTS) and pass it as ssh-known-hosts',
  );
}

/**
 * Checks the known_hosts text and that it has an entry for every host this deploy connects to
 * (targets and jump host). With insecure on, only a given text's shape is checked.
 * The jump host is checked (and named) on its own: ssh would only report the target failing.
 */
export function checkKnownHosts(text: string | undefined, hosts: SshTarget[], insecure: boolean, where: Where = 'input', jump?: SshTarget): void {
  const name = inputLabel('ssh-known-hosts', where);
  if (!text?.trim()) {
    if (insecure) return;
    throw missingKnownHosts(where);
  }
  const entries = parseKnownHosts(text, where);
  if (insecure) return;
  const missing = [...(jump ? [{ t: jump, what: 'jump host ' }] : []), ...hosts.map((t) => ({ t, what: '' }))]
    .filter(({ t }) => !knownHostsCovers(entries, t));
  if (missing.length) {
    throw new UserError(
      `${name}: ${missing.map(({ t, what }) => `host key for ${what}${t.host}:${t.port} is not in ssh-known-hosts: add the output of \`${keyscanHint(t)}\``).join('; ')}`,
      'refusing to connect to a host whose key is unknown; check the fingerprints out of band before adding them',
    );
  }
}

/**
 * Every check of the ssh inputs that needs no host, shared by all paths that connect (deploy,
 * Swarm deploy, day-2 commands): the private key's shape and, when it is encrypted, that its
 * passphrase is given; known_hosts covering `hosts` and the jump host. Without a key ssh uses
 * the agent and default keys, which day-2 commands allow (`keyRequired` false) and deploys do not.
 * Throws a UserError naming the input.
 */
export function checkSshInputs(m: SshMaterial, hosts: SshTarget[], jump: SshTarget | undefined, keyRequired: boolean): void {
  if (keyRequired || m.privateKey) checkPrivateKey(m.privateKey, m.where, m.passphrase);
  checkKnownHosts(m.knownHosts, hosts, m.insecure, m.where, jump);
}
