// deploy.proxy.static on the hosts (the executor; the commands are in ./static-commands.ts):
// the release's files are copied out of its image on every web host right after the pull, so
// every proxy serves them before the first host switches; a failed deploy takes them away again
// and a success prunes them with the images beyond deploy.keep.
import { errorMessage } from '../../errors.js';
import { lastLines } from '../../ssh/errors.js';
import { reporter } from '../../util/reporter.js';
import { imageRef } from '../commands.js';
import { failures, forEachHost } from '../parallel.js';
import { StepError, type DeployRun, type HostRecord } from '../types.js';
import { proxiedHosts } from './rollout.js';
import { PLACE_NO_ROOT, dropStaticArgv, parsePlaced, placeStaticArgv } from './static-commands.js';

/**
 * On every host behind the proxy: the static files of the host's target release (deploy or
 * rollback) are placed and served beside those of the other kept releases. Throws a StepError
 * naming the first host that failed; the image lacking deploy.proxy.static.root says how to fix it.
 */
export async function placeStaticFiles(run: DeployRun): Promise<void> {
  const s = run.plan.proxy?.static;
  if (!s) return;
  const { app, image } = run.plan;
  const outcomes = await forEachHost(proxiedHosts(run), async (label) => {
    const h = run.hosts.get(label)!;
    const ref = imageRef(image, h.target);
    const r = await h.conn.run(placeStaticArgv(app, ref, s.root, h.target));
    if (r.exitCode === PLACE_NO_ROOT) {
      throw new StepError(label, 'static files', `${lastLines(r.stdout || r.stderr)}; collect the files into the image at build time `
        + `(RUN python manage.py collectstatic --noinput in the Dockerfile, STATIC_ROOT=${s.root}), or set deploy.proxy.static.root to the image's STATIC_ROOT`);
    }
    if (r.exitCode !== 0) throw new StepError(label, 'static files', lastLines(r.stdout || r.stderr, 2) || `exit ${r.exitCode}`);
    const placed = parsePlaced(r.stdout);
    h.staticPlaced = { tag: h.target, existed: placed.existed };
    if (placed.files === 0) reporter().warning(`${label}: ${ref} has no files in ${s.root}: the proxy answers 404 under ${s.url}; does the Dockerfile run collectstatic?`);
    reporter().info(`${label}: static files of ${h.target}: ${placed.files} files (${placed.kib} KiB) under ${s.url}, beside those of ${placed.releases.filter((t) => t !== h.target).join(', ') || 'no other release'}`);
  });
  const f = failures(outcomes)[0];
  if (f) throw f.error instanceof StepError ? f.error : new StepError(f.host, 'static files', errorMessage(f.error));
}

/**
 * After a failed deploy, on each host where this deploy placed files that were not there
 * before: they are removed and the files of the release the host still runs win again. Skipped
 * when the revert left problems (a host may still serve the new release's pages). Never throws.
 */
export async function undoStaticFiles(run: DeployRun, revertProblems: readonly string[]): Promise<void> {
  const placed = [...run.hosts.values()].filter((h) => h.staticPlaced && !h.lost);
  if (!placed.length) return;
  if (revertProblems.length) {
    reporter().warning(`the static files of ${placed[0].target} stay on ${placed.map((h) => h.label).join(', ')}: the revert did not finish everywhere`);
    return;
  }
  await forEachHost(placed.map((h) => h.label), async (label) => {
    const h = run.hosts.get(label)!;
    const { tag, existed } = h.staticPlaced!;
    await dropStatic(run, h, h.before.tag, existed || tag === h.before.tag ? [] : [tag]);
  });
}

/** After a success: the static files of the releases pruned on `h` go with their images. Never throws. */
export async function pruneStaticFiles(run: DeployRun, h: HostRecord, pruned: readonly string[]): Promise<void> {
  if (!h.staticPlaced || !pruned.length) return;
  await dropStatic(run, h, h.target, [...pruned]);
}

async function dropStatic(run: DeployRun, h: HostRecord, live: string, tags: string[]): Promise<void> {
  try {
    const r = await h.conn.run(dropStaticArgv(run.plan.app, live, tags));
    if (r.exitCode !== 0) throw new Error(lastLines(r.stdout || r.stderr, 2) || `exit ${r.exitCode}`);
    const left = parsePlaced(r.stdout).releases;
    reporter().info(`${h.label}: static files${tags.length ? ` of ${tags.join(', ')} removed` : ''}; serving those of ${left.join(', ') || 'no release'}${live ? `, ${live}'s first` : ''}`);
  } catch (e) {
    reporter().warning(`${h.label}: could not update the static files (${errorMessage(e)}); the next deploy does`);
  }
}
