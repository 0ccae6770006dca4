// Pure: per-deploy housekeeping commands on a host, as argument vectors: the env-file check of
// preflight, and the temporary DOCKER_CONFIG directory that holds registry credentials.
const sh = (script: string, ...args: string[]) => ['sh', '-c', script, 'sh', ...args];

// The env file is read by the docker client on the host (--env-file), so the deploy user must
// be able to read it; a missing one would only surface when the first container starts.
const ENV_FILE = `f="$1"
if [ ! -e "$f" ]; then echo MISSING; exit 1; fi
if [ ! -f "$f" ]; then echo NOTFILE; exit 1; fi
if [ ! -r "$f" ]; then echo UNREADABLE; exit 1; fi
echo OK`;

export function envFileCheckArgv(path: string): string[] {
  return sh(ENV_FILE, path);
}

/** Pure: what the env-file check printed -> undefined if fine, else why not. */
export function envFileProblem(exitCode: number, stdout: string): string | undefined {
  const word = stdout.trim().split('\n').pop() ?? '';
  if (exitCode === 0 && word === 'OK') return undefined;
  if (word === 'MISSING') return 'does not exist';
  if (word === 'NOTFILE') return 'is not a regular file';
  if (word === 'UNREADABLE') return 'is not readable by the deploy user';
  return `could not be checked (exit ${exitCode})`;
}

// Registry credentials live only in a per-deploy DOCKER_CONFIG directory on the host, never in
// the deploy user's ~/.docker/config.json. The name is chosen here (so the cleanup ledger can
// record it before it exists); mkdir creates it 0700 and fails if anything is already there.
export const DOCKER_CONFIG_PREFIX = '/tmp/pallet-docker-';

export function dockerConfigPath(suffix: string): string {
  return `${DOCKER_CONFIG_PREFIX}${suffix}`;
}

/** Only ever a directory named by dockerConfigPath with a hex suffix (never anything else). */
export function isDockerConfigDir(dir: string): boolean {
  return dir.startsWith(DOCKER_CONFIG_PREFIX) && /^[a-f0-9]{8,32}$/.test(dir.slice(DOCKER_CONFIG_PREFIX.length));
}

function guard(dir: string): string {
  if (!isDockerConfigDir(dir)) throw new Error(`'${dir}' is not a pallet docker config directory`);
  return dir;
}

// Also sweeps such directories older than an hour: a host that froze mid-pull could not have
// its own removed, and registry credentials must not stay on it (a live pull takes minutes).
const MAKE_DOCKER_CONFIG = `umask 077
find /tmp -maxdepth 1 -type d -name 'pallet-docker-*' -mmin +60 -exec rm -rf {} + 2>/dev/null
mkdir -m 700 -- "$1"`;

export function makeDockerConfigArgv(dir: string): string[] {
  return sh(MAKE_DOCKER_CONFIG, guard(dir));
}

export function removeDockerConfigArgv(dir: string): string[] {
  return ['rm', '-rf', '--', guard(dir)];
}
