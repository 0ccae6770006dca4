// Pure: per-deploy housekeeping commands on a host, as argument vectors: the env-file check of
// preflight, and the temporary DOCKER_CONFIG directory that holds registry credentials.
import { remoteScript } from '../host/script.js';


// docker's --env-file reader (docker/cli opts/envfile.go) takes each line literally: no quoting,
// no `export`, and it refuses a name with a space in it (so `export NAME=x`) or an empty name,
// printing the whole line (value included) in its error. This awk program reports such lines by
// number and kind, with the variable name only where it is a plain name; never a value.
//   LINT <line> <crlf|quoted|export|space|noname> <name or ->
const ENV_FILE_LINT = `function plain(s) { return s ~ /^[A-Za-z_][A-Za-z0-9_.]*$/ ? s : "-" }
{
  l = $0
  if (l ~ /\\r$/) { print "LINT", NR, "crlf", "-"; sub(/\\r$/, "", l) }
  sub(/^[ \\t]+/, "", l)
  if (l == "" || substr(l, 1, 1) == "#") next
  i = index(l, "=")
  name = i > 0 ? substr(l, 1, i - 1) : l
  val = i > 0 ? substr(l, i + 1) : ""
  if (name == "") { print "LINT", NR, "noname", "-"; next }
  if (name ~ /^export[ \\t]/) { n = name; sub(/^export[ \\t]+/, "", n); print "LINT", NR, "export", plain(n); next }
  if (name ~ /[ \\t]/) { print "LINT", NR, "space", "-"; next }
  q = substr(val, 1, 1)
  if (length(val) >= 2 && (q == "\\"" || q == "'") && substr(val, length(val), 1) == q) print "LINT", NR, "quoted", plain(name)
}`;

// The env file is read by the docker client on the host (--env-file), so the deploy user must
// be able to read it; a missing one would only surface when the first container starts. Then
// its lines are checked (LINT lines before OK).
const ENV_FILE = `f="$1"
if [ ! -e "$f" ]; then echo MISSING; exit 1; fi
if [ ! -f "$f" ]; then echo NOTFILE; exit 1; fi
if [ ! -r "$f" ]; then echo UNREADABLE; exit 1; fi
awk "$2" "$f" || exit 1
echo OK`;

export function envFileCheckArgv(path: string): string[] {
  return remoteScript('env-file-check', ENV_FILE, path, ENV_FILE_LINT);
}

export type EnvLineKind = 'crlf' | 'quoted' | 'export' | 'space' | 'noname';
export interface EnvLineFinding { line: number; kind: EnvLineKind; name?: string }

/** Pure: the LINT lines of the env-file check -> findings (line numbers from 1). */
export function parseEnvFileLint(stdout: string): EnvLineFinding[] {
  return [...stdout.matchAll(/^LINT (\d+) (crlf|quoted|export|space|noname) (\S+)$/gm)].map((m) => ({
    line: Number(m[1]), kind: m[2] as EnvLineKind, ...(m[3] !== '-' ? { name: m[3] } : {}),
  }));
}

function lineList(lines: number[]): string {
  const shown = lines.slice(0, 5).join(', ');
  return lines.length > 5 ? `${shown} and ${lines.length - 5} more` : shown;
}

/**
 * Pure: findings -> messages that name the file and line (and the variable where it is a plain
 * name), never a value. Errors are lines docker refuses; warnings are lines docker takes
 * literally where people expect shell/.env rules (quotes kept; CRLF).
 */
export function envFileReport(file: string, findings: EnvLineFinding[]): { errors: string[]; warnings: string[] } {
  const errors: string[] = [];
  const warnings: string[] = [];
  for (const f of findings) {
    const at = `${file} line ${f.line}`;
    const name = f.name ?? 'NAME';
    if (f.kind === 'export') errors.push(`${at}: 'export ${name}=...' is refused by docker's --env-file (no export, no shell syntax); write ${name}=value without export`);
    else if (f.kind === 'space') errors.push(`${at}: the variable name has a space in it, which docker's --env-file refuses; write NAME=value with no space before the =`);
    else if (f.kind === 'noname') errors.push(`${at}: there is no variable name before the =, which docker's --env-file refuses; write NAME=value`);
    else if (f.kind === 'quoted') warnings.push(`${at}: the value of ${name} is in quotes; docker's --env-file keeps them, so the app gets the quotes as part of the value; remove them (${name}=value needs no quoting, even with spaces)`);
  }
  const crlf = findings.filter((f) => f.kind === 'crlf').map((f) => f.line);
  if (crlf.length) {
    warnings.push(`${file} ${crlf.length === 1 ? 'line' : 'lines'} ${lineList(crlf)} end in CRLF (Windows line endings): docker drops the \\r, but anything else that reads the file (a shell, systemd, another tool) keeps it at the end of each value; convert the file with \`sed -i 's/\\r$//' ${file}\``);
  }
  return { errors, warnings };
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

/** Pure: what to do about an envFileProblem on a host, for the deploy user `user`. */
export function envFileHint(problem: string, file: string, user: string): string {
  if (problem.includes('readable')) {
    const dir = file.slice(0, file.lastIndexOf('/')) || '/';
    return `the file is there: let user ${user} read it, e.g. sudo chgrp ${user} ${file} && sudo chmod 0640 ${file} (and the directory: sudo chgrp ${user} ${dir} && sudo chmod 0750 ${dir}); docs/hosts.md §3`;
  }
  if (problem.includes('regular file')) return `point deploy.env_file at the env file itself (${file} is something else, e.g. a directory)`;
  return `create it on every host, readable by user ${user}, with the app's production settings (docs/hosts.md §3), or point deploy.env_file at the right path`;
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
  return remoteScript('make-docker-config', MAKE_DOCKER_CONFIG, guard(dir));
}

export function removeDockerConfigArgv(dir: string): string[] {
  return ['rm', '-rf', '--', guard(dir)];
}
