// Builds the lab images when missing or when their recipe hash changed: independent debootstrap
// root filesystems in parallel, `tar | docker import`, then the small Dockerfiles on top.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { docker } from './engine.js';
import {
  LAYERS, RECIPE_LABEL, ROOTFS, debootstrapArgs, importChangeArgs, layerHash, parseMirror, rootfsHash,
  type LayerRecipe, type RootfsRecipe,
} from './recipes.js';
import { labPath } from './state.js';
import { log, run } from './util.js';

export interface LabImages {
  base: string;
  builder: string;
  django: string;
  postgres: string;
  redis: string;
  memcached: string;
  host: string;
  /** Image the registry container runs in (any Debian rootfs with libc). */
  registryRuntime: string;
}

export const IMAGE_NAMES: LabImages = {
  base: 'pallet-lab/base:bookworm',
  builder: 'pallet-lab/builder:bookworm',
  django: 'pallet-lab/django:bookworm',
  postgres: 'pallet-lab/postgres:15',
  redis: 'pallet-lab/redis:7',
  memcached: 'pallet-lab/memcached:1',
  host: 'pallet-lab/host:bookworm',
  registryRuntime: 'pallet-lab/services-rootfs:bookworm',
};

export async function imageRecipe(tag: string): Promise<string | undefined> {
  try {
    const info = await docker.getImage(tag).inspect();
    return info.Config?.Labels?.[RECIPE_LABEL];
  } catch {
    return undefined;
  }
}

export function aptMirror(): string {
  const read = (f: string) => (existsSync(f) ? readFileSync(f, 'utf8') : undefined);
  const mirror = parseMirror(read('/etc/apt/sources.list.d/debian.sources'), read('/etc/apt/sources.list'));
  if (!mirror) {
    throw new Error('cannot find the Debian mirror: no URIs: line in /etc/apt/sources.list.d/debian.sources');
  }
  return mirror;
}

async function buildRootfs(r: RootfsRecipe, hash: string, mirror: string): Promise<void> {
  const dir = labPath('rootfs', r.name);
  const logFile = labPath('logs', `debootstrap-${r.name}.log`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const started = Date.now();
  log(`debootstrap ${r.name}: ${r.packages.join(' ')} (log: ${logFile})`);
  try {
    await run('debootstrap', debootstrapArgs(r, dir, mirror), { logFile, timeoutMs: 30 * 60_000 });
    // Downloaded .debs and apt lists are not needed in the image.
    for (const sub of ['var/cache/apt/archives', 'var/lib/apt/lists']) {
      const p = path.join(dir, sub);
      if (!existsSync(p)) continue;
      for (const f of readdirSync(p)) if (f !== 'partial' && f !== 'lock') rmSync(path.join(p, f), { recursive: true, force: true });
    }
    await importRootfs(dir, r.tag, importChangeArgs(r, hash));
    for (const alias of r.aliases ?? []) {
      const [repo, tag] = alias.split(':');
      await docker.getImage(r.tag).tag({ repo, tag });
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  log(`image ${r.tag} built in ${Math.round((Date.now() - started) / 1000)} s`);
}

/** `tar -C dir -c . | docker import --change ... - tag`, both ends checked. */
function importRootfs(dir: string, tag: string, changeArgs: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const tar = spawn('tar', ['-C', dir, '--numeric-owner', '-c', '.'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const imp = spawn('docker', ['import', ...changeArgs, '-', tag], { stdio: ['pipe', 'ignore', 'pipe'] });
    tar.stdout.pipe(imp.stdin);
    let errs = '';
    tar.stderr.on('data', (d) => (errs += d));
    imp.stderr.on('data', (d) => (errs += d));
    let tarCode: number | null = null;
    tar.on('close', (c) => (tarCode = c));
    imp.on('error', reject);
    tar.on('error', reject);
    imp.on('close', (c) => {
      if (c === 0 && tarCode === 0) resolve();
      else reject(new Error(`import of ${dir} as ${tag} failed (tar ${tarCode}, docker import ${c}): ${errs.slice(-2000)}`));
    });
  });
}

async function buildLayer(l: LayerRecipe, hash: string): Promise<void> {
  const ctx = labPath('build', l.name);
  rmSync(ctx, { recursive: true, force: true });
  mkdirSync(ctx, { recursive: true });
  writeFileSync(path.join(ctx, 'Dockerfile'), `${l.dockerfile}\nLABEL ${RECIPE_LABEL}=${hash}\n`);
  for (const [name, text] of Object.entries(l.files)) writeFileSync(path.join(ctx, name), text);
  const stream = await docker.buildImage(
    { context: ctx, src: ['Dockerfile', ...Object.keys(l.files)] },
    { t: l.tag, rm: true, forcerm: true },
  );
  const output: string[] = [];
  await new Promise<void>((resolve, reject) => {
    docker.modem.followProgress(
      stream,
      (err: Error | null, res: Array<{ error?: string }>) => {
        const failed = err?.message ?? res.find((r) => r.error)?.error;
        if (failed) reject(new Error(`building ${l.tag} failed: ${failed}\n${output.join('').slice(-2000)}`));
        else resolve();
      },
      (ev: { stream?: string }) => ev.stream && output.push(ev.stream),
    );
  });
  rmSync(ctx, { recursive: true, force: true });
  log(`image ${l.tag} built`);
}

/** Ensures every lab image exists with the current recipe; returns their names. */
export async function ensureImages(): Promise<LabImages> {
  const hashes = new Map<string, string>();
  const todo: Array<{ r: RootfsRecipe; hash: string }> = [];
  for (const r of ROOTFS) {
    const hash = rootfsHash(r);
    hashes.set(r.tag, hash);
    const have = await imageRecipe(r.tag);
    const aliasesOk = await Promise.all((r.aliases ?? []).map(async (a) => (await imageRecipe(a)) === hash));
    if (have !== hash || aliasesOk.includes(false)) todo.push({ r, hash });
  }
  if (todo.length) {
    const mirror = aptMirror();
    log(`building ${todo.length} root filesystem(s) in parallel from ${mirror}`);
    // Independent debootstraps are network/disk bound: run them side by side.
    const results = await Promise.allSettled(todo.map(({ r, hash }) => buildRootfs(r, hash, mirror)));
    const failed = results.filter((x): x is PromiseRejectedResult => x.status === 'rejected');
    if (failed.length) throw new Error(failed.map((f) => (f.reason as Error).message).join('\n'));
  }
  for (const l of LAYERS) {
    const parent = hashes.get(l.from);
    if (!parent) throw new Error(`recipe ${l.name}: unknown base ${l.from}`);
    const hash = layerHash(l, parent);
    if ((await imageRecipe(l.tag)) !== hash) await buildLayer(l, hash);
  }
  return IMAGE_NAMES;
}
