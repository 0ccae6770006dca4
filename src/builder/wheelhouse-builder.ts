// Runs `pip wheel` in the builder image. What to run is assembled by pure functions; the
// staging directory holds only what pip needs (requirement files, rewritten to name reused
// wheels, and the local packages to build), so pip's in-tree builds never touch the context.
import type Docker from 'dockerode';
import { cp, mkdir, readFile, writeFile } from 'node:fs/promises';
import { statSync } from 'node:fs';
import path from 'node:path';
import { UserError } from '../errors.js';
import { isBuildByproduct } from './source-hash.js';
import { rewriteRequirements } from './requirements.js';
import type { OneOffSpec } from '../docker/run-container.js';

export const STAGE_MOUNT = '/src';
export const WHEELHOUSE_MOUNT = '/wheelhouse';

/** The builder container for `pip wheel -w /wheelhouse -r <req>... <pip_args>` (pure). */
export function pipWheelSpec(o: {
  builder: string;
  staging: string;
  wheelhouse: string;
  requirements: string[];
  pipArgs: string[];
  user?: string;
}): OneOffSpec {
  const reqArgs = o.requirements.flatMap((r) => ['-r', `${STAGE_MOUNT}/${r}`]);
  return {
    image: o.builder,
    // --find-links: wheels already in the wheelhouse (restored from cache) are taken as they are.
    cmd: ['python3', '-m', 'pip', 'wheel', '--wheel-dir', WHEELHOUSE_MOUNT, '--find-links', WHEELHOUSE_MOUNT, ...reqArgs, ...o.pipArgs],
    workingDir: STAGE_MOUNT,
    user: o.user,
    env: {
      HOME: '/tmp',
      PIP_DISABLE_PIP_VERSION_CHECK: '1',
      PIP_PROGRESS_BAR: 'off',
      PIP_NO_INPUT: '1',
      PYTHONDONTWRITEBYTECODE: '1',
    },
    binds: [`${o.staging}:${STAGE_MOUNT}`, `${o.wheelhouse}:${WHEELHOUSE_MOUNT}`],
    labels: { 'pallet.role': 'wheelhouse-builder' },
  };
}

/** uid:gid of this process, so wheels written through the bind mount belong to the invoking user. */
export function invokingUser(): string | undefined {
  return typeof process.getuid === 'function' && typeof process.getgid === 'function' ? `${process.getuid()}:${process.getgid()}` : undefined;
}

/** Copies requirement files (rewritten) and the local packages to build into `staging`. */
export async function stageSources(o: {
  context: string;
  staging: string;
  requirementFiles: string[];
  buildPackages: string[];
  /** Absolute local package path -> container path of its reused wheel. */
  reuse: Map<string, string>;
}): Promise<void> {
  for (const file of o.requirementFiles) {
    const rel = path.relative(o.context, file);
    const dest = path.join(o.staging, rel);
    await mkdir(path.dirname(dest), { recursive: true });
    await writeFile(dest, rewriteRequirements(await readFile(file, 'utf8'), file, o.reuse));
  }
  for (const rel of o.buildPackages) {
    await cp(path.join(o.context, rel), path.join(o.staging, rel), {
      recursive: true,
      filter: (src) => !isBuildByproduct(path.basename(src), isDirSync(src)),
    });
  }
}

function isDirSync(p: string): boolean {
  try { return statSync(p).isDirectory(); } catch { return false; }
}

/** Builder image ID and platform, pulling the image when it is not present. */
export async function inspectBuilder(docker: Docker, image: string): Promise<{ id: string; platform: string }> {
  let info: Docker.ImageInspectInfo;
  try {
    info = await docker.getImage(image).inspect();
  } catch (e) {
    if ((e as { statusCode?: number }).statusCode !== 404) throw e;
    try {
      await new Promise<void>((resolve, reject) => {
        docker.pull(image, {}, (err: Error | null, stream?: NodeJS.ReadableStream) => {
          if (err || !stream) return reject(err ?? new Error('no pull stream'));
          docker.modem.followProgress(stream, (e2: Error | null) => (e2 ? reject(e2) : resolve()));
        });
      });
    } catch (pullErr) {
      throw new UserError(`build.wheelhouse.builder: image '${image}' is not present and could not be pulled (${(pullErr as Error).message})`,
        'name an image with Python and a compiler toolchain that the engine can pull, or build it first');
    }
    info = await docker.getImage(image).inspect();
  }
  const variant = (info as { Variant?: string }).Variant;
  return { id: info.Id, platform: `${info.Os}/${info.Architecture}${variant ? '/' + variant : ''}` };
}
