// Host strings as users write them in pallet.yml: `[user@]host[:port]`, IPv6 as `[::1]:22`.
import { UserError } from '../errors.js';

export interface SshTarget {
  user: string;
  host: string;
  port: number;
  /** What the user wrote (for messages). */
  label: string;
}

const HOSTNAME = /^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$/;
const USER = /^[A-Za-z_][A-Za-z0-9_.-]*$/;

export function parseHost(spec: string, defaults: { user: string; port: number }, field = 'deploy.roles.*.hosts'): SshTarget {
  const s = spec.trim();
  const bad = (why: string) =>
    new UserError(`${field}: '${spec}' is not a valid host (${why})`, 'write hosts as [user@]host[:port], e.g. deploy@app1.example.com:2222');
  let rest = s;
  let user = defaults.user;
  const at = rest.lastIndexOf('@');
  if (at >= 0) {
    user = rest.slice(0, at);
    rest = rest.slice(at + 1);
    if (!USER.test(user)) throw bad(`bad user name '${user}'`);
  }
  let host = rest;
  let port = defaults.port;
  const v6 = /^\[([0-9A-Fa-f:.]+)\](?::(\d+))?$/.exec(rest);
  if (v6) {
    host = v6[1];
    if (v6[2]) port = Number(v6[2]);
  } else {
    const colon = rest.lastIndexOf(':');
    if (colon >= 0) {
      host = rest.slice(0, colon);
      const p = rest.slice(colon + 1);
      if (!/^\d+$/.test(p)) throw bad(`bad port '${p}'`);
      port = Number(p);
    }
    if (!HOSTNAME.test(host)) throw bad(`bad host name '${host}'`);
  }
  if (!(port >= 1 && port <= 65535)) throw bad(`port ${port} out of range`);
  return { user, host, port, label: s };
}

/** `[host]:port` for non-default ports, as known_hosts and ssh-keyscan spell it. */
export function knownHostsName(t: Pick<SshTarget, 'host' | 'port'>): string {
  return t.port === 22 ? t.host : `[${t.host}]:${t.port}`;
}

/** The ssh-keyscan invocation that prints the host's keys (for hints). */
export function keyscanHint(t: Pick<SshTarget, 'host' | 'port'>): string {
  return t.port === 22 ? `ssh-keyscan ${t.host}` : `ssh-keyscan -p ${t.port} ${t.host}`;
}
