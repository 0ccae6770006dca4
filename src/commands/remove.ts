// `remove` (CLI: `pallet remove --yes`): retires the app from its hosts (or --host): its routes
// leave the proxy (other apps keep being served), its containers stop gracefully and go, then
// its network, its static files, the images of its repository no container uses, and its state directory. Its
// data (storage/, backups/) stays unless --delete-data. Refused, with nothing changed, while a
// deploy holds the lock on any of the hosts; never without --yes. On a Swarm: through the
// manager, the stack, its network, the manager's images and state.
import type { CommandResult, RunContext } from './context.js';
import { sessionOptions } from './context.js';
import { UserError, errorMessage } from '../errors.js';
import { reporter } from '../util/reporter.js';
import { planDeploy } from '../deploy/plan.js';
import { forEachHost } from '../deploy/parallel.js';
import { runIdentity } from '../deploy/index.js';
import { acquireLock, lockEvery, releaseLock, retireWaitSeconds, type HeldLock } from '../deploy/lock.js';
import { listTagsArgv, stateDir } from '../deploy/commands.js';
import { appNetwork, removeRouteArgv } from '../deploy/proxy/commands.js';
import { removeStaticArgv } from '../deploy/proxy/static-commands.js';
import { unscheduleCronArgv } from '../cron/commands.js';
import { lastLines } from '../ssh/errors.js';
import { openSession, openSwarmManager } from '../ops/remote.js';
import { selectForView, swarmManager } from '../ops/select.js';
import { planSwarm } from '../swarm/plan.js';
import type { HostConnection } from '../ssh/connection.js';
import type { CleanupLedger } from '../util/cleanup.js';
import {
  appContainerNamesArgv, appRoutesArgv, countOf, parseAppRoutes, removeContainersArgv, removeEmptyDirArgv, removeImagesArgv, removeNetworkArgv, removeStackArgv, removeStateArgv,
} from '../ops/remove.js';

export interface RemoveRequest {
  app: string;
  /** The app's image repository (no tag). */
  image: string;
  /** Also delete storage/ and backups/ under the state directory. */
  deleteData: boolean;
  /** Seconds each container gets to stop (the longest stop_timeout of the roles). */
  stopTimeout: number;
  /** Seconds to wait for a deploy's background retire of old containers (see acquireLockArgv). */
  retireWait: number;
  runId: string;
  actor: string;
  ledger: CleanupLedger;
  signal: AbortSignal;
  /** What an app owns beyond what every app has (a review app: its services, and only its own images). */
  extras?: RemovalExtras;
}

/** Steps of a removal that differ by kind of app; each returns the step's key=value output. */
export interface RemovalExtras {
  /** Runs after the containers: removes the app's services (containers and volumes); prints removed=N. */
  services(conn: HostConnection): Promise<string>;
  /** Replaces the repository-wide image removal; prints removed=N and kept=N. */
  images(conn: HostConnection): Promise<string>;
}

export const REMOVAL_HEADER = ['host', 'routes', 'containers', 'network', 'images', 'kept', 'result'];

/** Pure: the table of a removal, every column a count (routes with their roles) or a state. */
export function removalRows(rows: RemoveRow[]): string[][] {
  return rows.map((x) => [
    x.host, x.routes.length ? `${x.routes.length} (${x.routes.join(', ')})` : '0', String(x.containers), x.network ? 'removed' : '-',
    `${x.images}${x.imagesKept ? ` (+${x.imagesKept} in use)` : ''}`, x.kept || '-', x.error ? `error: ${x.error}` : 'removed',
  ]);
}

/** What was removed from one host (counts), or why it stopped there. */
export interface RemoveRow {
  host: string;
  routes: string[];
  containers: number;
  /** Service containers (a review app's), with their volumes. */
  services?: number;
  network: boolean;
  /** Its static files (deploy.proxy.static) and its crontab line (deploy.cron) were there and are gone. */
  staticFiles?: boolean;
  crontab?: boolean;
  images: number;
  /** Tags of the repository still used by a container (another app's). */
  imagesKept: number;
  /** What stayed in the state directory (`storage backups`, '' = nothing). */
  kept: string;
  error?: string;
}

/**
 * Removes the app from every host of `conns` (connections open). Takes the deploy lock on all
 * of them first: if one is held, releases the others and throws a UserError before anything
 * changed. Then, on each host at once: routes (the proxy reloads without them; a proxy that does
 * not run keeps none in its config), containers, network, images, state; the lock is released
 * last. A host that fails is reported in its row; the others go on.
 */
export async function removeApp(conns: HostConnection[], req: RemoveRequest): Promise<RemoveRow[]> {
  const locks = await lockEvery(conns, req.ledger, {
    app: req.app, runId: req.runId, actor: req.actor, timeout: 0, breakStale: false, signal: req.signal, retireWait: req.retireWait,
  }, 'remove', 'run pallet remove again');
  const outcomes = await forEachHost(conns.map((c) => c.name), (label) => removeFromHost(conns.find((c) => c.name === label)!, locks.get(label)!, req));
  return outcomes.map((o) => (o.ok ? o.value : { host: o.host, routes: [], containers: 0, network: false, images: 0, imagesKept: 0, kept: '', error: errorMessage(o.error) }));
}

/** What `removeStack` needs beyond a RemoveRequest: the stack and its overlay network. */
export interface StackRemoval {
  stack: string;
  network: string;
  /** Seconds to wait for the services, then for the network, to go. */
  waitSeconds: number;
}

/**
 * Removes the app from a Docker Swarm through its manager (`conn`, open): under the deploy lock
 * the manager keeps, the stack (every service), the overlay network, the repository's images no
 * container on the manager uses, and the state directory. A held lock refuses it unchanged.
 * Images pulled on other nodes stay there (Swarm has no command for them).
 */
export async function removeStack(conn: HostConnection, req: RemoveRequest, s: StackRemoval): Promise<RemoveRow> {
  let lock: HeldLock;
  try {
    lock = await acquireLock(conn, req.ledger, { app: req.app, runId: req.runId, actor: req.actor, timeout: 0, breakStale: false, signal: req.signal, retireWait: req.retireWait });
  } catch (e) {
    throw new UserError(`remove refused, nothing was changed: ${errorMessage(e)}`, 'wait until the deploy is done (pallet lock status shows who holds the lock), then run pallet remove again');
  }
  const step = stepOn(conn);
  const stack = await step(removeStackArgv(s.stack, s.network, s.waitSeconds), 'removing the stack');
  const images = await step(removeImagesArgv(req.image, req.app), 'removing the images');
  const kept = await finishState(conn, lock, req, step);
  const row = { host: conn.name, routes: [], containers: countOf(stack, 'services'), network: countOf(stack, 'network') > 0, images: countOf(images, 'removed'), imagesKept: countOf(images, 'kept'), kept };
  reporter().info(`${conn.name}: removed ${row.containers} service(s) of stack ${s.stack}, ${row.network ? 'its network' : 'no network'}, ${row.images} image(s) on the manager${kept ? `, its state (kept: ${kept})` : ', its state'}; images other nodes pulled stay there`);
  return row;
}

/** Runs one removal command; throws naming `what` and the command's last lines when it fails. */
function stepOn(conn: HostConnection) {
  return async (argv: string[], what: string): Promise<string> => {
    const r = await conn.run(argv);
    if (r.exitCode !== 0) throw new Error(`${what}: ${lastLines(r.stdout || r.stderr, 2) || `exit ${r.exitCode}`}`);
    return r.stdout;
  };
}

/** The state directory (data kept unless deleteData), then the lock, then the directory if empty; returns what was kept. */
async function finishState(conn: HostConnection, lock: HeldLock, req: RemoveRequest, step: ReturnType<typeof stepOn>): Promise<string> {
  const kept = /^kept=(.*)$/m.exec(await step(removeStateArgv(stateDir(req.app), req.deleteData), 'removing the state directory'))?.[1].trim() ?? '';
  await releaseLock(conn, req.ledger, req.app, lock);
  if (!kept) await step(removeEmptyDirArgv(stateDir(req.app)), 'removing the state directory');
  return kept;
}

async function removeFromHost(conn: HostConnection, lock: HeldLock, req: RemoveRequest): Promise<RemoveRow> {
  const { app } = req;
  const step = stepOn(conn);
  const routes = parseAppRoutes(await step(appRoutesArgv(app), 'listing the routes'), app);
  for (const role of routes) await step(removeRouteArgv(app, role, true), `removing the route of ${role}`);
  // Its scheduled jobs (deploy.cron) stop before its containers go (a run in progress goes with them).
  const crontab = countOf(await step(unscheduleCronArgv(app), 'removing the crontab line'), 'removed') > 0;
  const containers = countOf(await step(removeContainersArgv(app, req.stopTimeout), 'removing the containers'), 'removed');
  const services = req.extras ? countOf(await req.extras.services(conn), 'removed') : undefined;
  const network = countOf(await step(removeNetworkArgv(appNetwork(app)), 'removing the network'), 'removed') > 0;
  // The files the proxy served for it (deploy.proxy.static), now that no route names them.
  const staticFiles = countOf(await step(removeStaticArgv(app), 'removing the static files'), 'removed') > 0;
  const images = req.extras ? await req.extras.images(conn) : await step(removeImagesArgv(req.image, req.app), 'removing the images');
  const kept = await finishState(conn, lock, req, step);
  const row = { host: conn.name, routes, containers, ...(services !== undefined ? { services } : {}), network, staticFiles, crontab, images: countOf(images, 'removed'), imagesKept: countOf(images, 'kept'), kept };
  reporter().info(`${conn.name}: removed ${describe(row)}`);
  return row;
}

function describe(r: RemoveRow): string {
  const parts = [
    `${r.routes.length} route(s)`, `${r.containers} container(s)`, ...(r.services !== undefined ? [`${r.services} service(s) with their volumes`] : []), r.network ? 'its network' : 'no network',
    ...(r.staticFiles ? ['its static files'] : []), ...(r.crontab ? ['its crontab line (scheduled jobs)'] : []),
    `${r.images} image(s)${r.imagesKept ? ` (${r.imagesKept} kept: in use by other containers)` : ''}`,
    r.kept ? `its state (kept: ${r.kept})` : 'its state',
  ];
  return parts.join(', ');
}

/** What a removal would take from one host: route roles, container names, image tags of the repository. */
export interface RemovalPreview {
  host: string;
  routes: string[];
  containers: string[];
  images: string[];
  error?: string;
}

/** Reads, without changing anything, what removeApp would take from each host. */
export async function previewRemoval(conns: HostConnection[], app: string, image: string): Promise<RemovalPreview[]> {
  const outcomes = await forEachHost(conns.map((c) => c.name), async (label) => {
    const step = stepOn(conns.find((c) => c.name === label)!);
    const [routes, containers, images] = await Promise.all([
      step(appRoutesArgv(app), 'listing the routes'), step(appContainerNamesArgv(app), 'listing the containers'), step(listTagsArgv(image), 'listing the images'),
    ]);
    const lines = (s: string) => s.split('\n').map((l) => l.trim()).filter(Boolean);
    return { routes: parseAppRoutes(routes, app), containers: lines(containers), images: lines(images).map((l) => l.split('\t')[0]).filter((t) => t !== '<none>') };
  });
  return outcomes.map((o) => (o.ok ? { host: o.host, ...o.value } : { host: o.host, routes: [], containers: [], images: [], error: errorMessage(o.error) }));
}

/** Pure: the dry run's table rows: per host the routes, containers and images by name. */
export function previewRows(rows: RemovalPreview[]): string[][] {
  const list = (xs: string[]) => xs.join(', ') || '-';
  return rows.map((x) => (x.error ? [x.host, '?', '?', `could not list: ${x.error}`] : [x.host, list(x.routes), list(x.containers), list(x.images)]));
}

export async function runRemoveCommand(ctx: RunContext): Promise<CommandResult> {
  const { config } = ctx;
  const swarm = config.deploy?.swarm ? planSwarm(config) : undefined;
  const plan = swarm ? undefined : planDeploy(config);
  const targets = swarm ? [swarmManager(swarm, { host: ctx.inputs.ops.host, where: ctx.where })] : selectForView(plan!, { host: ctx.inputs.ops.host, where: ctx.where }).hosts;
  const flag = ctx.where === 'input' ? "input 'yes: true'" : '--yes';
  if (!ctx.inputs.ops.yes) {
    // A dry run: what would go, by name, read from the hosts (a host that cannot be asked says so).
    if (plan) {
      const session = await openSession(targets, sessionOptions(ctx)).catch((e: unknown) => { reporter().warning(`could not list what would be removed: ${errorMessage(e)}`); return undefined; });
      if (session) {
        try {
          reporter().summary.heading(`Would remove ${config.app}`).table(['host', 'routes (roles)', 'containers', 'images (tags; those a container still uses stay)'], previewRows(await previewRemoval([...session.conns.values()], config.app, plan.image)));
          await reporter().summary.write();
        } finally {
          await session.close();
        }
      }
    }
    const what = swarm ? `the Swarm of ${targets[0].label}: its stack, network, images on the manager and state` : `${targets.map((t) => t.label).join(', ')}: its routes, containers, network, static files, scheduled jobs, images and state`;
    throw new UserError(`remove takes ${config.app} off ${what}${ctx.inputs.ops.deleteData ? ', and its data (storage/, backups/)' : ' (its storage/ and backups/ stay)'}; nothing was changed`,
      `run it again with ${flag} to confirm`);
  }
  const { runId, actor } = runIdentity(ctx.env);
  const stopTimeouts = (swarm ? swarm.services.map((x) => x.stopTimeout) : plan!.roles.map((r) => r.stopTimeout));
  const req: RemoveRequest = {
    app: config.app, image: swarm ? swarm.image : plan!.image, deleteData: ctx.inputs.ops.deleteData,
    stopTimeout: Math.max(10, ...stopTimeouts),
    retireWait: retireWaitSeconds(plan?.proxy?.drainTimeout, stopTimeouts),
    runId, actor, ledger: ctx.ledger, signal: ctx.signal,
  };
  let rows: RemoveRow[];
  if (swarm) {
    const { session, conn } = await openSwarmManager(targets[0], sessionOptions(ctx));
    try {
      rows = [await removeStack(conn, req, { stack: swarm.stack, network: swarm.network, waitSeconds: Math.max(60, req.stopTimeout * 2) })];
    } finally {
      await session.close();
    }
  } else {
    const session = await openSession(targets, sessionOptions(ctx));
    try {
      rows = await removeApp([...session.conns.values()], req);
    } finally {
      await session.close();
    }
  }
  const r = reporter();
  r.summary.heading(`Removed ${config.app}`).table(REMOVAL_HEADER, removalRows(rows));
  for (const x of rows.filter((y) => y.error)) r.error(`${x.host}: ${x.error}`);
  if (config.deploy?.env_file) r.info(`deploy.env_file (${config.deploy.env_file}) is yours: where a host has it, it was left in place (remove it by hand)`);
  // Review apps are apps of their own (APP-pr-N): a removal of the app does not take them.
  if (config.review) r.warning(`the review apps of ${config.app} are not removed with it: pallet review list shows them, pallet review destroy N removes one`);
  return { exitCode: rows.some((x) => x.error) ? 1 : 0, outputs: {} };
}
