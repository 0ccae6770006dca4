// One BuildKit build through the Engine API: `POST /build?version=2&session=ID` with the
// context tar as the body (the same upload as the classic builder), a BuildKit session open for
// registry credentials while it runs, and its progress read by BuildkitProgress.
import type Docker from 'dockerode';
import type { Readable } from 'node:stream';
import { reporter } from '../util/reporter.js';
import { followJson } from '../docker/json-stream.js';
import { openBuildkitSession } from '../docker/buildkit-session.js';
import { BuildkitProgress, type BuildkitEvent } from './buildkit-progress.js';
import type { ParsedDockerfile } from './dockerfile.js';
import type { RegistryAuth } from './registry.js';

/** Build arg that makes BuildKit write its cache metadata into the image (Docker's inline cache). */
export const INLINE_CACHE_ARG = 'BUILDKIT_INLINE_CACHE';

/**
 * The build endpoint's query for BuildKit (pure; tested). buildargs/labels are objects (the
 * modem JSON-encodes them), cachefrom a JSON array string as the Engine API wants it.
 * `inlineCache` adds BUILDKIT_INLINE_CACHE=1 so the image can serve as a registry cache.
 */
export function buildkitQuery(o: {
  ref: string; dockerfile: string; target?: string; args: Record<string, string>; labels?: Record<string, string>;
  cacheFrom: string[]; inlineCache: boolean; session: string;
}) {
  return {
    t: o.ref,
    dockerfile: o.dockerfile,
    ...(o.target ? { target: o.target } : {}),
    buildargs: o.inlineCache ? { ...o.args, [INLINE_CACHE_ARG]: '1' } : o.args,
    labels: o.labels ?? {},
    ...(o.cacheFrom.length ? { cachefrom: JSON.stringify(o.cacheFrom) } : {}),
    version: '2',
    session: o.session,
    rm: true,
    forcerm: true,
    pull: false,
  };
}

export interface BuildkitRunOptions {
  docker: Docker;
  context: Readable;
  query: Omit<Parameters<typeof buildkitQuery>[0], 'session'>;
  dockerfile?: ParsedDockerfile;
  auth?: RegistryAuth;
  signal?: AbortSignal;
  /** Receives each progress line (the log). */
  onLine?: (line: string) => void;
}

/** Runs one BuildKit build to its end; the result carries the steps and, on failure, the error. */
export async function runBuildkitBuild(o: BuildkitRunOptions) {
  const session = await openBuildkitSession(o.docker, o.auth);
  const progress = new BuildkitProgress(o.dockerfile);
  const onLine = o.onLine ?? ((l: string) => reporter().info(l));
  try {
    const stream = await new Promise<NodeJS.ReadableStream>((resolve, reject) => {
      o.docker.modem.dial({
        path: '/build?',
        method: 'POST',
        file: o.context,
        options: buildkitQuery({ ...o.query, session: session.id }),
        abortSignal: o.signal,
        isStream: true,
        statusCodes: { 200: true, 400: 'bad parameter', 500: 'server error' },
      } as never, (err: Error | null, s: unknown) => (err ? reject(err) : resolve(s as NodeJS.ReadableStream)));
    });
    await followJson<BuildkitEvent>(o.docker, stream, (ev) => { for (const l of progress.push(ev)) onLine(l); }, { signal: o.signal, idleMs: 30 * 60 * 1000 });
  } finally {
    session.close();
  }
  return progress.result();
}
