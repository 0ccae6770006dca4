// `pallet review deploy N | destroy N | list` (action commands review-deploy, review-destroy,
// review-list): pull requests as apps of their own on review.hosts (src/review/plan.ts says what
// one is). deploy: refuse forks, reap stale review apps, apply the cap, start the app's services,
// then the normal rollout of the derived config (health checks, tasks against its own database,
// revert on failure) inside a GitHub deployment of environment review/pr-N. destroy: everything
// the review app owns on its host, safe to run twice, and its GitHub deployments marked inactive.
import type { CommandResult, RunContext } from './context.js';
import { resolveTag, sessionOptions } from './context.js';
import { UserError, errorMessage } from '../errors.js';
import { reporter } from '../util/reporter.js';
import { parseHost, type SshTarget } from '../ssh/host.js';
import { openSession, type OpsSession } from '../ops/remote.js';
import { failures, forEachHost } from '../deploy/parallel.js';
import { runIdentity } from '../deploy/index.js';
import { retireWaitSeconds } from '../deploy/lock.js';
import { countOf } from '../ops/remove.js';
import { imageRef } from '../deploy/commands.js';
import type { PalletConfig, ReviewConfig } from '../config/types.js';
import { deployWithReport, registryLogin } from './deploy.js';
import { resolveRelease } from './release.js';
import type { DeployReport } from '../deploy/index.js';
import { removeApp, removalRows, REMOVAL_HEADER, type RemoveRequest, type RemoveRow } from './remove.js';
import { closedPullRequests, deactivateDeployments } from '../github/review.js';
import { pullRequestEvent, refuseForkDeploy } from '../review/event.js';
import { startReviewServices } from '../review/services.js';
import {
  REVIEW_HEADER, ago, capDecision, chooseHost, ownedTagsToRemove, parsePullRequest, reviewDeployConfig, reviewOf, reviewRows, reviewTarget, staleApps,
  type ReviewApp, type ReviewTarget,
} from '../review/plan.js';
import { hasImageArgv, markReviewArgv, parseReviewList, pulledImagesPath, removeOwnedImagesArgv, removePulledImagesArgv, reviewListArgv, servicesDownArgv } from '../review/commands.js';

export type ReviewCommand = 'review-deploy' | 'review-destroy' | 'review-list';

export async function runReviewCommand(ctx: RunContext, cmd: ReviewCommand): Promise<CommandResult> {
  const review = reviewOf(ctx.config);
  if (cmd === 'review-deploy') refuseForkDeploy(pullRequestEvent(ctx.env));
  const number = cmd === 'review-list' ? 0 : pullRequestOf(ctx, cmd);
  const session = await openSession(reviewHosts(ctx.config, review), sessionOptions(ctx));
  try {
    const listing = await listReviewApps(session, ctx.config.app);
    switch (cmd) {
      case 'review-list': return listCommand(ctx, listing);
      case 'review-destroy': return await destroyCommand(ctx, session, listing, reviewTarget(ctx.config, number));
      case 'review-deploy': return await deployCommand(ctx, review, session, listing, reviewTarget(ctx.config, number));
    }
  } finally {
    await session.close();
  }
}

/** The pull request's number: the input (or the CLI's third word), else the event's. */
function pullRequestOf(ctx: RunContext, cmd: ReviewCommand): number {
  const sub = cmd.replace('review-', '');
  const label = ctx.where === 'flag' ? `the pull request number (pallet review ${sub} N)` : "input 'pull-request'";
  if (ctx.inputs.ops.pullRequest !== undefined) return parsePullRequest(ctx.inputs.ops.pullRequest, label);
  const e = pullRequestEvent(ctx.env);
  if (e) return parsePullRequest(e.number, `the ${e.event} event's number`);
  throw new UserError(`review ${sub}: which pull request? Give its number`,
    ctx.where === 'flag' ? `e.g. pallet review ${sub} 12` : 'in a pull_request workflow it is read from the event; elsewhere set pull-request: 12');
}

function reviewHosts(config: PalletConfig, review: ReviewConfig): SshTarget[] {
  const defaults = { user: config.deploy?.ssh.user ?? 'deploy', port: config.deploy?.ssh.port ?? 22 };
  return review.hosts.map((h) => parseHost(h, defaults, 'review.hosts'));
}

/** Every review app of the config's app on the review hosts, and each host's clock (epoch seconds). */
interface Listing {
  apps: ReviewApp[];
  now: Map<string, number>;
}

async function listReviewApps(session: OpsSession, app: string): Promise<Listing> {
  const labels = [...session.conns.keys()];
  const outcomes = await forEachHost(labels, async (label) => parseReviewList((await session.conns.get(label)!.check(reviewListArgv(app), 'listing the review apps')).stdout, label));
  const f = failures(outcomes)[0];
  if (f) throw new UserError(`${f.host}: ${errorMessage(f.error)}`);
  const listing: Listing = { apps: [], now: new Map() };
  for (const o of outcomes) if (o.ok) { listing.apps.push(...o.value.apps); listing.now.set(o.host, o.value.now); }
  return listing;
}

function listCommand(ctx: RunContext, listing: Listing): CommandResult {
  const now = Math.max(0, ...listing.now.values());
  const url = (n: number) => reviewTarget(ctx.config, n).url;
  if (ctx.inputs.ops.json) {
    const apps = listing.apps.map((a) => ({ app: a.app, pullRequest: a.number, url: url(a.number), tag: a.tag, host: a.on, created: a.created, lastDeploy: a.activity }));
    process.stdout.write(`${JSON.stringify({ app: ctx.config.app, reviewApps: apps }, null, 2)}\n`);
    return { exitCode: 0, outputs: {} };
  }
  const s = reporter().summary.heading(`Review apps of ${ctx.config.app}`);
  if (!listing.apps.length) s.text('No review apps: pallet review deploy N (or the reusable workflow with review: true) makes one per pull request.');
  else s.table(REVIEW_HEADER, reviewRows(listing.apps, now, url));
  return { exitCode: 0, outputs: {} };
}

/** A removal of review apps: all they own on their host, their data with them. */
function removeRequest(ctx: RunContext, app: string, owned: (host: string) => string[]): RemoveRequest {
  const { runId, actor } = runIdentity(ctx.env);
  const roles = Object.values(ctx.config.deploy?.roles ?? {});
  const stops = roles.map((r) => r.stop_timeout);
  return {
    app, image: ctx.config.image, deleteData: true, stopTimeout: Math.max(10, ...stops),
    retireWait: retireWaitSeconds(ctx.config.deploy?.proxy ? ctx.config.deploy.proxy.drain_timeout : undefined, stops),
    runId, actor, ledger: ctx.ledger, signal: ctx.signal,
    extras: {
      services: async (conn) => (await conn.check(servicesDownArgv(app), 'removing the review services')).stdout,
      images: async (conn) => (await conn.check(removeOwnedImagesArgv(ctx.config.image, app, owned(conn.name)), 'removing the review app\'s images')).stdout,
    },
  };
}

/** Removes review app `a` from its host; throws naming it when the host could not be cleared. */
async function removeReviewApp(ctx: RunContext, session: OpsSession, a: ReviewApp): Promise<RemoveRow> {
  const [row] = await removeApp([session.conns.get(a.on)!], removeRequest(ctx, a.app, () => a.owned));
  if (row.error) throw new UserError(`${a.on}: removing review app ${a.app} failed: ${row.error}`, `run pallet review destroy ${a.number} again`);
  return row;
}

/** The service images the review apps pulled onto `host` go with the last of them (`others`: those that stay). */
async function removeServiceImagesIfLast(ctx: RunContext, session: OpsSession, host: string, others: ReviewApp[]): Promise<void> {
  if (others.some((a) => a.on === host)) return;
  const out = (await session.conns.get(host)!.check(removePulledImagesArgv(pulledImagesPath(ctx.config.app)), 'removing the review services\' images')).stdout;
  if (countOf(out, 'removed')) reporter().info(`${host}: removed ${countOf(out, 'removed')} service image(s) the review apps had pulled (the last review app is gone)`);
}

/**
 * A new review app whose first deploy failed leaves nothing: its services, network, image and
 * state go (the rollout already reverted its containers). A failure here is a warning naming
 * what to run.
 */
async function undoFirstDeploy(ctx: RunContext, session: OpsSession, a: ReviewApp, others: ReviewApp[]): Promise<void> {
  try {
    await removeReviewApp(ctx, session, a);
    await removeServiceImagesIfLast(ctx, session, a.on, others);
    reporter().info(`${a.on}: removed what the failed first deploy of ${a.app} made (its services, network and state)`);
  } catch (e) {
    reporter().warning(`could not remove what the failed first deploy of ${a.app} made: ${errorMessage(e)}; run pallet review destroy ${a.number}`);
  }
}

async function destroyCommand(ctx: RunContext, session: OpsSession, listing: Listing, target: ReviewTarget): Promise<CommandResult> {
  const mine = listing.apps.filter((a) => a.app === target.app);
  const r = reporter();
  let rows: RemoveRow[] = [];
  if (!mine.length) {
    r.info(`no review app ${target.app} on ${[...session.conns.keys()].join(', ')}: nothing to remove`);
  } else {
    rows = await removeApp(mine.map((a) => session.conns.get(a.on)!), removeRequest(ctx, target.app, (host) => mine.find((a) => a.on === host)?.owned ?? []));
    for (const host of new Set(mine.map((a) => a.on))) await removeServiceImagesIfLast(ctx, session, host, listing.apps.filter((a) => a.app !== target.app));
    r.summary.heading(`Removed review app ${target.app}`).table([...REMOVAL_HEADER.slice(0, 3), 'services', ...REMOVAL_HEADER.slice(3)], removalRows(rows).map((row, i) => [...row.slice(0, 3), String(rows[i].services ?? 0), ...row.slice(3)]));
    for (const x of rows.filter((y) => y.error)) r.error(`${x.host}: ${x.error}`);
  }
  const inactive = await deactivateDeployments(ctx.env, ctx.inputs.githubToken, target.environment);
  if (inactive) r.info(`marked ${inactive} GitHub deployment(s) of ${target.environment} inactive`);
  return { exitCode: rows.some((x) => x.error) ? 1 : 0, outputs: { 'review-app': target.app } };
}

async function deployCommand(ctx: RunContext, review: ReviewConfig, session: OpsSession, listing: Listing, target: ReviewTarget): Promise<CommandResult> {
  const r = reporter();
  const tag = resolveTag(ctx.inputs, ctx.env);
  // The tag, its digest and the test gate, before anything is changed.
  const release = await resolveRelease(ctx, tag);
  let apps = listing.apps;
  // Stale review apps go first: closed without the closing event, or idle past review.idle_days.
  const others = [...new Set(apps.filter((a) => a.app !== target.app).map((a) => a.number))];
  const closed = await closedPullRequests(ctx.env, ctx.inputs.githubToken, others);
  const stale = apps.filter((a) => a.app !== target.app).flatMap((a) => staleApps([a], target.app, listing.now.get(a.on) ?? 0, review.idle_days, closed));
  for (const { app, why } of stale) {
    r.info(`removing the stale review app ${app.app} on ${app.on}: ${why}`);
    await removeReviewApp(ctx, session, app);
  }
  apps = apps.filter((a) => !stale.some((s) => s.app.app === a.app));
  const decision = capDecision(apps, target.app, review);
  if (decision.kind === 'refuse') {
    const o = decision.oldest;
    const idle = ago((listing.now.get(o.on) ?? 0) - o.activity);
    throw new UserError(`review deploy refused, nothing was changed: review.max is ${review.max} and ${decision.live} review apps are live; the one idle longest is ${o.app} (pull request #${o.number}, last deploy ${idle} ago, on ${o.on})`,
      `remove it with pallet review destroy ${o.number} (closing its pull request does it in the workflow), raise review.max, or set review.evict_oldest: true to have it removed for a new one`);
  }
  if (decision.kind === 'evict') {
    r.info(`review.max (${review.max}) reached: removing ${decision.app.app} (pull request #${decision.app.number}), the one idle longest (review.evict_oldest)`);
    await removeReviewApp(ctx, session, decision.app);
    apps = apps.filter((a) => a.app !== decision.app.app);
  }
  const host = chooseHost(review, apps, target.app);
  const conn = session.conns.get(host)!;
  const before = apps.find((a) => a.app === target.app);
  // An image the host did not have before is this review app's: it goes with it.
  const fresh = (await conn.run(hasImageArgv(imageRef(ctx.config.image, tag)))).exitCode !== 0;
  const owned = [...new Set([...(before?.owned ?? []), ...(fresh ? [tag] : [])])];
  let outcome: { result: CommandResult; report: DeployReport };
  try {
    await conn.check(markReviewArgv(target.app, ctx.config.app, target.number, target.hostName, '', owned), 'recording the review app');
    const serviceEnv = await r.group(`Services of ${target.app} on ${host}`, () => startReviewServices(conn, review, ctx.config.app, target.app, registryLogin(ctx), ctx.ledger));
    const config = reviewDeployConfig(ctx.config, target, host, serviceEnv);
    outcome = await deployWithReport({ ...ctx, config }, 'deploy', undefined, release);
  } catch (e) {
    if (!before) await undoFirstDeploy(ctx, session, { app: target.app, number: target.number, host: target.hostName, on: host, tag: '', created: 0, activity: 0, owned }, apps);
    throw e;
  }
  const { result, report } = outcome;
  const outputs = { ...result.outputs, 'review-url': target.url, 'review-app': target.app };
  if (!report.ok) {
    if (!before) await undoFirstDeploy(ctx, session, { app: target.app, number: target.number, host: target.hostName, on: host, tag: '', created: 0, activity: 0, owned }, apps);
    return { ...result, outputs };
  }
  const h = report.hosts[0];
  const { remove, keep } = ownedTagsToRemove(owned, [h?.newTag ?? tag, h?.oldTag ?? '']);
  if (remove.length) {
    const out = (await conn.check(removeOwnedImagesArgv(ctx.config.image, target.app, remove), 'removing the review app\'s older images')).stdout;
    r.info(`${host}: removed ${countOf(out, 'removed')} older image(s) of ${target.app}`);
  }
  await conn.check(markReviewArgv(target.app, ctx.config.app, target.number, target.hostName, tag, keep), 'recording the review app');
  r.summary.heading(`Review app ${target.app}`).table(['app', 'pull request', 'address', 'host', 'image', 'services'],
    [[target.app, `#${target.number}`, target.url, host, tag, review.services.map((s) => s.name).join(', ') || '-']]);
  r.info(`review app of pull request #${target.number}: ${target.url}`);
  return { ...result, outputs };
}
