// `pallet help COMMAND` (and `pallet COMMAND --help`): what one command does, what it needs
// first, and the flags it reads, from the same INPUT_SPECS table as the flags themselves.
import { CLI_ONLY_SPECS, INPUT_SPECS, secretEnvName, type InputSpec } from './inputs.js';

interface CommandDoc {
  usage: string;
  /** What it does, one line each. */
  about: string[];
  /** Flags (input names) the command reads. */
  flags: string[];
}

const COMMON = ['config', 'working-directory', 'image'];
const REGISTRY = ['registry', 'registry-username', 'registry-password'];
const SSH = [...COMMON, 'ssh-private-key', 'ssh-key-passphrase', 'ssh-known-hosts', 'insecure-skip-host-key-check'];
const DEPLOY = [...COMMON, 'tag', ...REGISTRY, 'ssh-private-key', 'ssh-key-passphrase', 'ssh-known-hosts', 'insecure-skip-host-key-check', 'environment', 'github-token', 'lock-timeout', 'break-lock'];
const ROLL_OUT = [...DEPLOY, 'allow-untested'];

/** Per command: usage line, description, flags. docs/cli.md says the same in prose. */
export const COMMAND_DOCS: Record<string, CommandDoc> = {
  build: {
    usage: 'pallet build [--tag TAG] [flags]',
    about: [
      'Builds the wheelhouse (when build.wheelhouse is set) and the image IMAGE:TAG on the local Docker Engine.',
      'Before anything runs, the files the build reads are checked: the Dockerfile, .dockerignore, the',
      'requirement files and the wheelhouse directory. With registry credentials the registry layer cache',
      '(IMAGE:cache-<branch>) is pulled first and pushed after; a local build without them leaves it off.',
      'TAG defaults to build-local (build-<run number> in GitHub Actions).',
    ],
    flags: [...COMMON, 'tag', 'build-args', ...REGISTRY, 'cache'],
  },
  test: {
    usage: 'pallet test [--tag TAG] [--shards N] [--test-args "..."]',
    about: [
      "Runs the image's test entrypoint against fresh service containers (test.services), the way CI does,",
      'and removes every container and network afterwards. The image IMAGE:TAG must exist: run',
      "'pallet build' first with the same tag (or 'pallet ci', which builds, tests and pushes).",
    ],
    flags: [...COMMON, 'tag', 'shards', 'test-args'],
  },
  push: {
    usage: 'pallet push [--tag TAG] [--extra-tags a,b]',
    about: [
      'Pushes IMAGE:TAG (and extra-tags and build.tags) to the registry. The image must have been built',
      "here: run 'pallet build' first with the same tag (or 'pallet ci').",
    ],
    flags: [...COMMON, 'tag', 'extra-tags', ...REGISTRY],
  },
  ci: {
    usage: 'pallet ci [--tag TAG] [flags]',
    about: ['build, then test, then push (what CI runs for a push to a branch). Stops at the first step that fails.'],
    flags: [...COMMON, 'tag', 'build-args', 'extra-tags', ...REGISTRY, 'cache', 'shards', 'test-args'],
  },
  deploy: {
    usage: 'pallet deploy --tag TAG [--digest sha256:...] [--environment NAME] [flags]',
    about: [
      'Resolves IMAGE:TAG to its digest on the registry once (or takes --digest), checks that the digest',
      'passed its tests (the record pallet ci writes; --allow-untested or deploy.require_tested: false to',
      'deploy without), then pulls IMAGE@DIGEST on every host over ssh, runs deploy.tasks (migrations) once',
      'and restarts the roles host by host with health checks; on a failure every touched host goes back',
      'to its previous tag. With environments in pallet.yml, --environment names the one deployed to.',
      'Needs PALLET_SSH_PRIVATE_KEY (or --ssh-private-key-file) and --ssh-known-hosts (or --ssh-known-hosts-file)',
      'covering every host.',
    ],
    flags: [...ROLL_OUT, 'digest'],
  },
  promote: {
    usage: 'pallet promote --from SOURCE --to TARGET [flags]   (--to is --environment)',
    about: [
      'Deploys exactly the release (tag and digest) the SOURCE environment runs to TARGET: nothing is built',
      'or resolved again. The digest is read from SOURCE\'s hosts (they must all run the same one), so the ssh',
      'key and known_hosts must reach both environments. The deploy is the same as pallet deploy --to TARGET.',
    ],
    // promote takes no tag or digest: it deploys what SOURCE runs. --to is --environment.
    flags: [...ROLL_OUT.filter((f) => f !== 'tag'), 'from'],
  },
  rollback: {
    usage: 'pallet rollback [--tag TAG] [flags]',
    about: ["Goes back to each host's recorded revert tag (or --tag) on every host, with the same health checks as deploy."],
    flags: [...DEPLOY, 'run-tasks'],
  },
  status: {
    usage: 'pallet status [--role ROLE] [--host HOST] [--json]',
    about: [
      'What runs where: per host and role the running tag, its image digest and the container state (running, health, restarts,',
      'uptime), the recorded revert tag, the deploy lock holder if any, and the last audit lines.',
      'On a Docker Swarm: per service its tag and tasks running/desired, each task\'s node and state, the',
      'nodes, and the same state from the manager.',
    ],
    flags: [...SSH, 'role', 'host', 'json'],
  },
  exec: {
    usage: 'pallet exec [--role ROLE] [--host HOST | --all] [-i] -- ARGS...',
    about: [
      "A one-off container of the role's running tag, with the host's env file and the app's volumes, like",
      'the release tasks. -i gives an interactive terminal (-i -- shell). The exit code is passed through;',
      'with --all each output line is prefixed with its host. Each exec adds an audit line.',
      'On a Docker Swarm: a one-off Swarm job of the service\'s image on the app\'s network (no -i).',
    ],
    flags: [...SSH, 'role', 'host', 'all-hosts', 'interactive'],
  },
  logs: {
    usage: 'pallet logs [--role ROLE] [--host HOST] [--since 10m] [--tail N] [-f] | pallet logs --cron JOB [--host HOST]',
    about: [
      "The role's container logs from every host, merged and prefixed with the host; -f follows until Ctrl-C.",
      "On a Docker Swarm: docker service logs of the role's service, each line naming its task and node.",
      "--cron JOB: the output of the deploy.cron job's last run on each host that runs it.",
    ],
    flags: [...SSH, 'role', 'host', 'since', 'tail', 'follow', 'cron'],
  },
  lock: {
    usage: 'pallet lock status | pallet lock release [--force]',
    about: [
      'The deploy lock on every host: who holds it and since when; release removes a lock this user holds,',
      'or with --force one held by another run, naming the holder it removed (audited). On a Docker',
      'Swarm: the lock on the manager.',
    ],
    flags: [...SSH, 'host', 'force', 'json'],
  },
  proxy: {
    usage: 'pallet proxy status [--host HOST] [--json]',
    about: [
      'The reverse proxy on each web host (deploy.proxy): its state, image and restarts, and every route it',
      'holds (all apps that share it): host names, TLS, the live container and its tag. Warns about a host',
      'without a running proxy and a route whose container is not running.',
    ],
    flags: [...SSH, 'host', 'json'],
  },
  cron: {
    usage: 'pallet cron status [--host HOST] [--json]',
    about: [
      "The deploy.cron jobs on each host: schedule and time zone, next run, and the last run's start,",
      'release, exit code and duration; a run going on or skipped (the one before still ran) is noted, and',
      "a failed run's last output lines follow the table (all of it: pallet logs --cron JOB).",
    ],
    flags: [...SSH, 'host', 'json'],
  },
  maintenance: {
    usage: 'pallet maintenance on [--message TEXT] [--host HOST] | pallet maintenance off [--host HOST]',
    about: [
      "On every web host the proxy answers the app's requests with 503, Retry-After and the maintenance page",
      '(deploy.maintenance.page, or a built-in one with --message); the containers keep running and the static',
      'files are still served. off routes the requests to the running containers again. Takes the deploy lock',
      "of every host for the change; audited. A deploy ends it on each host as the new version serves there.",
    ],
    flags: [...SSH, 'host', 'message'],
  },
  db: {
    usage: 'pallet db backups [--json] | pallet db backup | pallet db restore ID [--yes] | pallet db download ID [--output PATH]',
    about: [
      "The app's PostgreSQL backups (docs/backups.md), kept on the host that runs the release tasks (--host for",
      'another): backups lists them (the release each preceded, the one live then, size); backup takes one now;',
      'restore replaces the database with one, under the deploy lock of every host and the maintenance page,',
      'in one transaction (asks first; --yes in scripts); download copies one here (0600) for safekeeping.',
    ],
    flags: [...SSH, 'host', 'backup', 'output', 'yes', 'json'],
  },
  review: {
    usage: 'pallet review deploy N [--tag TAG] | pallet review destroy N | pallet review list [--json]',
    about: [
      "Pull request N as an app of its own, APP-pr-N, on one of review.hosts at review.host (docs/review-apps.md):",
      'deploy starts its own services (a fresh PostgreSQL, Redis, ...) and rolls TAG out as a deploy does, after',
      'removing review apps whose pull request is closed or idle past review.idle_days; at review.max it is',
      'refused, naming the app idle longest. destroy removes all the review app owns on its host (containers,',
      "services and their volumes, network, routes, the images it pulled, its state); again, it does nothing.",
    ],
    flags: [...SSH, 'tag', 'digest', 'pull-request', 'registry-username', 'json'],
  },
  remove: {
    usage: 'pallet remove --yes [--delete-data] [--host HOST]',
    about: [
      "Takes the app off its hosts (or --host): its routes leave the proxy (other apps keep being served),",
      'its containers stop gracefully and are removed, then its network, the images of its repository that',
      "no container uses, and its state directory. Its data (storage/, backups/) stays unless --delete-data;",
      "the hosts' deploy.env_file stays (yours). Refused while a deploy holds the lock; without --yes it only",
      'says what it would remove. On a Docker Swarm: the stack, its network, the manager\'s images and state.',
    ],
    flags: [...SSH, 'host', 'yes', 'delete-data'],
  },
  setup: {
    usage: 'pallet setup [--admin-user root] [--dry-run] [flags]',
    about: [
      'Makes every host of deploy.roles ready for deploys, over ssh as --admin-user (root, or a user with',
      'passwordless sudo) on Debian and Ubuntu: Docker Engine from the distribution (docker.io), started and',
      'enabled; the deploy user (deploy.ssh.user) in the docker group with the public half of the deploy key;',
      "/var/lib/pallet and the proxy's directories; the env file (deploy.env_file) empty and 0600 where missing;",
      "the proxy where web roles run behind it. Checks each host first (disk, clock, ports 80/443) and changes",
      'nothing anywhere when one is not fit. Only adds: keys, sshd_config and existing users stay as they are',
      '(except joining the docker group). A second run says "no change"; --dry-run prints the changes only.',
      'The admin login uses PALLET_ADMIN_SSH_PRIVATE_KEY when set, else the deploy key.',
    ],
    flags: [...SSH, ...REGISTRY, 'environment', 'admin-user', 'admin-ssh-private-key', 'dry-run'],
  },
  run: {
    usage: 'pallet run [--config pallet.yml] -- COMMAND [ARGS...]',
    about: [
      'Starts the test services (test.services) with published ports and runs COMMAND on this machine with',
      'their addresses in the environment (DATABASE_URL, ...), e.g. pallet run -- ./manage.py test.',
    ],
    flags: COMMON,
  },
};

/** One flag line of the help: `--name  description [default]`, secrets as their environment variable, file-readable flags with their -file form. */
export function flagLine(s: InputSpec): string {
  const description = s.cliDescription ?? s.description;
  if (s.secret) return `  ${secretEnvName(s.name).padEnd(30)} (env) ${description} Or --${s.name}-file PATH.`;
  if (s.file) return `  --${s.name.padEnd(28)} ${description} Or --${s.name}-file PATH, or ${secretEnvName(s.name)} (env).`;
  const name = s.name === 'build-args' ? 'build-arg NAME=VALUE' : s.name;
  return `  --${name.padEnd(28)} ${description}${s.default && !s.default.startsWith('$') ? ` [${s.default}]` : ''}`;
}

/** The help text of one command, or undefined when there is no such command. */
export function commandHelp(name: string): string | undefined {
  const doc = Object.hasOwn(COMMAND_DOCS, name) ? COMMAND_DOCS[name] : undefined;
  if (!doc) return undefined;
  const specs = doc.flags.map((f) => [...INPUT_SPECS, ...CLI_ONLY_SPECS].find((s) => s.name === f)).filter((s): s is InputSpec => !!s);
  return [`usage: ${doc.usage}`, '', ...doc.about, '', 'flags:', ...specs.map(flagLine)].join('\n');
}
