// Shared pieces of the cleanroom end-to-end tests: lab image names, a capturing reporter,
// configs, and what is left on the engine under a label.
import Docker from 'dockerode';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import type { PalletConfig } from '../../src/config/types.js';
import { CliReporter, setReporter } from '../../src/util/reporter.js';
import { labAvailable, readLab } from './lab.js';

export const docker = new Docker();

export interface LabServiceImages {
  postgres: string;
  redis: string;
  memcached: string;
  rabbitmq: string;
  /** The SMTP sink; it has python3 and python3-amqp, so it doubles as a test "app" for both. */
  smtpSink: string;
}

export function labServiceImages(): LabServiceImages {
  const d: LabServiceImages = {
    postgres: 'pallet-lab/postgres:15', redis: 'pallet-lab/redis:7', memcached: 'pallet-lab/memcached:1',
    rabbitmq: 'pallet-lab/rabbitmq:3', smtpSink: 'pallet-lab/smtp-sink:1',
  };
  if (!labAvailable()) return d;
  const { images } = readLab();
  return {
    postgres: images.postgres ?? d.postgres, redis: images.redis ?? d.redis, memcached: images.memcached ?? d.memcached,
    rabbitmq: images.rabbitmq ?? d.rabbitmq, smtpSink: images.smtpSink ?? d.smtpSink,
  };
}

/** Why the lab cannot run these tests, or undefined when it can (engine up, images present). */
export async function labMissing(images: string[]): Promise<string | undefined> {
  try {
    await docker.ping();
  } catch {
    return 'no Docker Engine answers (start the lab: npm run lab:up)';
  }
  for (const i of images) {
    try { await docker.getImage(i).inspect(); } catch { return `lab image ${i} is missing (npm run lab:up)`; }
  }
  return undefined;
}

/** A CLI reporter that keeps every line (and still masks secrets), installed as the reporter. */
export function captureReporter(): { lines: string[]; text: () => string; reporter: CliReporter } {
  const lines: string[] = [];
  const reporter = new CliReporter((l) => lines.push(l), (l) => lines.push(l));
  setReporter(reporter);
  return { lines, text: () => lines.join('\n'), reporter };
}

export function testConfig(app: string, test: Partial<PalletConfig['test']>): PalletConfig {
  return {
    app,
    image: `pallet-e2e/${app}`,
    build: { context: os.tmpdir(), dockerfile: 'Dockerfile', args: {}, tags: [] },
    test: { command: ['test'], services: [], environment: {}, shards: 1, artifacts: [], timeout: 300, ...test },
    source: { file: path.join(os.tmpdir(), 'pallet.yml'), dir: os.tmpdir() },
  };
}

/** Writes a pallet.yml into a fresh temp dir; returns the dir. */
export function writeConfigDir(config: Record<string, unknown>): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pallet-cr-'));
  writeFileSync(path.join(dir, 'pallet.yml'), YAML.stringify(config));
  return dir;
}

/** Containers and networks carrying every given label (`k=v`). */
export async function leftovers(labels: string[]): Promise<{ containers: string[]; networks: string[] }> {
  const filters = JSON.stringify({ label: labels });
  const containers = await docker.listContainers({ all: true, filters });
  const networks = await docker.listNetworks({ filters });
  return { containers: containers.map((c) => c.Names[0]), networks: networks.map((n) => n.Name) };
}

/** Removes by label what a failed test may have left (tests still assert there was nothing). */
export async function sweep(labels: string[]): Promise<void> {
  const filters = JSON.stringify({ label: labels });
  for (const c of await docker.listContainers({ all: true, filters })) await docker.getContainer(c.Id).remove({ force: true }).catch(() => undefined);
  for (const n of await docker.listNetworks({ filters })) await docker.getNetwork(n.Id).remove().catch(() => undefined);
}

export function uniqueApp(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
}
