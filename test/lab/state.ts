// Where the lab keeps its state (.lab/ or PALLET_LAB_DIR): the internal state file (ports,
// ids, pids) and the public descriptor (lab.json) that tests read through test/helpers/lab.ts.
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { LAB_DIR, LAB_FILE, type LabDescriptor } from '../helpers/lab.js';
import { pidAlive, sleep } from './util.js';

export { LAB_DIR, LAB_FILE };
export const STATE_FILE = path.join(LAB_DIR, 'state.json');
export const LOG_DIR = path.join(LAB_DIR, 'logs');

export interface HostState {
  index: number;
  sshPort: number;
  webPort: number;
  containerId?: string;
}

export interface LabState {
  /** Short random id: names containers and the network so two labs never collide. */
  labId: string;
  registry: { port: number; username: string; password: string; containerId?: string };
  hosts: HostState[];
  /** port: -> hosts' published app port; proxyPort: -> hosts' proxy (port 80); tlsPort: -> their port 443, TLS passed through. */
  lb: { port: number; pid?: number; proxyPort?: number; tlsPort?: number };
  networkId?: string;
  /** Bare hosts (bare.ts) still running: container ids, removed by lab down too. */
  bare?: string[];
  /** `lab up --acme`: the ACME CA's container. */
  acme?: { containerId?: string };
}

export function labPath(...parts: string[]): string {
  return path.join(LAB_DIR, ...parts);
}

export function ensureLabDir(): void {
  mkdirSync(LOG_DIR, { recursive: true, mode: 0o700 });
}

export function loadState(): LabState {
  if (existsSync(STATE_FILE)) return JSON.parse(readFileSync(STATE_FILE, 'utf8')) as LabState;
  return {
    labId: randomBytes(3).toString('hex'),
    registry: { port: 0, username: 'pallet', password: randomBytes(18).toString('base64url') },
    hosts: [],
    lb: { port: 0 },
  };
}

/** Atomic 0600 write: readers never see half a file, and the password never is world-readable. */
export function writeSecretJson(file: string, value: unknown): void {
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(value, null, 2) + '\n', { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, file);
}

export function saveState(state: LabState): void {
  writeSecretJson(STATE_FILE, state);
}

export function writeDescriptor(d: LabDescriptor): void {
  writeSecretJson(LAB_FILE, d);
}

export function removeDescriptor(): void {
  rmSync(LAB_FILE, { force: true });
}

export function containerName(state: LabState, what: string): string {
  return `palletlab-${state.labId}-${what}`;
}

/**
 * One `lab up`/`down` at a time (jest globalSetup and a developer may race). A directory is
 * created atomically; a lock whose owner process is gone is broken.
 */
export async function withLabLock<T>(fn: () => Promise<T>, timeoutMs = 30 * 60_000): Promise<T> {
  ensureLabDir();
  const lock = labPath('lock');
  const deadline = Date.now() + timeoutMs;
  let announced = false;
  for (;;) {
    try {
      mkdirSync(lock);
      writeFileSync(path.join(lock, 'pid'), String(process.pid));
      break;
    } catch {
      let owner = 0;
      try {
        owner = Number(readFileSync(path.join(lock, 'pid'), 'utf8'));
      } catch {
        /* being created or removed right now */
      }
      if (owner && !pidAlive(owner)) {
        rmSync(lock, { recursive: true, force: true });
        continue;
      }
      if (Date.now() > deadline) throw new Error(`lab is locked by pid ${owner} (${lock})`);
      if (!announced) {
        process.stdout.write(`[lab] waiting for another lab command (pid ${owner}) to finish\n`);
        announced = true;
      }
      await sleep(1000);
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}
