// Copies test.artifacts (JUnit XML, coverage, ...) out of the finished test container into
// <workdir>/pallet-artifacts/<shard>/. A missing path is a warning, not a failure: a crashed
// test run may not have written its report, and the exit code already says it failed.
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type Docker from 'dockerode';
import tar from 'tar-fs';
import { reporter } from '../util/reporter.js';
import { errorMessage } from '../errors.js';

export function artifactsDir(workdir: string, shardIndex: number): string {
  return path.join(path.resolve(workdir), 'pallet-artifacts', String(shardIndex));
}

/** Paths copied, as they now exist on the runner. */
export async function copyArtifacts(docker: Docker, containerId: string, paths: string[], dest: string): Promise<string[]> {
  if (!paths.length) return [];
  await mkdir(dest, { recursive: true });
  const container = docker.getContainer(containerId);
  const copied: string[] = [];
  for (const p of paths) {
    try {
      const archive = (await container.getArchive({ path: p })) as NodeJS.ReadableStream;
      // The archive's root entry is the path's basename (a file or a directory).
      await pipeline(archive, tar.extract(dest, { dmode: 0o755, fmode: 0o644 }));
      copied.push(path.join(dest, path.basename(p)));
    } catch (e) {
      reporter().warning(`artifact ${p}: not copied (${errorMessage(e).split('\n')[0]})`);
    }
  }
  return copied;
}
