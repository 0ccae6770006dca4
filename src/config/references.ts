// Pure parsers for the strings pallet.yml uses to point at things elsewhere: image references
// and SSH host addresses. They return a reason instead of throwing so callers can attach it to
// a key path; deploy and build code may reuse them to split a validated value.

/** Where a parsed image reference points. `repository` includes the registry host, if any. */
export interface ImageRef {
  registry?: string;
  repository: string;
  tag?: string;
  digest?: string;
}

const DOMAIN_COMPONENT = '(?:[A-Za-z0-9]|[A-Za-z0-9][A-Za-z0-9-]*[A-Za-z0-9])';
const DOMAIN = new RegExp(`^${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*(?::[0-9]+)?$`);
const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const DIGEST = /^[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}$/;

/** Docker's rule: the first component is a registry if it has a dot or a port, or is localhost. */
function looksLikeRegistry(first: string): boolean {
  return first.includes('.') || first.includes(':') || first === 'localhost';
}

/** Parses `[registry[:port]/]path[:tag][@digest]`; returns a reason string when it is not one. */
export function parseImageRef(ref: string): ImageRef | string {
  if (ref === '') return 'must not be empty';
  if (/\s/.test(ref)) return 'must not contain spaces';
  if (ref.length > 255) return 'must be at most 255 characters';
  let rest = ref;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST.test(digest)) return `has an invalid digest '@${digest}'`;
  }
  let tag: string | undefined;
  const colon = rest.lastIndexOf(':');
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) return `has an invalid tag ':${tag}'`;
  }
  const parts = rest.split('/');
  let registry: string | undefined;
  if (parts.length > 1 && looksLikeRegistry(parts[0])) {
    registry = parts.shift()!;
    if (!DOMAIN.test(registry)) return `has an invalid registry host '${registry}'`;
  }
  for (const p of parts) {
    if (p !== p.toLowerCase()) return 'must be lowercase';
    if (!PATH_COMPONENT.test(p)) return `has an invalid path component '${p}'`;
  }
  return { registry, repository: rest, tag, digest };
}

/** A repository for `image`: a reference without tag or digest (the tag is chosen per run). */
export function imageRepositoryProblem(ref: string): string | undefined {
  const parsed = parseImageRef(ref);
  if (typeof parsed === 'string') {
    if (parsed.startsWith('has an invalid path') || parsed.startsWith('has an invalid registry')) {
      return `'${ref}' is not a valid image repository; expected [registry[:port]/]name, e.g. registry.example.com/team/app`;
    }
    return parsed;
  }
  if (parsed.tag !== undefined) return `must not include a tag (':${parsed.tag}'); the tag comes from the 'tag' input`;
  if (parsed.digest !== undefined) return 'must not include a digest; the tag comes from the \'tag\' input';
  return undefined;
}

/** Any pullable image reference (tag and digest allowed), e.g. for builders and services. */
export function imageReferenceProblem(ref: string): string | undefined {
  const parsed = parseImageRef(ref);
  if (typeof parsed === 'string') {
    if (parsed.startsWith('has an invalid path') || parsed.startsWith('has an invalid registry')) {
      return `'${ref}' is not a valid image reference; expected [registry[:port]/]name[:tag], e.g. python:3.12-bookworm`;
    }
    return parsed;
  }
  return undefined;
}

export const TAG_PATTERN = TAG;

/** An SSH target as written in pallet.yml: `[user@]host[:port]`. */
export interface HostAddress {
  user?: string;
  host: string;
  port?: number;
}

// Anything a shell or ssh could read as more than a host name. Hosts end up in argv of `ssh`,
// never in a shell string, but refusing them here keeps a typo from becoming an option or a command.
const SHELL_CHARS = /[;&|$`'"\\<>(){}[\]*?!#~^%,=+]/;
const HOST = /^(?:([a-z_][a-z0-9_.-]*)@)?(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?)(?::([0-9]+))?$/;

/** Parses `[user@]host[:port]`; returns a reason string when it is not one. */
export function parseHostAddress(s: string): HostAddress | string {
  if (s === '') return 'must not be empty';
  if (/\s/.test(s)) return 'must not contain spaces';
  if (s.startsWith('-')) return "must not start with '-'";
  const withoutIpv6 = s.replace(/^(?:[^@]*@)?\[[0-9A-Fa-f:.]+\]/, 'h');
  const bad = SHELL_CHARS.exec(withoutIpv6);
  if (bad) return `must not contain the shell character '${bad[0]}'`;
  const m = HOST.exec(s);
  if (!m) return 'is malformed';
  const port = m[3] === undefined ? undefined : Number(m[3]);
  if (port !== undefined && (port < 1 || port > 65535)) return `port ${m[3]} is out of range 1-65535`;
  return { user: m[1], host: m[2], port };
}

/** The identity of a host for duplicate checks: user and port filled with the deploy defaults. */
export function hostKey(h: HostAddress, defaults: { user: string; port: number }): string {
  return `${h.user ?? defaults.user}@${h.host.toLowerCase()}:${h.port ?? defaults.port}`;
}
