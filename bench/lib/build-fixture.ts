// Shared by the build e2e tests and bench/build.ts: a private copy of the example app, a run
// context for it pointed at the lab registry, and removal of exactly the images a run made.
import Docker from 'dockerode';
import { cp, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { loadConfig } from '../../src/config/load.js';
import { parseInputs } from '../../src/inputs.js';
import { CleanupLedger } from '../../src/util/cleanup.js';
import type { RunContext } from '../../src/commands/context.js';
import { REPO_ROOT, type LabDescriptor } from '../../test/helpers/lab.js';
import '../../src/cleanup-handlers.js';

export const EXAMPLE_APP = path.join(REPO_ROOT, 'examples', 'django-app');

export function runId(): string {
  return randomBytes(4).toString('hex');
}

/** Copies the example app (without any local wheelhouse) into a fresh temp dir. */
export async function copyExampleApp(prefix = 'pallet-build-'): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), prefix));
  await cp(EXAMPLE_APP, dir, {
    recursive: true,
    filter: (src) => !/[/\\](wheelhouse|__pycache__|test-results|\.git)([/\\]|$)/.test(path.relative(EXAMPLE_APP, src) ? '/' + path.relative(EXAMPLE_APP, src) : ''),
  });
  return dir;
}

export interface FixtureOptions {
  dir: string;
  image: string;
  lab?: LabDescriptor;
  tag?: string;
  cache?: boolean;
  /** Credentials: the lab's (default when lab given), or explicit ones, or none. */
  username?: string;
  password?: string;
  env?: NodeJS.ProcessEnv;
  command?: string;
}

/** A RunContext as the entry point would build it, for the example app copy in `dir`. */
export function fixtureContext(o: FixtureOptions): RunContext {
  const values: Record<string, string> = {
    command: o.command ?? 'build',
    config: path.join(o.dir, 'pallet.yml'),
    'working-directory': o.dir,
    image: o.image,
    tag: o.tag ?? 'build-1',
    cache: o.cache === false ? 'false' : 'true',
    'registry-username': o.username ?? o.lab?.registry.username ?? '',
    'registry-password': o.password ?? o.lab?.registry.password ?? '',
  };
  const inputs = parseInputs((n) => values[n] ?? '');
  const config = loadConfig(inputs.config, { image: o.image });
  return {
    inputs,
    config,
    ledger: new CleanupLedger(),
    env: { PATH: process.env.PATH, HOME: process.env.HOME, PALLET_DEFAULT_BRANCH: 'main', GITHUB_REF_NAME: 'main', ...o.env },
    signal: new AbortController().signal,
  };
}

/**
 * Removes every local image of `repo` (by id), keeping base images: those tagged in it, and those
 * pulled from it that lost their tag since (a pulled cache image re-tagged by a newer build keeps
 * only its `repo@sha256:...` digest).
 */
export async function removeRepoImages(docker: Docker, repo: string): Promise<number> {
  const images = await docker.listImages();
  const mine = images.filter((i) => (i.RepoTags ?? []).some((t) => t.startsWith(repo + ':')) || (i.RepoDigests ?? []).some((d) => d.startsWith(repo + '@')));
  for (const i of mine) await docker.getImage(i.Id).remove({ force: true }).catch(() => undefined);
  return mine.length;
}

export async function removeDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}
