// Step 2: get the image onto every host before anything restarts (the slow part, in parallel),
// after the release's env file (deploy.env) is in place there (release-env.ts).
// Registry credentials reach each host's `docker login` on stdin, never on its command line, and
// are stored only in a per-deploy DOCKER_CONFIG directory removed right after the pull.
import { randomBytes } from 'node:crypto';
import { UserError, errorMessage } from '../errors.js';
import { inputLabel } from '../ssh/material.js';
import type { CleanupItem, CleanupLedger } from '../util/cleanup.js';
import type { HostConnection } from '../ssh/connection.js';
import { formatDuration, reporter } from '../util/reporter.js';
import { lastLines } from '../ssh/errors.js';
import { withRegistryAuthHint } from '../docker/registry-hint.js';
import { digestOf, imageDigestsArgv, imageRef, listTagsArgv, loginArgv, pullArgv, pullDigestArgv } from './commands.js';
import { dockerConfigPath, makeDockerConfigArgv, removeDockerConfigArgv } from './host-commands.js';
import { failures, forEachHost } from './parallel.js';
import { prepareReleaseEnv } from './release-env.js';
import { StepError, type DeployRun, type HostRecord } from './types.js';

export interface RegistryLogin {
  registry: string;
  username: string;
  password: string;
}

/** Registry host of an image reference: the part before the first '/' if it looks like a host. */
export function registryOf(image: string): string | undefined {
  const first = image.split('/')[0];
  return image.includes('/') && (first.includes('.') || first.includes(':') || first === 'localhost') ? first : undefined;
}

/** The pull command for one host, given the DOCKER_CONFIG directory to use (undefined: the host's own). */
export type PullCommand = (dockerConfig?: string) => string[];

/**
 * Makes `image` present on `conn`: kept when there, else pulled (with `login` when the image is on
 * its registry; the credentials on stdin, see pullOnHost). Returns whether it was pulled. Throws a
 * StepError naming `what` and the pull's last lines, with `fix` (what to set) and a login hint.
 */
export async function ensureImageOnHost(ledger: CleanupLedger, conn: HostConnection, image: string, login: RegistryLogin | undefined, what: string, fix: string): Promise<boolean> {
  if ((await conn.run(imageDigestsArgv(image))).exitCode === 0) return false;
  const same = login && registryOf(image) === login.registry ? login : undefined;
  reporter().info(`${conn.name}: pulling ${what} ${image}`);
  const r = await pullOnHost({ ledger }, { label: conn.name, conn }, (dir) => pullArgv(image, dir), same, false);
  if (r.exitCode !== 0) {
    throw new StepError(conn.name, `pull of ${what} ${image}`, `${lastLines(r.stderr || r.stdout, 3)} (${fix}${same ? '' : '; for a private registry give the registry login'})`);
  }
  return true;
}

/**
 * Runs a pull on one host. With a login: a fresh 0700 DOCKER_CONFIG directory (recorded in the
 * ledger first) holds the credentials for login+pull only and is removed whatever happens.
 */
export async function pullOnHost(run: Pick<DeployRun, 'ledger'>, h: Pick<HostRecord, 'conn' | 'label'>, pull: PullCommand, login: RegistryLogin | undefined, strictLogin: boolean) {
  if (!login) return h.conn.run(pull());
  const dir = dockerConfigPath(randomBytes(8).toString('hex'));
  const item: CleanupItem = { kind: 'remote-docker-config', host: h.label, path: dir, sshArgs: h.conn.directPrefix() };
  run.ledger.add(item);
  try {
    await h.conn.check(makeDockerConfigArgv(dir), 'creating the registry credentials directory');
    const l = await h.conn.run(loginArgv(login.registry, login.username, dir), { input: login.password + '\n' });
    if (l.exitCode !== 0 && strictLogin) throw new StepError(h.label, 'registry login', withRegistryAuthHint(lastLines(l.stderr || l.stdout), true));
    return await h.conn.run(pull(dir));
  } finally {
    try {
      await h.conn.check(removeDockerConfigArgv(dir), 'removing the registry credentials directory');
      run.ledger.done(item);
    } catch (e) {
      reporter().warning(`${h.label}: ${errorMessage(e)}; it is retried at cleanup`);
    }
  }
}

export async function pullEverywhere(run: DeployRun, login?: RegistryLogin): Promise<void> {
  const labels = [...run.hosts.keys()];
  let done = 0;
  const outcomes = await forEachHost(labels, async (label) => {
    const h = run.hosts.get(label)!;
    const { image } = run.plan;
    const digest = run.digest;
    // By digest (every deploy that resolved one): the host's tag is made to name exactly those bytes.
    const ref = digest ? `${image}@${digest}` : imageRef(image, h.target);
    await prepareReleaseEnv(run, h);
    await run.hooks.beforePull?.(label);
    const t0 = Date.now();
    const r = await pullOnHost(run, h, (dir) => (digest ? pullDigestArgv(image, digest, h.target, dir) : pullArgv(ref, dir)), login, true);
    if (r.exitCode !== 0) throw new StepError(label, `pull ${ref}`, withRegistryAuthHint(lastLines(r.stderr || r.stdout), !!login));
    h.pullMs = Date.now() - t0;
    h.digest = digest ?? /Digest: (\S+)/.exec(r.stdout)?.[1];
    listTagsEarly(run, h);
    done++;
    reporter().info(`[${done}/${labels.length}] ${label}: pulled ${digest ? `${image}:${h.target}@${digest}` : ref} in ${formatDuration(h.pullMs)}`);
  });
  const failed = failures(outcomes);
  if (failed.length) throw failed[0].error instanceof StepError ? failed[0].error : new StepError(failed[0].host, 'pull', errorMessage(failed[0].error));
}

/**
 * Rollback: the target tag must be on every host already, or still pullable. Checked on all
 * hosts before any is touched; the error names every host missing it.
 */
export async function ensureTargetsAvailable(run: DeployRun, login?: RegistryLogin): Promise<void> {
  const missing: string[] = [];
  const outcomes = await forEachHost([...run.hosts.keys()], async (label) => {
    const h = run.hosts.get(label)!;
    const ref = imageRef(run.plan.image, h.target);
    await prepareReleaseEnv(run, h);
    const t0 = Date.now();
    const local = await h.conn.run(imageDigestsArgv(ref));
    if (local.exitCode === 0) { h.pullMs = 0; h.digest = digestOf(local.stdout, run.plan.image) || undefined; listTagsEarly(run, h); return; }
    const r = await pullOnHost(run, h, (dir) => pullArgv(ref, dir), login, false);
    if (r.exitCode !== 0) { missing.push(`${label} (${h.target})`); return; }
    h.pullMs = Date.now() - t0;
    h.digest = /Digest: (\S+)/.exec(r.stdout)?.[1];
    listTagsEarly(run, h);
  });
  const failed = failures(outcomes);
  if (failed.length) throw new StepError(failed[0].host, 'checking the rollback image', errorMessage(failed[0].error));
  if (missing.length) {
    throw new UserError(
      `rollback refused, nothing was changed: ${run.plan.image} tag not available on ${missing.sort().join(', ')}`,
      `pick a tag that is still in the registry or kept on every host (deploy.keep), with ${inputLabel('tag', run.where)}`,
    );
  }
}

/** Starts reading the repository's tags on `h` (for pruning at the end) while the deploy goes on. */
function listTagsEarly(run: DeployRun, h: HostRecord): void {
  h.tagListing = h.conn.check(listTagsArgv(run.plan.image), 'listing images').then((r) => r.stdout, (e: unknown) => (e instanceof Error ? e : new Error(String(e))));
}
