// What the lab images are made of (pure data + hashing; building them is images.ts).
// Root filesystems come from debootstrap with Debian packages; small Dockerfiles go on top.
// Every image carries a label with the hash of its recipe and is rebuilt only when it changes.
import { createHash } from 'node:crypto';
import {
  BARE_APT_CONF, BARE_HOSTKEYS_UNIT, BARE_REGISTRY_FORWARD_UNIT, BARE_SSHD_CONF, HOST_INIT, PEBBLE_INIT, POSTGRES_ENTRYPOINT, RABBITMQ_ENTRYPOINT, SMTP_SINK, SSHD_LAB_CONF,
} from './scripts.js';

/** Bump when the way images are built changes without any recipe text changing. */
export const SCRIPT_VERSION = 1;
export const SUITE = 'bookworm';
export const RECIPE_LABEL = 'pallet-lab.recipe';
const PATH_ENV = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** A debootstrap root filesystem imported as an image. */
export interface RootfsRecipe {
  kind: 'rootfs';
  name: string;
  tag: string;
  packages: string[];
  /** `docker import --change` instructions. */
  changes: string[];
  /** More tags for the same image. */
  aliases?: string[];
  /** Built only for the lab part that needs it (`lab up --acme`), not on every lab up. */
  part?: LabPart;
  /** Debian suite (default SUITE): a later release for a package whose bookworm version falls short. */
  suite?: string;
}

/** A lab part started only when asked for (`lab up --acme`). */
export type LabPart = 'acme';

/** A Dockerfile on top of a rootfs image; no network access inside. */
export interface LayerRecipe {
  kind: 'layer';
  name: string;
  tag: string;
  from: string;
  dockerfile: string;
  files: Record<string, string>;
  part?: LabPart;
}

export type Recipe = RootfsRecipe | LayerRecipe;

const PYTHON_RUNTIME = [
  'python3', 'python3-venv', 'python3-pip', 'python3-django', 'python3-psycopg2', 'gunicorn',
  'ca-certificates', 'curl', 'tini',
];

const RUNTIME_ENV = [`ENV ${PATH_ENV}`, 'ENV LANG=C.UTF-8', 'ENV PYTHONUNBUFFERED=1'];

export const ROOTFS: RootfsRecipe[] = [
  {
    kind: 'rootfs',
    name: 'django',
    tag: 'pallet-lab/django:bookworm',
    packages: PYTHON_RUNTIME,
    changes: [...RUNTIME_ENV, 'CMD ["python3"]'],
    // python3, pip and venv are all in the django image: it doubles as the plain base.
    aliases: ['pallet-lab/base:bookworm'],
  },
  {
    kind: 'rootfs',
    name: 'builder',
    tag: 'pallet-lab/builder:bookworm',
    packages: [...PYTHON_RUNTIME, 'build-essential', 'python3-dev', 'python3-setuptools', 'python3-wheel'],
    changes: [...RUNTIME_ENV, 'CMD ["bash"]'],
  },
  {
    kind: 'rootfs',
    name: 'services',
    tag: 'pallet-lab/services-rootfs:bookworm',
    packages: ['postgresql', 'redis-server', 'memcached', 'ca-certificates'],
    changes: [`ENV ${PATH_ENV}`, 'ENV LANG=C.UTF-8'],
  },
  {
    kind: 'rootfs',
    name: 'messaging',
    tag: 'pallet-lab/messaging-rootfs:bookworm',
    // A message broker and an SMTP sink for the cleanroom catalog's rabbitmq and smtp services;
    // python3-amqp lets a test "app" on the same image speak AMQP to the broker.
    packages: ['rabbitmq-server', 'python3-aiosmtpd', 'python3-amqp'],
    changes: [`ENV ${PATH_ENV}`, 'ENV LANG=C.UTF-8', 'ENV PYTHONUNBUFFERED=1'],
  },
  {
    kind: 'rootfs',
    name: 'host',
    tag: 'pallet-lab/host-rootfs:bookworm',
    packages: [
      'docker.io', 'openssh-server', 'iproute2', 'iptables', 'ca-certificates', 'curl', 'procps', 'socat',
      // What a Debian server has: the cron daemon (deploy.cron) and the time zone database.
      'cron', 'tzdata',
    ],
    changes: [`ENV ${PATH_ENV}`, 'ENV LANG=C.UTF-8'],
  },
  {
    // The per-host reverse proxy for the lab: Debian's Caddy 2.6 laid out like the official
    // caddy image (config in /config, certificates and the internal CA in /data).
    kind: 'rootfs',
    name: 'proxy',
    tag: 'pallet-lab/caddy:2.6',
    packages: ['caddy', 'ca-certificates'],
    changes: [
      `ENV ${PATH_ENV}`, 'ENV XDG_CONFIG_HOME=/config', 'ENV XDG_DATA_HOME=/data',
      'EXPOSE 80 443', 'WORKDIR /srv',
      'CMD ["caddy", "run", "--config", "/etc/caddy/Caddyfile", "--adapter", "caddyfile"]',
    ],
  },
  {
    // An ACME CA for `lab up --acme`: Pebble (RFC 8555 test CA) and pebble-challtestsrv (its DNS),
    // both in Debian's pebble package; openssl makes the certificate of Pebble's own listener.
    // From trixie (Pebble 2.6): bookworm's 2.4 issues five-year certificates, and a renewal can
    // only be seen with short ones (certificateValidityPeriod, Pebble 2.5 and later).
    kind: 'rootfs',
    name: 'pebble',
    tag: 'pallet-lab/pebble-rootfs:trixie',
    suite: 'trixie',
    part: 'acme',
    packages: ['pebble', 'openssl'],
    changes: [`ENV ${PATH_ENV}`, 'ENV LANG=C.UTF-8'],
  },
];

const SERVICES = 'pallet-lab/services-rootfs:bookworm';
const MESSAGING = 'pallet-lab/messaging-rootfs:bookworm';

export const LAYERS: LayerRecipe[] = [
  {
    kind: 'layer',
    name: 'pebble',
    tag: 'pallet-lab/pebble:2.6',
    part: 'acme',
    from: 'pallet-lab/pebble-rootfs:trixie',
    files: { 'lab-pebble-init': PEBBLE_INIT },
    dockerfile: [
      'FROM pallet-lab/pebble-rootfs:trixie',
      'COPY lab-pebble-init /usr/local/sbin/lab-pebble-init',
      'RUN chmod 755 /usr/local/sbin/lab-pebble-init',
      // Validation happens for real (no PEBBLE_VA_ALWAYS_VALID), without Pebble's random wait
      // before it, and every good nonce is taken (no random badNonce retries in the clients).
      'ENV PEBBLE_VA_NOSLEEP=1 PEBBLE_WFE_NONCEREJECT=0',
      'EXPOSE 14000 15000 8055',
      'ENTRYPOINT ["/usr/local/sbin/lab-pebble-init"]',
    ].join('\n'),
  },
  {
    kind: 'layer',
    name: 'postgres',
    tag: 'pallet-lab/postgres:15',
    from: SERVICES,
    files: { 'docker-entrypoint.sh': POSTGRES_ENTRYPOINT },
    dockerfile: [
      `FROM ${SERVICES}`,
      'ENV PATH=/usr/lib/postgresql/15/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
      'ENV PGDATA=/var/lib/postgresql/data',
      'COPY docker-entrypoint.sh /usr/local/bin/docker-entrypoint.sh',
      'RUN chmod 755 /usr/local/bin/docker-entrypoint.sh \\',
      ' && mkdir -p /var/run/postgresql "$PGDATA" \\',
      ' && chown -R postgres:postgres /var/run/postgresql "$PGDATA" \\',
      ' && chmod 2777 /var/run/postgresql && chmod 700 "$PGDATA"',
      'USER postgres',
      'EXPOSE 5432',
      'STOPSIGNAL SIGINT',
      'ENTRYPOINT ["docker-entrypoint.sh"]',
      'CMD ["postgres"]',
    ].join('\n'),
  },
  {
    kind: 'layer',
    name: 'redis',
    tag: 'pallet-lab/redis:7',
    from: SERVICES,
    files: {},
    dockerfile: [
      `FROM ${SERVICES}`,
      'USER redis',
      'WORKDIR /var/lib/redis',
      'EXPOSE 6379',
      'CMD ["redis-server", "--protected-mode", "no", "--bind", "0.0.0.0", "--port", "6379", "--save", "", "--appendonly", "no"]',
    ].join('\n'),
  },
  {
    kind: 'layer',
    name: 'memcached',
    tag: 'pallet-lab/memcached:1',
    from: SERVICES,
    files: {},
    dockerfile: [
      `FROM ${SERVICES}`,
      'EXPOSE 11211',
      'CMD ["memcached", "-u", "nobody", "-l", "0.0.0.0", "-p", "11211", "-m", "64"]',
    ].join('\n'),
  },
  {
    kind: 'layer',
    name: 'rabbitmq',
    tag: 'pallet-lab/rabbitmq:3',
    from: MESSAGING,
    files: { 'docker-entrypoint.sh': RABBITMQ_ENTRYPOINT },
    dockerfile: [
      `FROM ${MESSAGING}`,
      // A fixed node name: the broker does not depend on the container's hostname resolving.
      'ENV RABBITMQ_NODENAME=rabbit@localhost HOME=/var/lib/rabbitmq',
      'COPY docker-entrypoint.sh /usr/local/bin/docker-entrypoint.sh',
      'RUN chmod 755 /usr/local/bin/docker-entrypoint.sh && chown -R rabbitmq:rabbitmq /etc/rabbitmq /var/lib/rabbitmq',
      'USER rabbitmq',
      'WORKDIR /var/lib/rabbitmq',
      'EXPOSE 5672',
      'ENTRYPOINT ["docker-entrypoint.sh"]',
      'CMD ["/usr/lib/rabbitmq/bin/rabbitmq-server"]',
    ].join('\n'),
  },
  {
    kind: 'layer',
    name: 'smtp-sink',
    tag: 'pallet-lab/smtp-sink:1',
    from: MESSAGING,
    files: { 'smtp-sink': SMTP_SINK },
    dockerfile: [
      `FROM ${MESSAGING}`,
      'COPY smtp-sink /usr/local/bin/smtp-sink',
      'RUN chmod 755 /usr/local/bin/smtp-sink',
      'USER nobody',
      'EXPOSE 1025 8025',
      'CMD ["smtp-sink"]',
    ].join('\n'),
  },
  {
    kind: 'layer',
    name: 'host',
    tag: 'pallet-lab/host:bookworm',
    from: 'pallet-lab/host-rootfs:bookworm',
    files: { 'lab-host-init': HOST_INIT, 'lab.conf': SSHD_LAB_CONF },
    dockerfile: [
      'FROM pallet-lab/host-rootfs:bookworm',
      'COPY lab-host-init /usr/local/sbin/lab-host-init',
      'COPY lab.conf /etc/ssh/sshd_config.d/lab.conf',
      // The package made host keys at debootstrap time; every host must get its own.
      'RUN chmod 755 /usr/local/sbin/lab-host-init && rm -f /etc/ssh/ssh_host_*',
      'EXPOSE 22 8000',
      'ENTRYPOINT ["/usr/local/sbin/lab-host-init"]',
    ].join('\n'),
  },
];

function sha(parts: unknown): string {
  return createHash('sha256').update(JSON.stringify(parts)).digest('hex').slice(0, 16);
}

/**
 * A root filesystem's recipe hash. `from` is set only for images made another way than debootstrap
 * (the official base image name), so switching the way rebuilds them and debootstrap hashes stay put.
 */
export function rootfsHash(r: RootfsRecipe, from?: string): string {
  return sha({ v: SCRIPT_VERSION, suite: r.suite ?? SUITE, variant: 'minbase', packages: [...r.packages].sort(), changes: r.changes, ...(from ? { from } : {}) });
}

/** A layer's hash covers its parent's, so a rebuilt rootfs rebuilds what sits on it. */
export function layerHash(l: LayerRecipe, parentHash: string): string {
  return sha({ v: SCRIPT_VERSION, parent: parentHash, dockerfile: l.dockerfile, files: l.files });
}

/**
 * debootstrap's arguments for a recipe; `keyring` where the machine's own keyring is not Debian's.
 * Another suite than SUITE is made with debootstrap's `sid` script (the one every later Debian
 * release uses), so a bookworm debootstrap that does not know it by name can make it.
 */
export function debootstrapArgs(r: RootfsRecipe, dir: string, mirror: string, keyring?: string): string[] {
  const suite = r.suite ?? SUITE;
  const script = suite === SUITE ? [] : ['/usr/share/debootstrap/scripts/sid'];
  return ['--variant=minbase', ...(keyring ? [`--keyring=${keyring}`] : []), `--include=${r.packages.join(',')}`, suite, dir, mirror, ...script];
}

export function importChangeArgs(r: RootfsRecipe, hash: string): string[] {
  return [...r.changes, `LABEL ${RECIPE_LABEL}=${hash}`].flatMap((c) => ['--change', c]);
}

/** The mirror apt already uses: first `URIs:` of debian.sources, else the first `deb` line. */
export function parseMirror(debianSources: string | undefined, sourcesList: string | undefined): string | undefined {
  const uris = debianSources?.match(/^URIs:\s*(\S+)/m);
  if (uris) return uris[1];
  const deb = sourcesList?.match(/^deb\s+(?:\[[^\]]*\]\s+)?(\S+)/m);
  return deb?.[1];
}

/**
 * A bare server as a cloud provider hands it over, for `pallet setup`: systemd as PID 1, sshd and
 * sudo, no Docker. Built only when asked (`lab up --bare`, or the setup e2e test), not by every
 * `lab up`. apt inside uses the archive debootstrap used (the outer machine's mirror).
 */
export const BARE_ROOTFS: RootfsRecipe = {
  kind: 'rootfs',
  name: 'bare',
  tag: 'pallet-lab/bare-rootfs:bookworm',
  // socat only for the lab's registry forward (a lab unit); ca-certificates as on any server.
  packages: ['systemd', 'systemd-sysv', 'openssh-server', 'sudo', 'ca-certificates', 'socat'],
  changes: [`ENV ${PATH_ENV}`, 'ENV LANG=C.UTF-8'],
};

/** The bare host image: lab users, lab units, and nothing pallet would set up itself. */
export const BARE_LAYER: LayerRecipe = {
  kind: 'layer',
  name: 'bare',
  tag: 'pallet-lab/bare:bookworm',
  from: BARE_ROOTFS.tag,
  files: {
    'lab.conf': BARE_SSHD_CONF,
    'lab-hostkeys.service': BARE_HOSTKEYS_UNIT,
    'lab-registry-forward.service': BARE_REGISTRY_FORWARD_UNIT,
    'lab-apt.conf': BARE_APT_CONF,
    'lab-admin.sudoers': 'admin ALL=(ALL) NOPASSWD:ALL\n',
  },
  dockerfile: [
    `FROM ${BARE_ROOTFS.tag}`,
    'COPY lab.conf /etc/ssh/sshd_config.d/lab.conf',
    'COPY lab-hostkeys.service lab-registry-forward.service /etc/systemd/system/',
    'COPY lab-apt.conf /etc/apt/apt.conf.d/99lab',
    'COPY lab-admin.sudoers /etc/sudoers.d/lab-admin',
    // Every container makes its own host keys at boot (lab-hostkeys.service).
    'RUN rm -f /etc/ssh/ssh_host_* && chmod 0440 /etc/sudoers.d/lab-admin \\',
    ' && useradd --create-home --shell /bin/bash admin && useradd --create-home --shell /bin/bash nosudo \\',
    ' && systemctl enable lab-hostkeys.service ssh.service \\',
    // Nothing of a console in a container.
    ' && systemctl mask getty.target console-getty.service systemd-logind.service 2>/dev/null; true',
    'ENV container=docker',
    'STOPSIGNAL SIGRTMIN+3',
    'EXPOSE 22',
    'CMD ["/sbin/init"]',
  ].join('\n'),
};
