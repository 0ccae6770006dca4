// What .ci/run must install, decided from /etc/os-release and the commands already on PATH.
// Plain Node.js, no dependencies: it runs before `npm ci`. Imported by the unit tests.
//
//   node .ci/packages.mjs /etc/os-release   -> prints "distro packages..." (packages may be empty)
//   exit 2 with a message when the system is neither Debian nor Ubuntu.
import { existsSync, readFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * What the tests need on the machine: a command (or file) and the package that brings it, per
 * distribution. `null` = not needed there. Package names differ little between the two; where
 * they do, both are named.
 */
export const NEEDS = [
  { command: 'dockerd', debian: 'docker.io', ubuntu: 'docker.io' },
  { command: 'debootstrap', debian: 'debootstrap', ubuntu: 'debootstrap' },
  { command: 'docker-registry', debian: 'docker-registry', ubuntu: 'docker-registry' },
  { command: 'ssh', debian: 'openssh-client', ubuntu: 'openssh-client' },
  { command: 'ssh-keyscan', debian: 'openssh-client', ubuntu: 'openssh-client' },
  { command: 'nginx', debian: 'nginx', ubuntu: 'nginx' },
  { command: 'htpasswd', debian: 'apache2-utils', ubuntu: 'apache2-utils' },
  { command: 'curl', debian: 'curl', ubuntu: 'curl' },
  { command: 'tar', debian: 'tar', ubuntu: 'tar' },
  { command: 'tmux', debian: 'tmux', ubuntu: 'tmux' },
  // nginx's stream module: the lab load balancer's TLS passthrough to the hosts' port 443.
  { file: '/usr/lib/nginx/modules/ngx_stream_module.so', debian: 'libnginx-mod-stream', ubuntu: 'libnginx-mod-stream' },
  // debootstrap of Debian's bookworm on a non-Debian machine checks Debian's archive keys.
  { file: '/usr/share/keyrings/debian-archive-keyring.gpg', debian: 'debian-archive-keyring', ubuntu: 'debian-archive-keyring' },
];

/**
 * The distribution family from os-release(5) text: 'debian', 'ubuntu', or undefined for anything
 * else (ID first, then ID_LIKE, so Debian derivatives that say ID_LIKE=ubuntu count as Ubuntu).
 * @param {string | undefined} text
 * @returns {'debian' | 'ubuntu' | undefined}
 */
export function distroFamily(text) {
  const field = (k) => (text ?? '').match(new RegExp(`^${k}=["']?([^"'\\n]*)`, 'm'))?.[1]?.toLowerCase() ?? '';
  const ids = [field('ID'), ...field('ID_LIKE').split(/\s+/)];
  for (const id of ids) if (id === 'debian' || id === 'ubuntu') return id;
  return undefined;
}

/**
 * Packages to install for what is missing, each once, sorted.
 * @param {'debian' | 'ubuntu'} family
 * @param {(need: {command?: string, file?: string}) => boolean} present whether a need is met already
 * @returns {string[]}
 */
export function missingPackages(family, present) {
  const pkgs = new Set();
  for (const need of NEEDS) {
    const pkg = need[family];
    if (pkg && !present(need)) pkgs.add(pkg);
  }
  return [...pkgs].sort();
}

/** A command on PATH (or in the sbin dirs a non-login root shell may lack), or an existing file. */
function presentOnMachine(need) {
  if (need.file) return existsSync(need.file);
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/sbin'];
  return dirs.some((d) => d && existsSync(join(d, need.command)));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const file = process.argv[2] ?? '/etc/os-release';
  const text = existsSync(file) ? readFileSync(file, 'utf8') : undefined;
  const family = distroFamily(text);
  if (!family) {
    const name = text?.match(/^PRETTY_NAME="?([^"\n]*)/m)?.[1] ?? 'this system';
    process.stderr.write(`.ci/run supports Debian and Ubuntu (apt-get, Debian or Ubuntu package names); ${name} is neither.\n` +
      `Install by hand: ${NEEDS.map((n) => n.debian).filter((v, i, a) => a.indexOf(v) === i).join(', ')}, then run npm ci && npm test.\n`);
    process.exit(2);
  }
  process.stdout.write(`${family} ${missingPackages(family, presentOnMachine).join(' ')}\n`);
}
