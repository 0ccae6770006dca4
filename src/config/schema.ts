// JSON Schema (draft-07) of pallet.yml: the shape and types of every key. Checks a schema cannot
// express (files that must exist, host and image syntax, duplicates) live in ./semantic-checks.ts.
// Everything is inlined (no $ref) so an error's schemaPath says exactly which branch failed.
// Annotations read by ./schema-check.ts when turning ajv errors into messages:
//   x-expected  what a value must be, for type/oneOf errors ("expected a list of paths")
//   x-message   replaces the message of pattern / minProperties / maxProperties / oneOf errors

import { SERVICE_NAME_PATTERN } from './services.js';

type Schema = Record<string, unknown>;

const string = (expected = 'a string', extra: Schema = {}): Schema => ({ type: 'string', 'x-expected': expected, ...extra });
const nonEmpty = (expected = 'a string', extra: Schema = {}): Schema => string(expected, { minLength: 1, ...extra });
const list = (items: Schema, expected: string, extra: Schema = {}): Schema => ({ type: 'array', items, 'x-expected': expected, ...extra });
const port = (): Schema => ({ type: 'integer', minimum: 1, maximum: 65535, 'x-expected': 'a port number (1-65535)' });
const seconds = (min: number, exclusive = false): Schema => ({
  type: exclusive ? 'number' : 'integer',
  ...(exclusive ? { exclusiveMinimum: min } : { minimum: min }),
  'x-expected': exclusive ? 'a number of seconds' : 'a whole number of seconds',
});
const envMap = (expected: string): Schema => ({
  type: 'object',
  'x-expected': expected,
  additionalProperties: { type: ['string', 'number', 'boolean'], 'x-expected': 'a string, number or boolean' },
});
const command = (expected: string): Schema => ({
  oneOf: [nonEmpty(), list(nonEmpty(), 'a list of strings', { minItems: 1 })],
  'x-expected': expected,
});

const wheelhouse: Schema = {
  type: 'object',
  'x-expected': 'a mapping (requirements, builder, dir, pip_args)',
  additionalProperties: false,
  required: ['builder'],
  properties: {
    requirements: list(nonEmpty('a path'), 'a list of paths', { minItems: 1 }),
    builder: nonEmpty('an image reference'),
    dir: nonEmpty('a path'),
    pip_args: list(string(), 'a list of strings'),
  },
};

const build: Schema = {
  type: 'object',
  'x-expected': 'a mapping (context, dockerfile, target, args, tags, wheelhouse)',
  additionalProperties: false,
  properties: {
    context: nonEmpty('a path'),
    dockerfile: nonEmpty('a path'),
    target: nonEmpty('a build stage name'),
    args: envMap('a mapping of build argument names to values'),
    tags: list(nonEmpty('an image tag'), 'a list of image tags'),
    wheelhouse,
  },
};

const readyProbe: Schema = {
  type: 'object',
  'x-expected': 'a readiness probe: {tcp: PORT}, {http: {port, path}} or {command: [...]}',
  additionalProperties: false,
  minProperties: 1,
  maxProperties: 1,
  'x-message': 'expected exactly one of tcp, http, command',
  properties: {
    tcp: port(),
    http: {
      type: 'object',
      'x-expected': 'a mapping {port, path}',
      additionalProperties: false,
      required: ['port'],
      properties: { port: port(), path: string('a URL path', { pattern: '^/', 'x-message': "must start with '/'" }) },
    },
    command: command('a command: a string or a list of strings'),
  },
};

const serviceName = (): Schema =>
  string('a service name', {
    pattern: SERVICE_NAME_PATTERN,
    'x-message': 'must match [a-z0-9][a-z0-9-]* (lower-case letters, digits and -, at most 31 characters)',
  });

const service: Schema = {
  oneOf: [
    serviceName(),
    {
      type: 'object',
      additionalProperties: false,
      required: ['name'],
      properties: {
        name: serviceName(),
        image: nonEmpty('an image reference'),
        env: envMap('a mapping of variable names to values'),
        port: port(),
        ready: readyProbe,
        ready_timeout: seconds(0, true),
        credentials: {
          type: 'object',
          'x-expected': 'a mapping (user, password, database)',
          additionalProperties: false,
          properties: { user: nonEmpty(), password: string(), database: nonEmpty() },
        },
      },
    },
  ],
  'x-expected': 'a service name or a mapping {name, image, env, port, ready, ready_timeout, credentials}',
};

const test: Schema = {
  type: 'object',
  'x-expected': 'a mapping (command, services, environment, shards, artifacts, timeout)',
  additionalProperties: false,
  properties: {
    command: command('a command: a string or a list of strings'),
    services: list(service, 'a list of services'),
    environment: envMap('a mapping of variable names to values'),
    shards: { type: 'integer', minimum: 1, 'x-expected': 'a whole number' },
    artifacts: list(nonEmpty('a path'), 'a list of paths'),
    timeout: seconds(1),
  },
};

/** A DNS host name as the proxy matches it (a leading `*.` label matches one label). */
const hostName = (): Schema =>
  string('a host name', {
    pattern: '^(\\*\\.)?[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$',
    'x-message': 'must be a lower-case host name like shop.example.com (no scheme, port or path)',
    maxLength: 253,
  });

/** deploy.proxy.static: the proxy serves the app's collected static files (true = the defaults). */
const staticFiles: Schema = {
  oneOf: [
    { type: 'boolean' },
    {
      type: 'object',
      additionalProperties: false,
      properties: {
        root: string('a path', {
          pattern: '^/[A-Za-z0-9._@+-]+(/[A-Za-z0-9._@+-]+)*/?$',
          'x-message': "must be an absolute directory in the image, like /static (Django's STATIC_ROOT)",
        }),
        url: string('a URL path', {
          pattern: '^/([A-Za-z0-9._~-]+/)+$',
          'x-message': "must be a URL path that starts and ends with '/', like /static/ (Django's STATIC_URL); '/' alone would send every request to the files",
        }),
      },
    },
  ],
  'x-expected': 'true, false or a mapping {root, url}',
};

/**
 * deploy.proxy.acme: the ACME CA that `tls: auto` gets certificates from, in Caddy's terms (its
 * ACME issuer's `ca`, `email`, and the root it trusts for the CA's own HTTPS, `acme_ca_root`).
 */
const acme: Schema = {
  type: 'object',
  'x-expected': 'a mapping {ca, ca_root, email}',
  additionalProperties: false,
  properties: {
    ca: string('a URL', {
      pattern: '^https://[^\\s/?#]+(/[^\\s?#]*)?$',
      'x-message': "must be the https:// URL of the CA's ACME directory, like https://ca.example.com/acme/acme/directory",
    }),
    ca_root: nonEmpty('a path'),
    email: string('an email address', { pattern: '^[^@\\s]+@[^@\\s]+$', 'x-message': 'must be an email address like ops@example.com' }),
  },
};

const proxy: Schema = {
  oneOf: [
    { type: 'boolean' },
    {
      type: 'object',
      additionalProperties: false,
      properties: {
        hosts: list(hostName(), 'a list of host names', { minItems: 1 }),
        tls: { type: 'string', enum: ['auto', 'internal', 'off'], 'x-expected': 'auto, internal or off' },
        image: nonEmpty('an image reference'),
        drain_timeout: seconds(0),
        trusted_proxies: list(nonEmpty('an IP range (CIDR), an IP address or private_ranges'), 'a list of IP ranges'),
        static: staticFiles,
        acme,
      },
    },
  ],
  'x-expected': 'false (publish the port, no proxy) or a mapping {hosts, tls, image, drain_timeout, trusted_proxies, static, acme}',
};

const role: Schema = {
  type: 'object',
  'x-expected': 'a mapping (hosts, command, port, host_port, health, stable, stop_timeout, stop_signal, replicas, placement)',
  additionalProperties: false,
  properties: {
    hosts: list(string('a host ([user@]host[:port])'), 'a list of hosts ([user@]host[:port])', { minItems: 1 }),
    command: command('an entrypoint command: a string (split on spaces) or a list of strings'),
    port: port(),
    host_port: port(),
    health: {
      type: 'object',
      'x-expected': 'a mapping {path, timeout, host}',
      additionalProperties: false,
      properties: {
        path: string('a URL path', { pattern: '^/', 'x-message': "must start with '/'" }),
        timeout: seconds(0, true),
        host: string('a host name', {
          pattern: '^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?(:[0-9]{1,5})?$',
          'x-message': 'must be a host name (optionally :port), sent as the Host header of the health check',
        }),
      },
    },
    stable: { type: 'number', minimum: 0, 'x-expected': 'a number of seconds' },
    stop_timeout: seconds(0),
    stop_signal: string('a signal name such as SIGTERM', {
      pattern: '^(SIG)?[A-Z][A-Z0-9]*$',
      'x-message': 'must be a signal name such as SIGTERM, SIGINT or SIGQUIT',
    }),
    // Swarm only (deploy.swarm): tasks of the role's service, and where they may run.
    replicas: { type: 'integer', minimum: 0, 'x-expected': 'a whole number of tasks' },
    placement: list(nonEmpty('a placement constraint, e.g. node.role==worker'), 'a list of placement constraints', { minItems: 1 }),
  },
};

const swarm: Schema = {
  type: 'object',
  'x-expected': 'a mapping {manager, publish}',
  additionalProperties: false,
  required: ['manager'],
  properties: {
    manager: nonEmpty('a host ([user@]host[:port])'),
    publish: { type: 'string', enum: ['host', 'ingress'], 'x-expected': "'host' or 'ingress'" },
  },
};

// deploy.env: the app's environment written on every host by the deploy. Names are checked in
// semantic-checks.ts (one message per bad name); values in src/deploy/env-file.ts.
const appEnv: Schema = {
  type: 'object',
  'x-expected': 'a mapping {clear, secret}',
  additionalProperties: false,
  properties: {
    clear: envMap('a mapping of variable names to values'),
    secret: list(nonEmpty('a variable name'), 'a list of variable names (their values come from the environment of the deploy step)', { uniqueItems: true }),
  },
};

// deploy.cron: scheduled manage.py commands; schedules and time zones are checked in semantic-checks.ts.
const cronJob: Schema = {
  type: 'object',
  'x-expected': 'a mapping {schedule, command, hosts, timezone}',
  additionalProperties: false,
  required: ['schedule', 'command'],
  properties: {
    schedule: nonEmpty("a cron schedule (five fields: minute hour day-of-month month day-of-week, e.g. '*/15 * * * *')"),
    command: command('an entrypoint command: a string (split on spaces) or a list of strings'),
    hosts: list(string('a host ([user@]host[:port])'), 'a list of hosts ([user@]host[:port]) of the roles', { minItems: 1 }),
    timezone: nonEmpty('an IANA time zone name, e.g. Europe/Berlin'),
  },
};

const deploy: Schema = {
  type: 'object',
  'x-expected': 'a mapping (ssh, swarm, env_file, env, tasks, roles, cron, backup, maintenance, rolling, keep, url, proxy)',
  additionalProperties: false,
  required: ['roles'],
  properties: {
    ssh: {
      type: 'object',
      'x-expected': 'a mapping {user, port, jump}',
      additionalProperties: false,
      properties: {
        user: string('a user name', { pattern: '^[a-z_][a-z0-9_.-]*$', 'x-message': 'must match [a-z_][a-z0-9_.-]*' }),
        port: port(),
        jump: nonEmpty('a host ([user@]host[:port])'),
      },
    },
    swarm,
    env_file: string('an absolute path', { pattern: '^/', 'x-message': 'must be an absolute path on the host' }),
    env: appEnv,
    tasks: {
      oneOf: [nonEmpty(), list(command('a command: a string or a list of strings'), 'a list of commands')],
      'x-expected': 'a command or a list of commands',
    },
    roles: {
      type: 'object',
      'x-expected': 'a mapping of role names to roles',
      minProperties: 1,
      'x-message': 'must define at least one role',
      additionalProperties: role,
    },
    cron: {
      type: 'object',
      'x-expected': 'a mapping of job names to jobs',
      additionalProperties: cronJob,
    },
    backup: {
      oneOf: [
        { type: 'boolean' },
        {
          type: 'object',
          additionalProperties: false,
          properties: {
            keep: { type: 'integer', minimum: 1, 'x-expected': 'a number >= 1' },
            image: nonEmpty('a PostgreSQL client image, e.g. postgres:17'),
            url_env: string('an environment variable name', { pattern: '^[A-Za-z_][A-Za-z0-9_]*$', 'x-message': 'must be the name of the environment variable that holds the database URL, like DATABASE_URL' }),
          },
        },
      ],
      'x-expected': 'true, false or a mapping {keep, image, url_env}',
    },
    maintenance: {
      type: 'object',
      'x-expected': 'a mapping {during_tasks, page, retry_after}',
      additionalProperties: false,
      properties: {
        during_tasks: { type: 'boolean', 'x-expected': 'true or false' },
        page: nonEmpty('a path to an HTML file, relative to pallet.yml'),
        retry_after: seconds(1),
      },
    },
    rolling: {
      type: 'object',
      'x-expected': 'a mapping {batch}',
      additionalProperties: false,
      properties: {
        batch: {
          oneOf: [
            { type: 'integer', minimum: 1 },
            { type: 'string', pattern: '^([1-9][0-9]?|100)%$', 'x-message': "expected a number >= 1 or a percentage from '1%' to '100%'" },
          ],
          'x-expected': "a number >= 1 or a percentage from '1%' to '100%'",
        },
      },
    },
    keep: { type: 'integer', minimum: 1, 'x-expected': 'a whole number' },
    require_tested: { type: 'boolean', 'x-expected': 'true or false' },
    url: string('a URL', { pattern: '^https?://[^\\s]+$', 'x-message': 'must be an http:// or https:// URL' }),
    proxy,
  },
};

// review: pull requests as their own apps; hosts, the pattern and services are checked in semantic-checks.ts.
const review: Schema = {
  type: 'object',
  'x-expected': 'a mapping (hosts, host, tls, services, env, max, evict_oldest, idle_days)',
  additionalProperties: false,
  required: ['hosts', 'host'],
  properties: {
    hosts: list(nonEmpty('a host ([user@]host[:port])'), 'a list of hosts ([user@]host[:port])', { minItems: 1 }),
    host: string('a host name pattern with {number}', {
      pattern: '^[a-z0-9.-]*\\{number\\}[a-z0-9.-]*$',
      'x-message': "must be a host name with {number} where the pull request's number goes, e.g. pr-{number}.review.example.com",
    }),
    tls: { enum: ['auto', 'internal', 'off'], 'x-expected': 'auto, internal or off' },
    services: list(service, 'a list of services'),
    env: appEnv,
    max: { type: 'integer', minimum: 1, 'x-expected': 'a whole number >= 1' },
    evict_oldest: { type: 'boolean', 'x-expected': 'true or false' },
    idle_days: { type: 'number', exclusiveMinimum: 0, 'x-expected': 'a number of days > 0' },
  },
};

export const PALLET_SCHEMA: Schema = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  $id: 'https://github.com/pallet-action/pallet.yml.schema.json',
  title: 'pallet.yml',
  type: 'object',
  'x-expected': 'a mapping with keys app, image, build, test, deploy, review',
  additionalProperties: false,
  required: ['app', 'image'],
  properties: {
    app: string('an app name', {
      pattern: '^[a-z0-9][a-z0-9_.-]*$',
      'x-message': 'must match [a-z0-9][a-z0-9_.-]*',
      maxLength: 63,
    }),
    image: nonEmpty('an image repository'),
    build,
    test,
    deploy,
    review,
  },
};
