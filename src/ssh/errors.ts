// Turns what `ssh` printed into an error a person can act on.
import { UserError } from '../errors.js';
import { keyscanHint, knownHostsName, type SshTarget } from './host.js';

export type SshFailureKind = 'host-key-unknown' | 'host-key-changed' | 'auth' | 'unreachable' | 'other';

/** Pure: what kind of failure ssh's stderr describes. */
export function classifySshFailure(stderr: string): SshFailureKind {
  if (/REMOTE HOST IDENTIFICATION HAS CHANGED|Host key for .* has changed/i.test(stderr)) return 'host-key-changed';
  if (/No \S+ host key is known for|Host key verification failed/i.test(stderr)) return 'host-key-unknown';
  if (/Permission denied \(/i.test(stderr)) return 'auth';
  if (/Connection refused|Connection timed out|timed out|No route to host|Could not resolve hostname|Connection closed by|Connection reset|Network is unreachable|kex_exchange_identification|Broken pipe|Timeout, server .* not responding|control socket .* does not exist|Control socket connect/i.test(stderr)) return 'unreachable';
  return 'other';
}

export function sshConnectError(t: SshTarget, stderr: string): UserError {
  const name = `${t.host}:${t.port}`;
  const detail = lastLines(stderr);
  switch (classifySshFailure(stderr)) {
    case 'host-key-changed':
      return new UserError(
        `host key for ${name} has CHANGED since it was added to ssh-known-hosts: possible man-in-the-middle attack; refusing to connect`,
        `if the host was really reinstalled, replace its ${knownHostsName(t)} line with the output of \`${keyscanHint(t)}\` (check the fingerprint out of band)`,
      );
    case 'host-key-unknown':
      return new UserError(
        `host key for ${name} is not in ssh-known-hosts: add the output of \`${keyscanHint(t)}\``,
        'pass the known_hosts lines of every host in the ssh-known-hosts input (a repository or environment secret/variable)',
      );
    case 'auth':
      return new UserError(`ssh to ${t.user}@${name} was refused: permission denied (${detail})`, 'check ssh-private-key and deploy.ssh.user, and that the public key is in the user\'s authorized_keys on the host');
    case 'unreachable':
      return new UserError(`cannot reach ${name} over ssh: ${detail}`, 'check the host is up, the address and port in pallet.yml, and firewalls between the runner and the host');
    default:
      return new UserError(`ssh to ${name} failed: ${detail || 'no output'}`);
  }
}

export function lastLines(text: string, n = 3): string {
  return text.trim().split(/\r?\n/).filter(Boolean).slice(-n).join(' | ');
}
