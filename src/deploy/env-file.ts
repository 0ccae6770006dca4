// Pure: deploy.env -> the app's env file on every host. Clear values come from pallet.yml,
// secret values from the environment of the deploy step (read once, masked at once, checked
// before any host is contacted). The file is rendered in docker's --env-file format and written
// per release, `/var/lib/pallet/APP/env/TAG.env` (0600), by a script that reads it on stdin, so
// no value is ever on a command line. Containers get it as a first --env-file; the host's own
// env file (deploy.env_file), where the host has one, comes second and so wins for a name both
// define (docker applies later --env-file lines over earlier ones).
//
// One file per release tag: a revert or a rollback to an earlier tag starts it with the env it
// ran with, even after deploy.env changed. Files go with their images when old tags are pruned.
import { remoteScript } from '../host/script.js';
import { UserError } from '../errors.js';
import type { AppEnvConfig } from '../config/types.js';
import { TAG_PATTERN } from '../config/references.js';
import { stateDir } from './commands.js';

/** One variable of the app's environment. `secret`: the value came from the runner and is masked. */
export interface AppEnvVar {
  name: string;
  value: string;
  secret: boolean;
}

/** Characters docker's --env-file cannot carry in a value: it reads one NAME=value per line. */
const UNCARRIABLE = /[\n\r\0]/;

/**
 * Environment variable holding a JSON object of secrets, `{"NAME": "value", ...}`: how the
 * reusable workflow hands the caller's secrets to the step (`app-secrets: ${{ toJSON(secrets) }}`),
 * since it cannot name them in its own `env:`. A variable set directly in the step wins.
 */
export const APP_SECRETS_JSON = 'PALLET_APP_SECRETS';

/** Pure: the JSON object of APP_SECRETS_JSON (string values only); throws UserError naming it when unreadable. */
export function appSecretsFromJson(text: string | undefined): Map<string, string> {
  const out = new Map<string, string>();
  if (!text || !text.trim()) return out;
  let data: unknown;
  try { data = JSON.parse(text); } catch { data = undefined; }
  if (!data || typeof data !== 'object' || Array.isArray(data)) {
    throw new UserError(`${APP_SECRETS_JSON} is not a JSON object of secrets; nothing was contacted`,
      'in the calling workflow pass `app-secrets: ${{ toJSON(secrets) }}` to the reusable workflow, or map each secret into the step\'s env:');
  }
  for (const [k, v] of Object.entries(data as Record<string, unknown>)) if (typeof v === 'string') out.set(k, v);
  return out;
}

/** The YAML a user adds to the deploy step to map GitHub secrets into its environment. */
export function stepEnvExample(names: string[]): string {
  return ['env:', ...names.map((n) => `  ${n}: \${{ secrets.${n} }}`)].join('\n');
}

/**
 * Reads deploy.env: clear values as given, each secret from `env[NAME]` (else from the JSON object
 * in `env.PALLET_APP_SECRETS`, see APP_SECRETS_JSON), passed to `mask` the
 * moment it is read. Throws UserError (naming the variables, never a value) when a secret is
 * unset or empty (GitHub gives an unknown secret as ''), or a value holds a line break or NUL.
 * Returns clear variables first, then secrets, in config order.
 */
export function readAppEnv(spec: AppEnvConfig, env: NodeJS.ProcessEnv, mask: (value: string) => void): AppEnvVar[] {
  const vars: AppEnvVar[] = Object.entries(spec.clear).map(([name, value]) => ({ name, value, secret: false }));
  const missing: string[] = [];
  const passed = spec.secret.length ? appSecretsFromJson(env[APP_SECRETS_JSON]) : new Map<string, string>();
  // GitHub secret names are case-insensitive (stored upper case); variable names are not.
  const fromJson = (name: string) => passed.get(name) ?? [...passed].find(([k]) => k.toUpperCase() === name.toUpperCase())?.[1];
  for (const name of spec.secret) {
    const value = env[name] || fromJson(name);
    if (value) mask(value);
    if (!value) missing.push(name);
    else vars.push({ name, value, secret: true });
  }
  if (missing.length) {
    throw new UserError(
      `deploy.env.secret: ${missing.join(', ')} ${missing.length === 1 ? 'is' : 'are'} not set in the environment of this step (a GitHub secret that does not exist reads as empty); nothing was contacted`,
      `map ${missing.length === 1 ? 'it' : 'each'} from a GitHub secret in the env: of the step that runs the deploy:\n${stepEnvExample(missing)}\n(with the reusable workflow: pass app-secrets: \${{ toJSON(secrets) }} among its secrets; on the command line: export ${missing.join(', ')} before pallet deploy)`,
    );
  }
  const bad = vars.filter((v) => UNCARRIABLE.test(v.value));
  if (bad.length) {
    const where = (v: AppEnvVar) => `deploy.env.${v.secret ? 'secret' : 'clear'} ${v.name}`;
    throw new UserError(
      `${bad.map(where).join(', ')}: the value holds a line break or NUL, which docker's --env-file cannot carry (one NAME=value per line); nothing was contacted`,
      'store the value on one line (for a key or certificate: base64-encode it and decode it in the app)',
    );
  }
  return vars;
}

/** The file's text in docker's --env-file format: a comment, then NAME=value lines, no quoting. */
export function renderEnvFile(vars: AppEnvVar[]): string {
  const lines = ['# Written by pallet deploy from deploy.env; rewritten on every deploy. Do not edit.'];
  for (const v of vars) {
    if (UNCARRIABLE.test(v.value)) throw new Error(`${v.name}: value not carriable in an env file`);
    lines.push(`${v.name}=${v.value}`);
  }
  return lines.join('\n') + '\n';
}

/** Directory of the per-release env files on a host. */
export function releaseEnvDir(app: string): string {
  return `${stateDir(app)}/env`;
}

function checkedTag(tag: string): string {
  // Tags name files here: only a valid image tag (no '/', never starting with '.') is accepted.
  if (!TAG_PATTERN.test(tag)) throw new Error(`'${tag}' is not an image tag`);
  return tag;
}

/** The env file of release `tag` on a host: /var/lib/pallet/APP/env/TAG.env. */
export function releaseEnvPath(app: string, tag: string): string {
  return `${releaseEnvDir(app)}/${checkedTag(tag)}.env`;
}

/**
 * What the env step does with the target's file on a host:
 *   write   deploy with deploy.env: stdin becomes the file (replacing any)
 *   fill    rollback with deploy.env: keep the file the release ran with; stdin only where there is none
 *   remove  deploy without deploy.env: no generated env for this release
 *   keep    rollback without deploy.env: use the file if the release had one
 */
export type ReleaseEnvAction = 'write' | 'fill' | 'remove' | 'keep';

/** Pure: the action for a deploy mode, with or without deploy.env. */
export function releaseEnvAction(mode: 'deploy' | 'rollback', configured: boolean): ReleaseEnvAction {
  if (mode === 'deploy') return configured ? 'write' : 'remove';
  return configured ? 'fill' : 'keep';
}

// Atomic: written to a temporary file in the same directory (umask 077: 0600 from the start),
// then renamed over the old one, so a container never reads half a file. Prints WROTE when it
// wrote, then HAS TAG for each of the target and the previous tag whose file exists.
const RELEASE_ENV = `d="$1"; t="$2"; prev="$3"; act="$4"; f="$d/$t.env"
umask 077
mkdir -p "$d" || exit 3
case "$act" in
  remove) rm -f "$f" ;;
  fill) if [ -f "$f" ]; then cat >/dev/null; act=keep; fi ;;
esac
if [ "$act" = write ] || [ "$act" = fill ]; then
  tmp="$d/.$t.env.$$"
  if cat > "$tmp" && chmod 600 "$tmp" && mv -f "$tmp" "$f"; then echo WROTE; else rm -f "$tmp"; exit 4; fi
fi
[ -f "$f" ] && echo "HAS $t"
[ -n "$prev" ] && [ -f "$d/$prev.env" ] && echo "HAS $prev"
exit 0`;


/**
 * The env step on one host, as argv; the file's content (for write and fill) goes on stdin.
 * `previous` ('' = none) is the tag a revert would go back to: its file is reported too.
 */
export function releaseEnvArgv(app: string, tag: string, previous: string, action: ReleaseEnvAction): string[] {
  return remoteScript('release-env', RELEASE_ENV, releaseEnvDir(app), checkedTag(tag), previous ? checkedTag(previous) : '', action);
}

/** Pure: the env step's output -> whether it wrote, and the tags that have a file on the host. */
export function parseReleaseEnv(stdout: string): { wrote: boolean; tags: string[] } {
  return { wrote: /^WROTE$/m.test(stdout), tags: [...stdout.matchAll(/^HAS (\S+)$/gm)].map((m) => m[1]) };
}

/** Prints each of `paths` that is a regular file on the host, one per line (argv; paths are arguments). */
export function existingFilesArgv(paths: string[]): string[] {
  return remoteScript('existing-files', 'for f in "$@"; do [ -f "$f" ] && printf \'%s\\n\' "$f"; done; exit 0', ...paths);
}

/**
 * Pure: the env files a one-off container of the running release gets (pallet exec), given which
 * exist on the host: the release's deploy.env file if there, then the host's env file: if there, or
 * always without deploy.env (so a missing one is reported by docker as before).
 */
export function execEnvFiles(app: string, tag: string, envFile: string | undefined, withAppEnv: boolean, existing: string[]): { releaseEnvFile?: string; envFile?: string } {
  const out: { releaseEnvFile?: string; envFile?: string } = {};
  const release = TAG_PATTERN.test(tag) ? releaseEnvPath(app, tag) : undefined;
  if (release && existing.includes(release)) out.releaseEnvFile = release;
  if (envFile && (!withAppEnv || existing.includes(envFile))) out.envFile = envFile;
  return out;
}

/** Removes the env files of pruned release tags (argv; the tags are positional arguments). */
export function removeReleaseEnvArgv(app: string, tags: string[]): string[] {
  return remoteScript('remove-release-env', 'd="$1"; shift; for t in "$@"; do rm -f "$d/$t.env"; done', releaseEnvDir(app), ...tags.map(checkedTag));
}
