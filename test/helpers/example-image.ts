// Builds the example Django app's image (examples/django-app) for end-to-end tests, the way a
// developer would by hand: `pip wheel` in the lab builder image, then `docker build` with the
// wheels in the context. Wheels are cached per package-source hash under .pallet-cache/, and the
// Dockerfile puts FAULT/APP_VERSION last, so a rebuild of another variant takes seconds.
// Independent of src/builder on purpose: tests of the action compare against this known-good path.
import Docker from 'dockerode';
import ignore from '@balena/dockerignore';
import { createHash, randomBytes } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import tar from 'tar-fs';
import { labAvailable, readLab, REPO_ROOT } from './lab.js';

export const EXAMPLE_APP_DIR = path.join(REPO_ROOT, 'examples', 'django-app');
const WHEEL_CACHE = path.join(REPO_ROOT, '.pallet-cache', 'example-wheelhouse');

export type ExampleFault = 'migrate' | 'health' | 'crash' | 'test';

export interface BuildExampleOptions {
  /** Baked in as ENV PALLET_FAULT: migrate (deploy fails), health (/health/ 500), crash (serve exits 1 after ~2 s), test (one test fails). */
  fault?: ExampleFault;
  /** Baked in as ENV APP_VERSION, reported by / and /health/. Defaults to the tag's tag part. */
  version?: string;
  /** Image reference to tag the result with, e.g. pallet-example-e2e:ab12. */
  tag: string;
  /**
   * Files for this build only, by path relative to the app dir (`notes/static/notes/notes.css`):
   * each replaces the app's file of that name in the build context, or is added to it. Written into
   * the throw-away context, never into examples/django-app. A path outside the app dir, or one the
   * app's .dockerignore excludes (it would never reach the image), is refused.
   */
  files?: Record<string, string>;
}

export function exampleLabImages(): { builder: string; django: string; postgres: string } {
  const defaults = {
    builder: 'pallet-lab/builder:bookworm',
    django: 'pallet-lab/django:bookworm',
    postgres: 'pallet-lab/postgres:15',
  };
  if (!labAvailable()) return defaults;
  const { images } = readLab();
  return { builder: images.builder, django: images.django, postgres: images.postgres };
}

/** Build byproducts of in-tree `pip wheel` runs and caches: never part of a source hash or context. */
function isByproduct(name: string): boolean {
  return name === 'build' || name === 'dist' || name === '__pycache__' || name.endsWith('.egg-info') || name.endsWith('.pyc');
}

function listFiles(root: string, rel = ''): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(path.join(root, rel), { withFileTypes: true })) {
    if (isByproduct(entry.name)) continue;
    const child = path.posix.join(rel, entry.name);
    if (entry.isDirectory()) out.push(...listFiles(root, child));
    else if (entry.isFile()) out.push(child);
  }
  return out;
}

/** Hash of everything `pip wheel -r requirements.txt` reads, plus the builder image id. */
export function wheelSourcesKey(appDir: string, builderImageId: string): string {
  const h = createHash('sha256').update(builderImageId).update('\0');
  const files = ['requirements.txt', ...listFiles(appDir, 'packages')].sort();
  for (const f of files) h.update(f).update('\0').update(readFileSync(path.join(appDir, f))).update('\0');
  return h.digest('hex').slice(0, 16);
}

async function runToCompletion(docker: Docker, spec: Docker.ContainerCreateOptions, what: string): Promise<void> {
  const container = await docker.createContainer(spec);
  try {
    await container.start();
    const { StatusCode } = (await container.wait()) as { StatusCode: number };
    if (StatusCode !== 0) {
      const logs = (await container.logs({ stdout: true, stderr: true })).toString('utf8');
      throw new Error(`${what} exited ${StatusCode}:\n${logs.slice(-4000)}`);
    }
  } finally {
    await container.remove({ force: true, v: true }).catch(() => undefined);
  }
}

/** The directory of cached wheels for the current package sources; builds them when missing. */
export async function exampleWheelhouse(docker: Docker = new Docker()): Promise<string> {
  const { builder } = exampleLabImages();
  const builderId = (await docker.getImage(builder).inspect()).Id;
  const dir = path.join(WHEEL_CACHE, wheelSourcesKey(EXAMPLE_APP_DIR, builderId));
  if (existsSync(dir)) return dir;

  // pip builds local packages in-tree (build/, *.egg-info): work on a copy, not the checkout.
  const work = mkdtempSync(path.join(os.tmpdir(), 'pallet-example-wheels-'));
  try {
    cpSync(path.join(EXAMPLE_APP_DIR, 'requirements.txt'), path.join(work, 'requirements.txt'));
    cpSync(path.join(EXAMPLE_APP_DIR, 'packages'), path.join(work, 'packages'), {
      recursive: true,
      filter: (src) => !isByproduct(path.basename(src)),
    });
    await runToCompletion(
      docker,
      {
        Image: builder,
        Cmd: ['python3', '-m', 'pip', 'wheel', '--no-build-isolation', '--no-index', '-w', '/src/wheelhouse', '-r', 'requirements.txt'],
        WorkingDir: '/src',
        Env: ['PIP_DISABLE_PIP_VERSION_CHECK=1', 'PYTHONDONTWRITEBYTECODE=1'],
        Labels: { 'pallet.test': 'example-wheelhouse' },
        HostConfig: { Binds: [`${work}:/src`], NetworkMode: 'none' },
      },
      'pip wheel (example wheelhouse)',
    );
    // Publish atomically: concurrent test processes either see the whole directory or none.
    const staging = `${dir}.tmp-${process.pid}-${randomBytes(3).toString('hex')}`;
    mkdirSync(staging, { recursive: true });
    for (const whl of readdirSync(path.join(work, 'wheelhouse')).filter((f) => f.endsWith('.whl'))) {
      cpSync(path.join(work, 'wheelhouse', whl), path.join(staging, whl));
    }
    try {
      renameSync(staging, dir);
    } catch (e) {
      rmSync(staging, { recursive: true, force: true });
      if (!existsSync(dir)) throw e;
    }
    return dir;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** `files` keys as context-relative POSIX paths; throws on one that leaves the app dir or that .dockerignore drops. */
function overridePaths(files: Record<string, string>, ig: ReturnType<typeof ignore.default>): Map<string, string> {
  const out = new Map<string, string>();
  for (const [name, content] of Object.entries(files)) {
    const rel = path.posix.normalize(name.split(path.sep).join('/'));
    if (path.posix.isAbsolute(rel) || rel === '.' || rel === '..' || rel.startsWith('../') || rel.endsWith('/')) {
      throw new Error(`buildExampleImage files: ${JSON.stringify(name)} is not a file path inside the app dir`);
    }
    if (rel === 'wheelhouse' || rel.startsWith('wheelhouse/') || ig.ignores(rel)) {
      throw new Error(`buildExampleImage files: ${JSON.stringify(name)} is excluded from the build context (.dockerignore or the wheelhouse)`);
    }
    out.set(rel, content);
  }
  return out;
}

/**
 * Copies the app (minus .dockerignore matches and the checkout's own wheelhouse) plus the wheels into
 * a fresh context dir, then writes `files` over it (see BuildExampleOptions.files).
 */
function assembleContext(wheels: string, files: Record<string, string> = {}): string {
  // CommonJS module: under NodeNext its callable export sits on .default (present at runtime too).
  const ig = ignore.default().add(readFileSync(path.join(EXAMPLE_APP_DIR, '.dockerignore'), 'utf8').split('\n'));
  // Checked before anything is copied: a bad path throws with nothing to clean up.
  const overrides = overridePaths(files, ig);
  const ctx = mkdtempSync(path.join(os.tmpdir(), 'pallet-example-ctx-'));
  cpSync(EXAMPLE_APP_DIR, ctx, {
    recursive: true,
    filter: (src) => {
      const rel = path.relative(EXAMPLE_APP_DIR, src).split(path.sep).join('/');
      if (rel === '') return true;
      if (rel === 'wheelhouse' || rel.startsWith('wheelhouse/')) return false;
      if (statSync(src).isDirectory() && isByproduct(path.basename(src))) return false;
      return !ig.ignores(rel);
    },
  });
  cpSync(wheels, path.join(ctx, 'wheelhouse'), { recursive: true });
  for (const [rel, content] of overrides) {
    const dest = path.join(ctx, ...rel.split('/'));
    mkdirSync(path.dirname(dest), { recursive: true });
    writeFileSync(dest, content);
  }
  return ctx;
}

/** `repo:tag` -> `tag` (a registry's `host:port/` is not a tag). */
export function tagPart(ref: string): string {
  const colon = ref.lastIndexOf(':');
  return colon > ref.lastIndexOf('/') ? ref.slice(colon + 1) : 'latest';
}

interface BuildEvent {
  stream?: string;
  error?: string;
  errorDetail?: { message?: string };
  aux?: { ID?: string };
}

/** Builds (or re-tags from cache) the example image, with `opts.files` in its context, and returns `opts.tag`. */
export async function buildExampleImage(opts: BuildExampleOptions): Promise<string> {
  const docker = new Docker();
  const wheels = await exampleWheelhouse(docker);
  const ctx = assembleContext(wheels, opts.files);
  try {
    const stream = await docker.buildImage(tar.pack(ctx) as unknown as NodeJS.ReadableStream, {
      t: opts.tag,
      // BuildKit: the Dockerfile uses cache/bind mounts and COPY --chmod.
      version: '2',
      rm: true,
      forcerm: true,
      networkmode: 'none',
      buildargs: {
        BASE_IMAGE: exampleLabImages().django,
        FAULT: opts.fault ?? '',
        APP_VERSION: opts.version ?? tagPart(opts.tag),
      },
    });
    const events = await new Promise<BuildEvent[]>((resolve, reject) =>
      docker.modem.followProgress(stream, (err: Error | null, res: BuildEvent[]) => (err ? reject(err) : resolve(res))),
    );
    const failed = events.find((e) => e.error || e.errorDetail);
    if (failed) {
      const log = events.map((e) => e.stream ?? '').join('').slice(-4000);
      throw new Error(`docker build of ${opts.tag} failed: ${failed.errorDetail?.message ?? failed.error}\n${log}`);
    }
    return opts.tag;
  } finally {
    rmSync(ctx, { recursive: true, force: true });
  }
}
