// Pure: what `pallet setup` read on a host (probe results) -> whether it may go on, and the list
// of changes that make the host ready, in order. Nothing here runs anything; every change carries
// the argv (commands.ts) that makes it, and the words printed for it. A host where everything is
// in place gets no change. Setup only adds: it never removes a key, never edits sshd_config and
// never changes an existing user (shell, groups) except adding it to the docker group.
import {
  addToDockerGroupArgv, authorizeKeyArgv, createUserArgv, enableDockerArgv, installPackagesArgv, makeDirArgv, makeEmptyFileArgv,
} from './commands.js';

/** What setup learns without privileges (commands.ts ACCESS). */
export interface HostAccess {
  uid: number;
  sudo: 'root' | 'ok' | 'password' | 'missing';
  /** /etc/os-release fields (ID, VERSION_ID, PRETTY_NAME, ID_LIKE ...). */
  os: Record<string, string>;
}

/** A path as the probe saw it. */
export interface PathInfo {
  exists: boolean;
  mode?: string;
  owner?: string;
  group?: string;
  /** stat's %F: directory, regular file, regular empty file, symbolic link ... */
  type?: string;
}

/** What setup reads as root (commands.ts PROBE). */
export interface HostProbe {
  systemd: boolean;
  /** Path of dockerd, '' when no engine is installed. */
  dockerd: string;
  /** Path of curl ('' when missing): deploys' health checks run it on the host. */
  curl: string;
  /** Path of crontab ('' when missing): deploy.cron's jobs need the cron daemon. */
  crontab: string;
  dockerActive: string;
  dockerEnabled: string;
  /** The engine's version when it answers, else ''. */
  engine: string;
  dockerGroup: boolean;
  /** The deploy user: undefined when it does not exist. */
  user?: { name: string; uid: number; home: string; shell: string; groups: string[] };
  /** The deploy key is in the user's authorized_keys. */
  keyAuthorized: boolean;
  /** pallet-proxy container: 'true' running, 'false' stopped, '' none. */
  proxy: string;
  paths: Record<string, PathInfo>;
}

/** Strips one pair of matching quotes (os-release values may be quoted). */
function unquote(v: string): string {
  return v.trim().replace(/^(["'])(.*)\1$/, '$2');
}

/** Parses accessArgv's output. */
export function parseAccess(stdout: string): HostAccess {
  const os: Record<string, string> = {};
  let uid = -1;
  let sudo: HostAccess['sudo'] = 'missing';
  for (const line of stdout.split('\n')) {
    const m = /^([a-zA-Z_.]+)=(.*)$/.exec(line);
    if (!m) continue;
    if (m[1] === 'uid') uid = Number(m[2]);
    else if (m[1] === 'sudo' && ['root', 'ok', 'password', 'missing'].includes(m[2].trim())) sudo = m[2].trim() as HostAccess['sudo'];
    else if (m[1].startsWith('os.')) os[m[1].slice(3)] = unquote(m[2]);
  }
  return { uid, sudo, os };
}

/** Parses probeArgv's output. */
export function parseProbe(stdout: string): HostProbe {
  const get = (k: string) => (new RegExp(`^${k}=(.*)$`, 'm').exec(stdout)?.[1] ?? '').trim();
  const paths: Record<string, PathInfo> = {};
  for (const m of stdout.matchAll(/^path=([^\t\n]*)\t(.*)$/gm)) {
    if (m[2] === 'missing') { paths[m[1]] = { exists: false }; continue; }
    const [mode, owner, group, ...type] = m[2].split(' ');
    paths[m[1]] = { exists: true, mode, owner, group, type: type.join(' ') };
  }
  const pw = get('user');
  let user: HostProbe['user'];
  if (pw) {
    const f = pw.split(':');
    user = { name: f[0], uid: Number(f[2]), home: f[5] ?? '', shell: f[6] ?? '', groups: get('groups').split(/\s+/).filter(Boolean) };
  }
  return {
    systemd: get('systemd') === '1', dockerd: get('dockerd'), curl: get('curl'), crontab: get('crontab'), dockerActive: get('docker_active'), dockerEnabled: get('docker_enabled'),
    engine: get('engine'), dockerGroup: get('docker_group') === '1', user, keyAuthorized: get('key') === '1', proxy: get('proxy'), paths,
  };
}

/** The systems setup installs Docker on (the os-release ID, or an ID_LIKE naming one of them). */
export const SUPPORTED_SYSTEMS = ['debian', 'ubuntu'];

/**
 * Why setup cannot work on this host (undefined: it can): an admin user that is neither root
 * nor has passwordless sudo, or a system other than Debian and Ubuntu. Names the host and what was found;
 * `adminFlag` is how the hint names the admin-user input.
 */
export function refusal(label: string, adminUser: string, a: HostAccess, adminFlag = '--admin-user'): { message: string; hint: string } | undefined {
  if (a.sudo !== 'root' && a.sudo !== 'ok') {
    const found = a.sudo === 'missing' ? 'sudo is not installed' : 'sudo asks for a password (sudo -n true failed)';
    return {
      message: `${label}: user ${adminUser} is not root and cannot use sudo without a password (${found}); setup needs root or passwordless sudo to install Docker and create the deploy user`,
      hint: `log in as root (${adminFlag} root), or give ${adminUser} passwordless sudo (a line '${adminUser} ALL=(ALL) NOPASSWD:ALL' in /etc/sudoers.d/), or prepare the host by hand (docs/hosts.md)`,
    };
  }
  const id = (a.os.ID ?? '').toLowerCase();
  const like = (a.os.ID_LIKE ?? '').toLowerCase().split(/\s+/);
  if (!SUPPORTED_SYSTEMS.includes(id) && !like.some((l) => SUPPORTED_SYSTEMS.includes(l))) {
    const found = a.os.PRETTY_NAME || (id ? `ID=${id}` : 'no /etc/os-release');
    return {
      message: `${label}: setup supports Debian and Ubuntu only, this host runs ${found}`,
      hint: 'prepare this host by hand (docs/hosts.md lists every step: Docker Engine, the deploy user and its key, the directories)',
    };
  }
  return undefined;
}

/** One change setup makes on a host, in order. */
export interface SetupChange {
  /** What it does, as printed (`install Docker Engine (docker.io)`). */
  what: string;
  /** Run as root (commands.ts asRoot). */
  argv: string[];
}

/** What the host should have, from pallet.yml and the deploy key. */
export interface SetupWanted {
  /** deploy.ssh.user (or the host's own user@). */
  user: string;
  /** The deploy key's public half, one authorized_keys line. */
  publicKey: string;
  /** The directories pallet writes to, with mode (the deploy user owns them). */
  dirs: { path: string; mode: string }[];
  /** deploy.env_file, when the config has one. */
  envFile?: string;
  /** deploy.cron has jobs on this host: the cron daemon is needed. */
  cron?: boolean;
}

/** The base64 part of an authorized_keys line (what identifies the key). */
export function keyBlob(publicKey: string): string {
  const f = publicKey.trim().split(/\s+/);
  const i = f.findIndex((x) => /^(ssh-|ecdsa-|sk-)/.test(x));
  if (i < 0 || !f[i + 1]) throw new Error('not an ssh public key');
  return f[i + 1];
}

/** Parent directory of an absolute path ('/' for a top-level one). */
export function parentDir(p: string): string {
  const i = p.replace(/\/+$/, '').lastIndexOf('/');
  return i <= 0 ? '/' : p.slice(0, i);
}

/** The paths the probe should look at for `w`. */
export function probePaths(w: SetupWanted): string[] {
  return [...w.dirs.map((d) => d.path), ...(w.envFile ? [parentDir(w.envFile), w.envFile] : [])];
}

/** The plan of one host: the changes in order, and warnings about what setup found but leaves alone. */
export interface HostSetupPlan {
  changes: SetupChange[];
  warnings: string[];
}

const NO_LOGIN_SHELL = /(nologin|\/false)$/;

/**
 * Pure: the changes that make the host ready, from what the probe found. Docker first (install
 * from docker.io where no engine is installed, then start and enable it), then the deploy user,
 * its docker group and key, then the directories and the env file. Warnings name what is in the
 * way and stays as it is (an existing user's shell, a directory owned by someone else).
 */
export function planSetup(label: string, p: HostProbe, w: SetupWanted): HostSetupPlan {
  const changes: SetupChange[] = [];
  const warnings: string[] = [];
  // Docker Engine (docker.io) where none is installed (an engine from Docker's own packages stays),
  // curl for the deploy's health checks, cron for deploy.cron.
  const packages = [...(p.dockerd ? [] : ['docker.io']), ...(p.curl ? [] : ['curl']), ...(w.cron && !p.crontab ? ['cron'] : [])];
  if (packages.length) {
    changes.push({ what: `install ${packages.join(', ')} from the distribution's packages (apt-get install ${packages.join(' ')})`, argv: installPackagesArgv(packages) });
  }
  if (!p.dockerd) {
    changes.push({ what: 'start and enable the Docker engine (systemctl enable --now docker)', argv: enableDockerArgv() });
  } else if (p.systemd && (p.dockerActive !== 'active' || p.dockerEnabled !== 'enabled')) {
    const now = [p.dockerActive !== 'active' ? 'start' : '', p.dockerEnabled !== 'enabled' ? 'enable' : ''].filter(Boolean).join(' and ');
    changes.push({ what: `${now} the Docker engine (systemctl enable --now docker; it was ${p.dockerActive || 'inactive'}, ${p.dockerEnabled || 'not enabled'})`, argv: enableDockerArgv() });
  }
  const u = p.user;
  const root = u?.uid === 0;
  if (!u) {
    changes.push({ what: `create the deploy user ${w.user} (home /home/${w.user}, shell /bin/bash)`, argv: createUserArgv(w.user) });
  } else if (NO_LOGIN_SHELL.test(u.shell)) {
    warnings.push(`${label}: the deploy user ${w.user} has the shell ${u.shell}, so pallet cannot run commands as it; setup leaves existing users as they are: chsh -s /bin/bash ${w.user}`);
  }
  if (!root && !u?.groups.includes('docker')) {
    changes.push({ what: `add ${w.user} to the docker group${p.dockerGroup || !p.dockerd ? '' : ' (creating the group)'}`, argv: addToDockerGroupArgv(w.user) });
  }
  if (!u || !p.keyAuthorized) {
    changes.push({ what: `authorize the deploy key for ${w.user} (${keyLabel(w.publicKey)} added to ~${w.user}/.ssh/authorized_keys)`, argv: authorizeKeyArgv(w.user, w.publicKey, keyBlob(w.publicKey)) });
  }
  for (const d of w.dirs) {
    const have = p.paths[d.path];
    if (!have?.exists) changes.push({ what: `create ${d.path} (mode ${d.mode}, owner ${w.user})`, argv: makeDirArgv(d.path, d.mode, w.user, w.user) });
    else if (have.owner !== w.user && !root) warnings.push(`${label}: ${d.path} is owned by ${have.owner}, not ${w.user}: deploys cannot write there; setup leaves it as it is: chown -R ${w.user}: ${d.path}`);
  }
  if (w.envFile) {
    const dir = parentDir(w.envFile);
    const haveDir = p.paths[dir];
    if (!haveDir?.exists) changes.push({ what: `create ${dir} for the env file (mode 0750, owner root, group of ${w.user})`, argv: makeDirArgv(dir, '0750', 'root', w.user) });
    const have = p.paths[w.envFile];
    if (!have?.exists) {
      changes.push({ what: `create the env file ${w.envFile} empty (mode 0600, owner ${w.user}; put the app's settings there, or use deploy.env)`, argv: makeEmptyFileArgv(w.envFile, '0600', w.user) });
    } else if (!root && have.owner !== w.user && !(have.group === w.user && /^[0-7][4-7]/.test(have.mode ?? ''))) {
      warnings.push(`${label}: the env file ${w.envFile} (mode ${have.mode}, ${have.owner}:${have.group}) may not be readable by ${w.user}; setup leaves it as it is: chgrp ${w.user} ${w.envFile} && chmod 0640 ${w.envFile}`);
    }
  }
  return { changes, warnings };
}

/** `ssh-ed25519 ...abcd12 (comment)`: enough of a public key to recognise it in a log. */
export function keyLabel(publicKey: string): string {
  const f = publicKey.trim().split(/\s+/);
  const blob = keyBlob(publicKey);
  const type = f.find((x) => /^(ssh-|ecdsa-|sk-)/.test(x)) ?? '';
  const comment = f.slice(f.indexOf(blob) + 1).join(' ');
  return `${type} ...${blob.slice(-8)}${comment ? ` ${comment}` : ''}`;
}
