// Pushes image tags to the registry through the engine. Credentials travel as dockerode's
// authconfig (an HTTP header to the local engine), never on a command line. Transient
// failures are retried with exponential backoff; a rejected login fails at once.
import type Docker from 'dockerode';
import { reporter } from '../util/reporter.js';
import { UserError, errorMessage } from '../errors.js';
import { followJson } from '../docker/json-stream.js';
import { backoffDelay, classifyPushFailure, PushProgress, type PushEvent } from './push-stream.js';
import type { RegistryAuth } from './registry.js';
import { REGISTRY_CREDENTIALS, registryAuthHint } from '../docker/registry-hint.js';

export interface PushOptions {
  docker: Docker;
  /** Repository without tag. */
  repo: string;
  tag: string;
  auth?: RegistryAuth;
  /** Registry host, for messages. */
  registry: string;
  attempts?: number;
  baseDelayMs?: number;
  sleep?: (ms: number) => Promise<void>;
  signal?: AbortSignal;
  /** Quiet: one line per attempt instead of per-layer progress (cache images). */
  quiet?: boolean;
}

export interface PushResult {
  ref: string;
  digest?: string;
  attempts: number;
  layers: { pushed: number; existed: number };
  durationMs: number;
}

export class RegistryAuthError extends UserError {}

/** Pushes repo:tag with retries; returns the digest from the stream's aux record. */
export async function pushTag(o: PushOptions): Promise<PushResult> {
  const started = Date.now();
  const ref = `${o.repo}:${o.tag}`;
  const attempts = o.attempts ?? 4;
  const sleep = o.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  for (let attempt = 1; ; attempt++) {
    reporter().info(`push ${ref}: attempt ${attempt} of ${attempts}`);
    const progress = new PushProgress();
    let failure: { message: string; statusCode?: number } | undefined;
    try {
      const stream = await o.docker.getImage(o.repo).push({ tag: o.tag, authconfig: o.auth, abortSignal: o.signal } as never) as unknown as NodeJS.ReadableStream;
      await followJson<PushEvent>(o.docker, stream, (ev) => {
        for (const line of progress.push(ev)) if (!o.quiet) reporter().info(`  ${line}`);
      }, { signal: o.signal });
      if (progress.error) failure = { message: progress.error };
    } catch (e) {
      failure = { message: errorMessage(e), statusCode: (e as { statusCode?: number }).statusCode };
    }
    if (!failure) {
      reporter().info(`push ${ref}: done (${progress.layers.pushed} layers pushed, ${progress.layers.existed} already there)${progress.digest ? ` digest ${progress.digest}` : ''}`);
      return { ref, digest: progress.digest, attempts: attempt, layers: progress.layers, durationMs: Date.now() - started };
    }
    const kind = classifyPushFailure(failure.message, failure.statusCode);
    if (kind === 'auth') {
      throw new RegistryAuthError(
        o.auth?.username
          ? `registry rejected the credentials for ${o.auth.username} at ${o.registry}: check registry-username/registry-password (${failure.message})`
          : `the registry at ${o.registry} refused the push: no registry credentials were given (${failure.message})`,
        registryAuthHint(failure.message, !!o.auth?.username) ?? `${REGISTRY_CREDENTIALS}, for an account that may push this image`,
      );
    }
    if (kind === 'fatal' || attempt >= attempts || o.signal?.aborted) {
      throw new UserError(`push of ${ref} failed after ${attempt} attempt(s): ${failure.message}`,
        kind === 'fatal' ? 'check the image name and that the registry accepts it' : 'the registry kept failing; try again later');
    }
    const delay = backoffDelay(attempt, o.baseDelayMs ?? 2000);
    reporter().warning(`push ${ref}: ${failure.message}; retrying in ${Math.round(delay / 100) / 10}s`);
    await sleep(delay);
  }
}
