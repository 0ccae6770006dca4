// The lab descriptor: what `npm run lab:up` wrote to .lab/lab.json. Tests, benchmarks and the
// demo read it through here; nothing else should hard-code lab addresses or ports.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const LAB_DIR = process.env.PALLET_LAB_DIR ?? path.join(REPO_ROOT, '.lab');
export const LAB_FILE = path.join(LAB_DIR, 'lab.json');

export interface LabHost {
  /** Stable name, e.g. lab-host-1. */
  name: string;
  /** What goes in pallet.yml `hosts:` to reach it over SSH, e.g. 127.0.0.1:2201. */
  address: string;
  sshHost: string;
  sshPort: number;
  /** Container id of the host on the outer engine (for fault injection: stop/pause it). */
  containerId: string;
  /** The host container's IP on the outer bridge. */
  ip: string;
  /** URL that reaches the app's web port (8000) published on this host, from the outer machine. */
  webUrl: string;
}

export interface LabDescriptor {
  dir: string;
  registry: {
    /** host:port; the same reference works from the outer engine and from inside every host. */
    address: string;
    username: string;
    password: string;
    /** pid or container id of the registry, for lab down. */
    id: string;
  };
  /** Lab image references by role. */
  images: {
    base: string;     // minbase + python3, pip, venv
    builder: string;  // + build-essential, python3-dev, setuptools, wheel: runs `pip wheel`
    django: string;   // runtime base for the example app: python3-django, psycopg2, gunicorn
    postgres: string; // cleanroom service images
    redis: string;
    memcached: string;
    /** RabbitMQ and the SMTP sink (added after the first cut: absent from older descriptors). */
    rabbitmq?: string;
    smtpSink?: string; // also the test "app" for them: python3 with python3-amqp
    host: string;     // SSH target host with its own dockerd
    /** The hosts' reverse proxy image in the lab registry (deploy.proxy.image), e.g. 127.0.0.1:5000/pallet-lab/caddy:2.6. */
    proxy?: string;
  };
  ssh: {
    user: string;
    privateKeyPath: string;
    knownHostsPath: string;
  };
  hosts: LabHost[];
  /**
   * url: to the hosts' published port 8000; proxyUrl: to the hosts' proxy on port 80 (routes by
   * Host); tlsAddress (127.0.0.1:PORT, where nginx has its stream module): TCP passthrough to the
   * hosts' port 443, so TLS ends at each host's proxy.
   */
  lb: { url: string; id: string; proxyUrl?: string; tlsAddress?: string };
  /** Name of the outer bridge network the hosts and the registry share (added after the first cut). */
  network?: string;
  /** Set by `lab up --swarm`: the hosts form one Docker Swarm. */
  swarm?: LabSwarm;
  /** Set by `lab up --acme` (and kept by later ups while it runs): an ACME CA on the lab network. */
  acme?: LabAcme;
}

/** The lab's ACME CA: Pebble, with pebble-challtestsrv as the DNS it validates names with. */
export interface LabAcme {
  /** The ACME directory URL (HTTPS, deploy.proxy.acme.ca). */
  directory: string;
  /** PEM of the certificate Pebble's HTTPS listeners use (self-signed): deploy.proxy.acme.ca_root. */
  caRootPath: string;
  /** Pebble's issuing root (PEM over HTTPS, trust caRootPath to fetch it): what the certificates it issues chain to. */
  rootsUrl: string;
  /** challtestsrv's management API: POST /add-a {host, addresses} points a name at addresses. */
  dnsUrl: string;
  /** The CA container's address on the lab network. */
  ip: string;
  /** Container id (lab down removes it). */
  id: string;
}

export interface LabSwarm {
  /** The manager's SSH address (host 1), what deploy.swarm.manager names. */
  manager: string;
  nodes: number;
}

/** Reads the descriptor of a lab kept in another directory (a test's own lab). */
export function readLabAt(dir: string): LabDescriptor {
  return JSON.parse(readFileSync(path.join(dir, 'lab.json'), 'utf8')) as LabDescriptor;
}

export function labAvailable(): boolean {
  return existsSync(LAB_FILE);
}

export function readLab(): LabDescriptor {
  if (!existsSync(LAB_FILE)) {
    throw new Error(`no lab descriptor at ${LAB_FILE}: run 'npm run lab:up' first`);
  }
  return JSON.parse(readFileSync(LAB_FILE, 'utf8')) as LabDescriptor;
}

/** Set by test/e2e/global-setup.ts when no Docker Engine can be had here (never under CI=true). */
export const LAB_SKIP_ENV = 'PALLET_LAB_SKIP_REASON';

/** Why lab tests cannot run here, or undefined when the lab is up. */
export function labSkipReason(): string | undefined {
  const reason = process.env[LAB_SKIP_ENV];
  if (reason) return reason;
  if (!labAvailable()) return `no lab descriptor at ${LAB_FILE} (run 'npm run lab:up')`;
  return undefined;
}

/**
 * `describe` for tests that need the lab, or `describe.skip` with the reason printed when no
 * engine can be had. Under CI=true a missing lab is an error, never a skip.
 */
export function describeLab(name: string, fn: () => void): void {
  const reason = labSkipReason();
  if (!reason) {
    describe(name, fn);
    return;
  }
  if (process.env.CI === 'true') throw new Error(`lab tests cannot run under CI: ${reason}`);
  process.stderr.write(`skipping '${name}': ${reason}\n`);
  describe.skip(`${name} (skipped: ${reason})`, fn);
}

/** `ssh` arguments that reach a lab host as root with its host key checked strictly; append the command. */
export function labSshArgs(lab: LabDescriptor, host: LabHost, knownHostsPath = lab.ssh.knownHostsPath): string[] {
  return [
    '-i', lab.ssh.privateKeyPath,
    '-o', `UserKnownHostsFile=${knownHostsPath}`,
    '-o', 'StrictHostKeyChecking=yes',
    '-o', 'BatchMode=yes',
    '-o', 'IdentitiesOnly=yes',
    '-o', 'ConnectTimeout=10',
    '-p', String(host.sshPort),
    `${lab.ssh.user}@${host.sshHost}`,
  ];
}
