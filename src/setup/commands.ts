// Pure: every command `pallet setup` runs on a host, as argument vectors. Like the deploy's
// commands, each script is a constant run as `sh -c SCRIPT pallet-NAME ARG...`: user names, paths
// and the deploy public key only ever travel as positional arguments. Each script does one small
// thing; what to do (and whether) is decided in TypeScript (plan.ts) from what probe.ts read.
import { remoteScript } from '../host/script.js';

/**
 * Who we are and what the host is, readable without privileges: the uid, whether sudo works
 * without a password (`sudo=root|ok|password|missing`), and /etc/os-release as `os.KEY=value`.
 */
const ACCESS = `printf 'uid=%s\\n' "$(id -u)"
if [ "$(id -u)" = 0 ]; then echo sudo=root
elif ! command -v sudo >/dev/null 2>&1; then echo sudo=missing
elif sudo -n true >/dev/null 2>&1; then echo sudo=ok
else echo sudo=password; fi
[ -r /etc/os-release ] && sed -n 's/^\\([A-Z_]*\\)=/os.\\1=/p' /etc/os-release
exit 0`;

/** The unprivileged first look at a host (see ACCESS). */
export function accessArgv(): string[] {
  return remoteScript('setup-access', ACCESS);
}

/**
 * argv run as root: unchanged for root, else through `sudo -n` (never asks for a password: a
 * sudo that needs one fails at once instead of hanging).
 */
export function asRoot(argv: string[], root: boolean): string[] {
  return root ? argv : ['sudo', '-n', '--', ...argv];
}

// What is there (read only): the engine, the user, the key, the paths. $1 user, $2 key blob
// (the base64 part of the public key), then the paths to look at.
const PROBE = `u="$1"; blob="$2"; shift 2
[ -d /run/systemd/system ] && echo systemd=1
printf 'dockerd=%s\\n' "$(command -v dockerd 2>/dev/null)"
printf 'curl=%s\\n' "$(command -v curl 2>/dev/null)"
printf 'crontab=%s\\n' "$(command -v crontab 2>/dev/null)"
command -v systemctl >/dev/null 2>&1 && {
  printf 'docker_active=%s\\n' "$(systemctl is-active docker 2>/dev/null)"
  printf 'docker_enabled=%s\\n' "$(systemctl is-enabled docker 2>/dev/null)"
}
printf 'engine=%s\\n' "$(docker version --format '{{.Server.Version}}' 2>/dev/null)"
getent group docker >/dev/null 2>&1 && echo docker_group=1
printf 'proxy=%s\\n' "$(docker inspect --format '{{.State.Running}}' pallet-proxy 2>/dev/null)"
if pw=$(getent passwd "$u"); then
  printf 'user=%s\\n' "$pw"
  printf 'groups=%s\\n' "$(id -nG "$u")"
  home=$(printf '%s' "$pw" | cut -d: -f6)
  set -- "$@" "$home/.ssh" "$home/.ssh/authorized_keys"
  [ -f "$home/.ssh/authorized_keys" ] && grep -qF -- "$blob" "$home/.ssh/authorized_keys" && echo key=1
fi
for p in "$@"; do
  if [ -e "$p" ]; then printf 'path=%s\\t%s\\n' "$p" "$(stat -c '%a %U %G %F' "$p")"; else printf 'path=%s\\tmissing\\n' "$p"; fi
done
exit 0`;

/** Reads what setup needs to decide (as root): see PROBE. */
export function probeArgv(user: string, keyBlob: string, paths: string[]): string[] {
  return remoteScript('setup-probe', PROBE, user, keyBlob, ...paths);
}

// The distribution's packages ($@: docker.io, curl, cron); apt never asks (noninteractive), the
// lists are fetched first. A fresh cloud server often runs unattended-upgrades at first boot:
// apt waits for its lock (up to 5 minutes) instead of failing.
const INSTALL_PACKAGES = `export DEBIAN_FRONTEND=noninteractive
apt-get -o DPkg::Lock::Timeout=300 update -q >/dev/null 2>&1 || { echo "apt-get update failed:"; apt-get -o DPkg::Lock::Timeout=300 update -q 2>&1 | tail -n 3; exit 3; }
out=$(apt-get -o DPkg::Lock::Timeout=300 install -y -q --no-install-recommends "$@" 2>&1) || { printf '%s\\n' "$out" | tail -n 5; exit 3; }`;

/** Installs packages from the distribution's archive (docker.io for Docker Engine, curl, cron). */
export function installPackagesArgv(packages: string[]): string[] {
  return remoteScript('install-packages', INSTALL_PACKAGES, ...packages);
}

// Starts and enables the engine, then waits (bounded, 60 s) until it answers.
const ENABLE_DOCKER = `systemctl enable --now docker.service >/dev/null 2>&1 || { systemctl enable --now docker.service 2>&1 | tail -n 3; exit 3; }
i=0; until docker version >/dev/null 2>&1; do i=$((i+1)); [ "$i" -gt 600 ] && { echo "docker does not answer after 60 s"; exit 4; }; sleep 0.1; done`;

/** Starts and enables docker.service and waits until the engine answers. */
export function enableDockerArgv(): string[] {
  return remoteScript('enable-docker', ENABLE_DOCKER);
}

/** Creates the deploy user: a home, /bin/bash, its own group. */
export function createUserArgv(user: string): string[] {
  return remoteScript('create-user', 'useradd --create-home --shell /bin/bash --user-group -- "$1"', user);
}

/** Adds the user to the docker group (creating the group where the engine came without one); nothing else changes. */
export function addToDockerGroupArgv(user: string): string[] {
  return remoteScript('docker-group', 'getent group docker >/dev/null || groupadd --system docker || exit 3\nusermod -aG docker -- "$1"', user);
}

// Appends the key to the user's authorized_keys (the directory 0700 and the file 0600, owned by
// the user, when they are made here); keys already there are never touched.
const AUTHORIZE_KEY = `u="$1"; key="$2"; blob="$3"
home=$(getent passwd "$u" | cut -d: -f6); g=$(id -gn "$u") || exit 3
[ -n "$home" ] && [ -d "$home" ] || { echo "user $u has no home directory"; exit 3; }
[ -d "$home/.ssh" ] || install -d -m 0700 -o "$u" -g "$g" "$home/.ssh" || exit 3
f="$home/.ssh/authorized_keys"
[ -e "$f" ] || install -m 0600 -o "$u" -g "$g" /dev/null "$f" || exit 3
grep -qF -- "$blob" "$f" && exit 0
[ -s "$f" ] && [ -n "$(tail -c 1 "$f")" ] && printf '\\n' >> "$f"
printf '%s\\n' "$key" >> "$f"`;

/** Adds `publicKey` (one authorized_keys line) for `user`, identified by its base64 `blob`. */
export function authorizeKeyArgv(user: string, publicKey: string, blob: string): string[] {
  return remoteScript('authorize-key', AUTHORIZE_KEY, user, publicKey, blob);
}

/**
 * Creates a directory with this mode, owned by `owner` and by the primary group of `groupOf`
 * (only called for a path that is missing).
 */
export function makeDirArgv(path: string, mode: string, owner: string, groupOf: string): string[] {
  return remoteScript('make-dir', 'g=$(id -gn -- "$4") || exit 3\ninstall -d -m "$2" -o "$3" -g "$g" -- "$1"', path, mode, owner, groupOf);
}

/**
 * Creates an empty file with this mode, owned by `owner` and its primary group, never over an
 * existing one (nothing is ever written into it).
 */
export function makeEmptyFileArgv(path: string, mode: string, owner: string): string[] {
  return remoteScript('make-empty-file', '[ -e "$1" ] && exit 0\ng=$(id -gn -- "$3") || exit 3\ninstall -m "$2" -o "$3" -g "$g" /dev/null "$1"', path, mode, owner);
}
