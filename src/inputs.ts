// Every input of the action, read in one place into a typed `Inputs`. The same table drives the
// CLI flags (`--registry-username`), so both front doors accept the same things. Secrets are
// masked the moment they are read and are never accepted as CLI arguments (argv is visible to
// every user of the machine): the CLI reads them from PALLET_* environment variables or files.
import { readFileSync } from 'node:fs';
import { UserError } from './errors.js';
import { reporter } from './util/reporter.js';
import { parseBuildArgs } from './config/overrides.js';

export const COMMANDS = ['build', 'test', 'push', 'ci', 'deploy', 'rollback', 'status', 'exec', 'logs', 'lock-status', 'lock-release', 'proxy-status', 'cron-status', 'maintenance-on', 'maintenance-off', 'db-backups', 'db-backup', 'db-restore', 'db-download', 'remove', 'promote', 'setup', 'review-deploy', 'review-destroy', 'review-list'] as const;
export type Command = (typeof COMMANDS)[number];

export interface InputSpec {
  name: string;
  description: string;
  default?: string;
  secret?: boolean;
  /** The CLI also reads it from `--<name>-file PATH` or PALLET_<NAME> (as for secrets, but argv is allowed too). */
  file?: boolean;
  /** What `pallet help` says instead of `description` where the CLI differs from the action. */
  cliDescription?: string;
  /** On the CLI the flag may be repeated; the values are joined one per line. */
  repeatable?: boolean;
  kind?: 'string' | 'boolean' | 'integer' | 'list';
}

/** The action's inputs; action.yml must declare exactly these (a test checks). */
export const INPUT_SPECS: InputSpec[] = [
  { name: 'command', description: 'What to run: build, test, push, ci (build+test+push), deploy, rollback, promote, status, exec, logs, lock-status, lock-release, proxy-status, cron-status, maintenance-on, maintenance-off, db-backups, db-backup, db-restore, db-download, remove, setup, review-deploy, review-destroy or review-list.' },
  { name: 'config', description: 'Path of the pallet config file, relative to working-directory.', default: 'pallet.yml' },
  { name: 'working-directory', description: 'Directory the config path and build context resolve against.', default: '.' },
  { name: 'tag', description: 'Image tag to build, push or deploy. Default: build-<run number>. For rollback: the tag to go back to (default: each host\'s recorded revert tag).' },
  { name: 'extra-tags', description: 'More tags to push besides the main one (comma or newline separated).', kind: 'list' },
  { name: 'image', description: 'Image repository without tag; overrides `image` in the config.' },
  { name: 'registry', description: 'Registry host to log in to; defaults to the host part of the image.' },
  { name: 'registry-username', description: 'Registry user name.' },
  { name: 'registry-password', description: 'Registry password or token (masked).', secret: true },
  {
    name: 'ssh-private-key',
    description: 'Private key for the deploy user (masked; written 0600 under RUNNER_TEMP and removed by the post step).',
    cliDescription: 'Private key for the deploy user (masked). Written 0600 into a per-run 0700 directory under $TMPDIR (beside the ssh connection sockets) and removed when the command ends, Ctrl-C included; with a passphrase it goes into a per-run ssh-agent and the file is removed at once. Without it, ssh uses your agent and default keys (enough for status, logs, exec, lock and proxy; deploy and rollback need it).',
    secret: true,
  },
  { name: 'ssh-key-passphrase', description: 'Passphrase of ssh-private-key, if it has one (masked). The key is then loaded into an ssh-agent that lives for this run only.', secret: true },
  { name: 'ssh-known-hosts', description: 'known_hosts lines for every target (and jump) host. Unknown or changed host keys are refused.', file: true },
  { name: 'insecure-skip-host-key-check', description: 'Accept any host key (NOT recommended; logs a warning). For throw-away test hosts only.', default: 'false', kind: 'boolean' },
  { name: 'environment', description: 'The environment to act on: selects environments.NAME of pallet.yml (required when it declares environments) and names the GitHub deployment. Default: production.' },
  { name: 'digest', description: 'deploy: the image digest (sha256:...) to deploy, as ci printed it; without it the tag is resolved to its digest on the registry once. Every host runs exactly these bytes.' },
  { name: 'from', description: 'promote: the environment whose running release (its digest) is deployed to `environment`; nothing is built.' },
  { name: 'allow-untested', description: 'deploy, promote: deploy a digest that has no passing test record on the registry (the override is written to the audit log). Overrides deploy.require_tested.', default: 'false', kind: 'boolean' },
  { name: 'github-token', description: 'Token for GitHub deployments and statuses.', default: '${{ github.token }}', secret: true },
  { name: 'shards', description: 'Overrides test.shards: N isolated service sets running the tests in parallel.', kind: 'integer' },
  { name: 'build-args', description: 'build, ci: build arguments, one NAME=VALUE per line, merged over build.args in pallet.yml (these win), e.g. APP_VERSION=abc1234.', cliDescription: 'build, ci: a build argument, merged over build.args in pallet.yml (these win); repeat the flag for several, e.g. --build-arg APP_VERSION=$(git rev-parse --short HEAD).', repeatable: true },
  { name: 'test-args', description: 'Extra arguments appended to the test command (space separated).', kind: 'list' },
  { name: 'cache', description: 'Use the wheelhouse cache and the registry layer cache.', default: 'true', kind: 'boolean' },
  { name: 'lock-timeout', description: 'Seconds a deploy waits for another deploy\'s lock before failing.', default: '0', kind: 'integer' },
  { name: 'break-lock', description: 'Break a stale deploy lock left by a crashed deploy before deploying.', default: 'false', kind: 'boolean' },
  { name: 'run-tasks', description: 'rollback: also run the deploy tasks (migrations) of the target tag.', default: 'false', kind: 'boolean' },
  { name: 'role', description: 'status, logs: only this role (default: every role). exec: the role whose running tag, env file and volumes the command gets (default: web, else the first role).' },
  { name: 'host', description: 'status, logs, exec, lock-*, proxy-status, cron-status, maintenance-*: only this host, as written in pallet.yml (exec default: the role\'s first host).' },
  { name: 'all-hosts', description: 'exec: run on every host of the role (output lines prefixed with the host).', default: 'false', kind: 'boolean' },
  { name: 'args', description: 'exec: the command run in a one-off container of the app\'s image, one argument per line, handed to the image\'s entrypoint (e.g. check: the entrypoint runs manage.py check).', kind: 'list' },
  { name: 'since', description: 'logs: only lines since this time: a duration (10m, 2h), an RFC 3339 time or a Unix timestamp.' },
  { name: 'tail', description: 'logs: this many lines from the end of each host\'s log (default: all).', kind: 'integer' },
  { name: 'message', description: 'maintenance-on: the text of the built-in maintenance page (instead of deploy.maintenance.page).' },
  { name: 'cron', description: 'logs: the output of the last run of this deploy.cron job, from each host that runs it (instead of a role\'s logs).' },
  { name: 'backup', description: 'db-restore, db-download: the backup id (as db-backups lists it, e.g. 20261203T181500Z-build-42).', cliDescription: 'db restore, db download: the backup id, also given as the third word (pallet db restore ID).' },
  { name: 'output', description: "db-download: where the backup is written (0600), relative to working-directory. Default: APP-ID.dump." },
  { name: 'force', description: 'lock-release: also remove a lock held by another run (a deploy may still be running).', default: 'false', kind: 'boolean' },
  { name: 'yes', description: "remove: confirms taking the app off its hosts (without it, remove only says what it would take). db-restore: confirms replacing the app's database.", default: 'false', kind: 'boolean' },
  { name: 'delete-data', description: "remove: also delete the app's data on the hosts (storage/ and backups/ in its state directory).", default: 'false', kind: 'boolean' },
  { name: 'admin-user', description: 'setup: the user that logs in to prepare the hosts: root, or a user with passwordless sudo.', default: 'root' },
  { name: 'admin-ssh-private-key', description: 'setup: private key of admin-user (masked; default: ssh-private-key). Without a passphrase.', secret: true },
  { name: 'dry-run', description: 'setup: print what would change on each host and change nothing.', default: 'false', kind: 'boolean' },
  { name: 'pull-request', description: 'review-deploy, review-destroy: the pull request\'s number (default: the pull_request event\'s).', cliDescription: 'review deploy, review destroy: the pull request\'s number, also given as the third word (pallet review destroy 12).', kind: 'integer' },
];

/** The CLI's two-word commands (`pallet lock status` = lock-status): their second words, and the usage shown for a wrong one. */
// `arg`: second words that take a third, the value of this input (`pallet db restore ID`).
const GROUPED_COMMANDS: Record<string, { subs: string[]; usage: string; arg?: Record<string, string> }> = {
  lock: { subs: ['status', 'release'], usage: 'pallet lock status | pallet lock release [--force]' },
  proxy: { subs: ['status'], usage: 'pallet proxy status [--host HOST] [--json]' },
  maintenance: { subs: ['on', 'off'], usage: 'pallet maintenance on [--message TEXT] | pallet maintenance off' },
  cron: { subs: ['status'], usage: 'pallet cron status [--host HOST] [--json]; the output of a job: pallet logs --cron JOB' },
  db: { subs: ['backups', 'backup', 'restore', 'download'], usage: 'pallet db backups [--json] | pallet db backup | pallet db restore ID [--yes] | pallet db download ID [--output PATH]', arg: { restore: 'backup', download: 'backup' } },
  review: { subs: ['deploy', 'destroy', 'list'], usage: 'pallet review deploy N --tag TAG | pallet review destroy N | pallet review list [--json]', arg: { deploy: 'pull-request', destroy: 'pull-request' } },
};

/** Flags of the `pallet` command that have no action input (terminal-only behaviour). */
export const CLI_ONLY_SPECS: InputSpec[] = [
  { name: 'json', description: 'status, lock status, proxy status, cron status, db backups, review list: print JSON instead of tables.', default: 'false', kind: 'boolean' },
  { name: 'follow', description: 'logs: keep streaming new lines until Ctrl-C (-f).', default: 'false', kind: 'boolean' },
  { name: 'interactive', description: 'exec: a terminal for the command, e.g. shell (manage.py shell) (-i).', default: 'false', kind: 'boolean' },
];

/** Short spellings the CLI accepts. */
export const CLI_ALIASES: Record<string, string> = { '-i': '--interactive', '-f': '--follow', '--all': '--all-hosts', '--to': '--environment', '-e': '--environment' };

/** Flags spelled another way on the CLI, also in the `--flag=value` form: docker's singular `--build-arg`. */
export const CLI_FLAG_ALIASES: Record<string, string> = { 'build-arg': 'build-args' };

export interface Inputs {
  command: Command;
  config: string;
  workingDirectory: string;
  tag?: string;
  extraTags: string[];
  image?: string;
  registry?: string;
  registryUsername?: string;
  registryPassword?: string;
  sshPrivateKey?: string;
  sshKeyPassphrase?: string;
  sshKnownHosts?: string;
  insecureSkipHostKeyCheck: boolean;
  /** The environment acted on (input `environment`, flag `--environment`/`--to`); unset = none named. */
  environment?: string;
  /** deploy: `sha256:<64 hex>` to deploy instead of resolving the tag. */
  digest?: string;
  /** promote: the source environment. */
  from?: string;
  /** deploy, promote: deploy without a passing test record (audited). */
  allowUntested: boolean;
  githubToken?: string;
  shards?: number;
  testArgs: string[];
  /** Input `build-args` / flag `--build-arg`: merged over build.args. */
  buildArgs: Record<string, string>;
  cache: boolean;
  lockTimeout: number;
  breakLock: boolean;
  runTasks: boolean;
  /** Day-2 operations (status, exec, logs, lock-*). */
  ops: OpsInputs;
  /** setup: how the hosts are reached to prepare them. */
  setup: SetupInputs;
}

/** Inputs of `setup`. */
export interface SetupInputs {
  /** Logs in to prepare the hosts: root or a user with passwordless sudo. */
  adminUser: string;
  /** Its key, when not the deploy key. */
  adminSshPrivateKey?: string;
  /** Print the changes, make none. */
  dryRun: boolean;
}

export interface OpsInputs {
  role?: string;
  host?: string;
  allHosts: boolean;
  /** exec: the argument vector (CLI: the words after `--`). */
  args: string[];
  since?: string;
  tail?: number;
  /** logs: a deploy.cron job's last output instead of a role's logs. */
  cron?: string;
  /** maintenance-on: the built-in page's text. */
  message?: string;
  /** db-restore, db-download: the backup id. */
  backup?: string;
  /** db-download: the local file. */
  output?: string;
  force: boolean;
  /** remove: confirmed. */
  yes: boolean;
  /** remove: storage/ and backups/ go too. */
  deleteData: boolean;
  /** review-deploy, review-destroy: the pull request's number as given (checked by src/review/plan.ts parsePullRequest). */
  pullRequest?: string;
  json: boolean;
  follow: boolean;
  interactive: boolean;
}

/** `sha256:<64 hex>` or undefined; anything else is refused naming the input. */
function digestInput(v: string | undefined, label: string): string | undefined {
  if (v === undefined) return undefined;
  if (!/^sha256:[0-9a-f]{64}$/.test(v)) throw new UserError(`${label} '${v}' is not an image digest`, 'give it as sha256: followed by 64 lowercase hex digits, as ci printed it (output digest)');
  return v;
}

/** Raw string values by input name ('' = not given). */
export type RawInputs = (name: string) => string;

/** Turns raw strings into typed Inputs, with errors that name the input. Masks secrets first. */
export function parseInputs(get: RawInputs, where: 'input' | 'flag' = 'input'): Inputs {
  const label = (n: string) => (where === 'flag' ? `--${n}` : `input '${n}'`);
  const raw = (spec: InputSpec) => {
    const v = get(spec.name).trim();
    if (spec.secret && v) reporter().setSecret(v);
    return v || (spec.default !== undefined && !spec.default.startsWith('${{') ? spec.default : '');
  };
  const values = new Map([...INPUT_SPECS, ...CLI_ONLY_SPECS].map((s) => [s.name, raw(s)]));
  const str = (n: string) => values.get(n) || undefined;
  const bool = (n: string) => {
    const v = (values.get(n) ?? '').toLowerCase();
    if (['true', 'yes', '1', 'on'].includes(v)) return true;
    if (['false', 'no', '0', 'off', ''].includes(v)) return false;
    throw new UserError(`${label(n)} must be true or false, got '${v}'`);
  };
  const int = (n: string, min = 0): number | undefined => {
    const v = values.get(n);
    if (!v) return undefined;
    if (!/^\d+$/.test(v) || Number(v) < min) throw new UserError(`${label(n)} must be a whole number >= ${min}, got '${v}'`);
    return Number(v);
  };
  const list = (n: string) => (values.get(n) ?? '').split(n === 'test-args' ? /\s+/ : /[,\n]/).map((s) => s.trim()).filter(Boolean);
  // One argument per line, kept exactly (spaces inside an argument are part of it).
  const lines = (n: string) => (get(n) ?? '').split(/\r?\n/).filter((l) => l.trim() !== '');

  const command = values.get('command') ?? '';
  if (!command) throw new UserError(`${label('command')} is required: one of ${COMMANDS.join(', ')}`);
  if (!(COMMANDS as readonly string[]).includes(command)) {
    throw new UserError(`unknown command '${command}': expected one of ${COMMANDS.join(', ')}`);
  }
  const tag = str('tag');
  if (tag !== undefined && !/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/.test(tag)) {
    throw new UserError(`${label('tag')} '${tag}' is not a valid image tag (letters, digits, _ . -, at most 128, not starting with . or -)`);
  }
  for (const t of list('extra-tags')) {
    if (!/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/.test(t)) throw new UserError(`${label('extra-tags')}: '${t}' is not a valid image tag`);
  }
  const since = str('since');
  if (since !== undefined && !SINCE.test(since)) {
    throw new UserError(`${label('since')} '${since}' is not a time docker logs understands`, 'use a duration like 10m or 1h30m, an RFC 3339 time like 2026-11-29T10:00:00Z, or a Unix timestamp');
  }
  return {
    command: command as Command,
    config: str('config') ?? 'pallet.yml',
    workingDirectory: str('working-directory') ?? '.',
    tag,
    extraTags: list('extra-tags'),
    image: str('image'),
    registry: str('registry'),
    registryUsername: str('registry-username'),
    registryPassword: str('registry-password'),
    sshPrivateKey: str('ssh-private-key'),
    sshKeyPassphrase: str('ssh-key-passphrase'),
    sshKnownHosts: str('ssh-known-hosts'),
    insecureSkipHostKeyCheck: bool('insecure-skip-host-key-check'),
    environment: str('environment'),
    digest: digestInput(str('digest'), label('digest')),
    from: str('from'),
    allowUntested: bool('allow-untested'),
    githubToken: str('github-token'),
    shards: int('shards', 1),
    testArgs: list('test-args'),
    buildArgs: parseBuildArgs(get('build-args') ?? '', where === 'flag' ? '--build-arg' : label('build-args'), where !== 'flag'),
    cache: bool('cache'),
    lockTimeout: int('lock-timeout') ?? 0,
    breakLock: bool('break-lock'),
    runTasks: bool('run-tasks'),
    ops: {
      role: str('role'),
      host: str('host'),
      allHosts: bool('all-hosts'),
      args: lines('args'),
      since,
      tail: int('tail'),
      cron: str('cron'),
      message: str('message'),
      backup: str('backup'),
      output: str('output'),
      force: bool('force'),
      yes: bool('yes'),
      deleteData: bool('delete-data'),
      pullRequest: str('pull-request'),
      json: bool('json'),
      follow: bool('follow'),
      interactive: bool('interactive'),
    },
    setup: { adminUser: adminUser(str('admin-user') ?? 'root', label('admin-user')), adminSshPrivateKey: str('admin-ssh-private-key'), dryRun: bool('dry-run') },
  };
}

/** A user name as ssh and useradd take it; anything else is refused naming the input. */
function adminUser(v: string, label: string): string {
  if (!/^[A-Za-z_][A-Za-z0-9_.-]{0,31}$/.test(v)) throw new UserError(`${label} '${v}' is not a user name`, 'give the login name of root or of a user with passwordless sudo, e.g. admin');
  return v;
}

// docker logs --since: a Go duration, an RFC 3339 date/time, or a Unix timestamp.
const SINCE = /^(?:(?:\d+(?:\.\d+)?(?:ns|us|ms|s|m|h))+|\d{4}-\d\d-\d\d(?:T\d\d:\d\d(?::\d\d(?:\.\d+)?)?(?:Z|[+-]\d\d:\d\d)?)?|\d+(?:\.\d+)?)$/;

/** The runner's view: INPUT_<NAME> variables (what core.getInput reads). */
export function actionRawInputs(env: NodeJS.ProcessEnv = process.env): RawInputs {
  return (name) => env[`INPUT_${name.replace(/ /g, '_').toUpperCase()}`] ?? '';
}

/** Environment variable a CLI user sets for a secret input, e.g. PALLET_REGISTRY_PASSWORD. */
export function secretEnvName(name: string): string {
  return `PALLET_${name.replace(/-/g, '_').toUpperCase()}`;
}

const BOOLEAN_WORDS = ['true', 'false', 'yes', 'no', '1', '0', 'on', 'off'];

export interface CliArgs {
  raw: RawInputs;
  /** Arguments after `--` (for `pallet run -- cmd ...`). */
  rest: string[];
  positional: string[];
}

/**
 * Parses `pallet <command> [--flag value | --flag=value | --bool-flag] [-- cmd...]`.
 * Secret inputs come from PALLET_* variables or `--<name>-file PATH`, never from argv; `file` inputs
 * (ssh-known-hosts) from argv, `--<name>-file PATH` or PALLET_*.
 */
export function parseCliArgs(argv: string[], env: NodeJS.ProcessEnv = process.env, readFile: (path: string) => string = (p) => readFileSync(p, 'utf8')): CliArgs {
  const values = new Map<string, string>();
  const positional: string[] = [];
  let rest: string[] = [];
  const specs = new Map([...INPUT_SPECS, ...CLI_ONLY_SPECS].map((s) => [s.name, s]));
  for (let i = 0; i < argv.length; i++) {
    // Own keys only: a word like `toString` must not find Object.prototype's.
    const a = Object.hasOwn(CLI_ALIASES, argv[i]) ? CLI_ALIASES[argv[i]] : argv[i];
    if (a === '--') { rest = argv.slice(i + 1); break; }
    if (!a.startsWith('--')) { positional.push(a); continue; }
    let [flag, value] = a.slice(2).split(/=(.*)/s, 2) as [string, string | undefined];
    if (Object.hasOwn(CLI_FLAG_ALIASES, flag)) flag = CLI_FLAG_ALIASES[flag];
    const fileOf = flag.endsWith('-file') ? specs.get(flag.slice(0, -5)) : undefined;
    const fileFlag = fileOf && (fileOf.secret || fileOf.file) ? fileOf.name : undefined;
    const spec = fileFlag ? fileOf : specs.get(flag);
    if (!spec || spec.name === 'command') throw new UserError(`unknown flag --${flag} (see 'pallet help')`);
    if (spec.secret && !fileFlag) {
      // Too late to keep it out of argv, but not too late to keep it out of our own output.
      const leaked = value ?? (argv[i + 1]?.startsWith('--') ? undefined : argv[i + 1]);
      if (leaked) reporter().setSecret(leaked);
      throw new UserError(`--${flag} is a secret and is not accepted on the command line; set ${secretEnvName(flag)} or use --${flag}-file PATH`);
    }
    if (value === undefined) {
      const next = argv[i + 1];
      // A bare boolean flag only takes the next word if it is a boolean (`--cache false`).
      if (spec.kind === 'boolean' && (next === undefined || !BOOLEAN_WORDS.includes(next.toLowerCase()))) value = 'true';
      else if (next === undefined) throw new UserError(`--${flag} needs a value`);
      else { value = next; i++; }
    }
    if (fileFlag) {
      try { value = readFile(value); } catch (e) { throw new UserError(`--${flag}: cannot read ${value}: ${(e as Error).message}`); }
      if (spec.secret) reporter().setSecret(value.trim());
    }
    values.set(spec.name, spec.repeatable && values.has(spec.name) ? `${values.get(spec.name)}\n${value}` : value);
  }
  for (const s of INPUT_SPECS) {
    const fromEnv = env[secretEnvName(s.name)];
    if ((s.secret || s.file) && !values.has(s.name) && fromEnv) {
      if (s.secret) reporter().setSecret(fromEnv.trim());
      values.set(s.name, fromEnv);
    }
  }
  // Two-word commands: `pallet lock status` is the lock-status command, and so on.
  const group = positional[0] !== undefined && Object.hasOwn(GROUPED_COMMANDS, positional[0]) ? GROUPED_COMMANDS[positional[0]] : undefined;
  if (group) {
    const sub = positional[1];
    if (!sub || !group.subs.includes(sub)) {
      throw new UserError(`pallet ${positional[0]} needs ${group.subs.map((x) => `'${x}'`).join(' or ')}${sub ? `, got '${sub}'` : ''}`, group.usage);
    }
    positional.splice(0, 2, `${positional[0]}-${sub}`);
    const takes = group.arg?.[sub];
    if (takes && positional.length > 1) {
      if (values.has(takes)) throw new UserError(`give the ${takes} either as the third word or with --${takes}, not both`);
      values.set(takes, positional.splice(1, 1)[0]);
    }
  }
  if (positional.length > 1) {
    throw new UserError(`unexpected argument '${positional[1]}'`, "flags take the form --name value; for pallet run and pallet exec, put the command after --");
  }
  if (positional[0] !== undefined) values.set('command', positional[0]);
  if (rest.length && values.has('args')) throw new UserError('give the exec command either after -- or with --args, not both');
  return { raw: (n) => values.get(n) ?? '', rest, positional };
}
