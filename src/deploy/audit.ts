// Step 7 on each host: write TAG (success) or restore REVERT (failure), append the audit line,
// prune old images of this repository beyond `keep`, release the lock (or hand it to what still
// runs on the host for this deploy, see `handOver`).
import { errorMessage } from '../errors.js';
import { reporter } from '../util/reporter.js';
import { auditLine, finishArgv, listTagsArgv, otherAppsTagsArgv, releaseRef, removeImagesArgv, tagsToPrune, type FinishFields } from './commands.js';
import { forEachHost, reachableAgain } from './parallel.js';
import { removeReleaseEnvArgv } from './env-file.js';
import { TAG_PATTERN } from '../config/references.js';
import { releaseLock } from './lock.js';
import type { DeployRun, HostRecord } from './types.js';
import { pruneStaticFiles } from './proxy/static-files.js';

/**
 * Finishes every host at once. `handOver(h, fields)`, when given, finishes the host itself and
 * passes its deploy lock on (the host then releases it), returning true; false when it did
 * neither (the host is then finished and its lock released here).
 */
export async function finishHosts(run: DeployRun, succeeded: boolean, result: string, handOver?: (h: HostRecord, fields: FinishFields) => Promise<boolean>): Promise<void> {
  await forEachHost([...run.hosts.keys()], async (label) => {
    const h = run.hosts.get(label)!;
    if (h.lost && (await reachableAgain(h.conn))) {
      // Dropped during the deploy but answers now: finish it like the others (TAG, audit, lock).
      reporter().info(`${label}: reachable again after "${h.lost}"`);
      h.lost = undefined;
    }
    if (h.lost) {
      // Each command would wait out a connect timeout; the ledger retries the lock once at cleanup.
      reporter().warning(`${label}: unreachable (${h.lost}); its TAG/REVERT/audit were not updated and its lock is released at cleanup if it is back`);
      return;
    }
    const warn = (e: unknown) => reporter().warning(`${label}: finishing failed (${errorMessage(e)})`);
    const fields = finishFields(run, h, succeeded, result);
    // Pruning is independent of the state written: it runs beside it.
    const prune = succeeded ? pruneImages(run, h).catch(warn) : undefined;
    const handed = handOver ? await handOver(h, fields) : false;
    if (!handed) await h.conn.check(finishArgv(run.plan.app, fields.tag, fields.revert, fields.auditLine), 'writing TAG and the audit log').catch(warn);
    await prune;
    if (handed) return;
    if (h.lock) {
      try {
        await releaseLock(h.conn, run.ledger, run.plan.app, h.lock);
        h.lock = undefined;
      } catch (e) {
        reporter().warning(`${label}: could not release the deploy lock (${errorMessage(e)}); it is retried at cleanup`);
      }
    }
  });
}

/** What finish writes on host `h`: TAG after a success; after a failure REVERT back to what it was. */
function finishFields(run: DeployRun, h: HostRecord, succeeded: boolean, result: string): FinishFields {
  const auditLine = auditLineOf(run, h, result);
  // On failure the host still runs the old tag, so REVERT goes back to what it was.
  return { tag: succeeded ? h.target : '', revert: !succeeded && h.recorded ? h.before.revert || '-' : '', auditLine };
}

function auditLineOf(run: DeployRun, h: HostRecord, result: string): string {
  return auditLine({
    time: new Date(), actor: run.actor, app: run.plan.app, command: run.mode,
    from: h.before.tag, to: releaseRef(h.target, h.digest),
    result: `${h.reverted ? `${result} (reverted)` : result}${run.untested ? ` untested: ${run.untested}` : ''}`, runId: run.runId,
  });
}

/** After a success: images of the app's repository beyond `keep` go, with their release env files and static files. */
async function pruneImages(run: DeployRun, h: HostRecord): Promise<void> {
  const { app, image, keep } = run.plan;
  const listing = (await h.tagListing) ?? (await h.conn.check(listTagsArgv(image), 'listing images')).stdout;
  if (listing instanceof Error) throw listing;
  const others = (await h.conn.check(otherAppsTagsArgv(app), 'reading the tags other apps run')).stdout.split('\n').map((t) => t.trim()).filter(Boolean);
  const old = tagsToPrune(listing, keep, [h.target, h.before.tag], others);
  if (old.length) {
    const r = await h.conn.run(removeImagesArgv(image, old));
    if (r.exitCode === 0) {
      reporter().info(`${h.label}: pruned ${old.join(', ')}`);
      await pruneStaticFiles(run, h, old);
      // Their deploy.env files go with them (a later rollback to such a tag writes a fresh one).
      const e = await h.conn.run(removeReleaseEnvArgv(app, old.filter((t) => TAG_PATTERN.test(t))));
      if (e.exitCode !== 0) reporter().warning(`${h.label}: could not remove the env files of ${old.join(', ')}: ${e.stderr.trim()}`);
    } else reporter().warning(`${h.label}: could not prune ${old.join(', ')}: ${r.stderr.trim()}`);
  }
}
