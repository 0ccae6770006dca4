// Builds the lab images when missing or when their recipe hash changed: independent debootstrap
// root filesystems in parallel, `tar | docker import`, then the small Dockerfiles on top.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { docker } from './engine.js';
import {
  BARE_LAYER, BARE_ROOTFS, LAYERS, RECIPE_LABEL, ROOTFS, SUITE, debootstrapArgs, importChangeArgs, layerHash, rootfsHash,
  type LabPart, type LayerRecipe, type RootfsRecipe,
} from './recipes.js';
import { describeRootfsSource, hubRootfsDockerfile, rootfsSource, type RootfsSource } from './distro.js';
import { labPath } from './state.js';
import { log, run } from './util.js';

export interface LabImages {
  base: string;
  builder: string;
  django: string;
  postgres: string;
  redis: string;
  memcached: string;
  rabbitmq: string;
  smtpSink: string;
  host: string;
  /** The hosts' reverse proxy (Caddy from Debian), pushed to the lab registry by lab up. */
  proxy: string;
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
  rabbitmq: 'pallet-lab/rabbitmq:3',
  smtpSink: 'pallet-lab/smtp-sink:1',
  host: 'pallet-lab/host:bookworm',
  proxy: 'pallet-lab/caddy:2.6',
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

/** How this machine makes root filesystems (see distro.ts); checks the keyring it needs is there. */
export function machineRootfsSource(): RootfsSource {
  const read = (f: string) => (existsSync(f) ? readFileSync(f, 'utf8') : undefined);
  const source = rootfsSource({
    osRelease: read('/etc/os-release'),
    debianSources: read('/etc/apt/sources.list.d/debian.sources'),
    sourcesList: read('/etc/apt/sources.list'),
    env: process.env,
  });
  if (source.mode === 'debootstrap' && source.keyring && !existsSync(source.keyring)) {
    throw new Error(`debootstrap needs Debian's archive keys at ${source.keyring}: apt-get install debian-archive-keyring (.ci/run does)`);
  }
  return source;
}

async function buildRootfs(r: RootfsRecipe, hash: string, source: RootfsSource): Promise<void> {
  if (source.mode === 'hub') {
    await buildDockerfile(r.name, r.tag, hubRootfsDockerfile(r.suite && r.suite !== SUITE ? `debian:${r.suite}-slim` : source.baseImage, r.packages, r.changes), {}, hash);
    await tagAliases(r);
    return;
  }
  const dir = labPath('rootfs', r.name);
  const logFile = labPath('logs', `debootstrap-${r.name}.log`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const started = Date.now();
  log(`debootstrap ${r.name}: ${r.packages.join(' ')} (log: ${logFile})`);
  try {
    await run('debootstrap', debootstrapArgs(r, dir, source.mirror, source.keyring), { logFile, timeoutMs: 30 * 60_000 });
    // Downloaded .debs and apt lists are not needed in the image.
    for (const sub of ['var/cache/apt/archives', 'var/lib/apt/lists']) {
      const p = path.join(dir, sub);
      if (!existsSync(p)) continue;
      for (const f of readdirSync(p)) if (f !== 'partial' && f !== 'lock') rmSync(path.join(p, f), { recursive: true, force: true });
    }
    await importRootfs(dir, r.tag, importChangeArgs(r, hash));
    await tagAliases(r);
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

async function tagAliases(r: RootfsRecipe): Promise<void> {
  for (const alias of r.aliases ?? []) {
    const [repo, tag] = alias.split(':');
    await docker.getImage(r.tag).tag({ repo, tag });
  }
}

function buildLayer(l: LayerRecipe, hash: string): Promise<void> {
  return buildDockerfile(l.name, l.tag, l.dockerfile, l.files, hash);
}

/** Builds `dockerfile` (plus the recipe label) with `files` beside it as the context, tagged `tag`. */
async function buildDockerfile(name: string, tag: string, dockerfile: string, files: Record<string, string>, hash: string): Promise<void> {
  const ctx = labPath('build', name);
  rmSync(ctx, { recursive: true, force: true });
  mkdirSync(ctx, { recursive: true });
  writeFileSync(path.join(ctx, 'Dockerfile'), `${dockerfile}\nLABEL ${RECIPE_LABEL}=${hash}\n`);
  for (const [file, text] of Object.entries(files)) writeFileSync(path.join(ctx, file), text);
  const stream = await docker.buildImage(
    { context: ctx, src: ['Dockerfile', ...Object.keys(files)] },
    { t: tag, rm: true, forcerm: true },
  );
  const output: string[] = [];
  await new Promise<void>((resolve, reject) => {
    docker.modem.followProgress(
      stream,
      (err: Error | null, res: Array<{ error?: string }>) => {
        const failed = err?.message ?? res.find((r) => r.error)?.error;
        if (failed) reject(new Error(`building ${tag} failed: ${failed}\n${output.join('').slice(-2000)}`));
        else resolve();
      },
      (ev: { stream?: string }) => ev.stream && output.push(ev.stream),
    );
  });
  rmSync(ctx, { recursive: true, force: true });
  log(`image ${tag} built`);
}

/** The ACME CA image (Pebble), built by `lab up --acme` only. */
export const ACME_IMAGE = 'pallet-lab/pebble:2.6';

/**
 * Ensures every lab image exists with the current recipe; returns their names. Images of a part
 * (`parts`, e.g. the ACME CA) are built only when that part is asked for.
 */
export async function ensureImages(parts: readonly LabPart[] = []): Promise<LabImages> {
  const wanted = (r: { part?: LabPart }) => !r.part || parts.includes(r.part);
  await ensureRecipes(ROOTFS.filter(wanted), LAYERS.filter(wanted));
  return IMAGE_NAMES;
}

/** The bare host image (systemd, sshd, sudo; no Docker), built only when asked; returns its name. */
export async function ensureBareImage(): Promise<string> {
  await ensureRecipes([BARE_ROOTFS], [BARE_LAYER]);
  return BARE_LAYER.tag;
}

/** Builds the root filesystems (in parallel) and then the layers whose recipe hash changed. */
async function ensureRecipes(rootfs: RootfsRecipe[], layers: LayerRecipe[]): Promise<void> {
  const source = machineRootfsSource();
  const hashes = new Map<string, string>();
  const todo: Array<{ r: RootfsRecipe; hash: string }> = [];
  for (const r of rootfs) {
    const hash = rootfsHash(r, source.mode === 'hub' ? source.baseImage : undefined);
    hashes.set(r.tag, hash);
    const have = await imageRecipe(r.tag);
    const aliasesOk = await Promise.all((r.aliases ?? []).map(async (a) => (await imageRecipe(a)) === hash));
    if (have !== hash || aliasesOk.includes(false)) todo.push({ r, hash });
  }
  if (todo.length) {
    log(`building ${todo.length} root filesystem(s) in parallel ${describeRootfsSource(source)}`);
    // Independent debootstraps are network/disk bound: run them side by side.
    const results = await Promise.allSettled(todo.map(({ r, hash }) => buildRootfs(r, hash, source)));
    const failed = results.filter((x): x is PromiseRejectedResult => x.status === 'rejected');
    if (failed.length) throw new Error(failed.map((f) => (f.reason as Error).message).join('\n'));
  }
  for (const l of layers) {
    const parent = hashes.get(l.from);
    if (!parent) throw new Error(`recipe ${l.name}: unknown base ${l.from}`);
    const hash = layerHash(l, parent);
    if ((await imageRecipe(l.tag)) !== hash) await buildLayer(l, hash);
  }
}
