// `remove` (CLI: `pallet remove --yes`): retires the app from its hosts (or --host): its routes
// leave the proxy (other apps keep being served), its containers stop gracefully and go, then
// its network, the images of its repository no container uses, and its state directory. Its
// data (storage/, backups/) stays unless --delete-data. Refused, with nothing changed, while a
// deploy holds the lock on any of the hosts; never without --yes.
import type { CommandResult, RunContext } from './context.js';
import { sessionOptions } from './context.js';
import { UserError, errorMessage } from '../errors.js';
import { reporter } from '../util/reporter.js';
import { planDeploy } from '../deploy/plan.js';
import { failures, forEachHost } from '../deploy/parallel.js';
import { runIdentity } from '../deploy/index.js';
import { acquireLock, releaseLock, type HeldLock } from '../deploy/lock.js';
import { stateDir } from '../deploy/commands.js';
import { appNetwork, removeRouteArgv } from '../deploy/proxy/commands.js';
import { lastLines } from '../ssh/errors.js';
import { openSession } from '../ops/remote.js';
import { selectForView } from '../ops/select.js';
import type { HostConnection } from '../ssh/connection.js';
import type { CleanupLedger } from '../util/cleanup.js';
import {
  appRoutesArgv, countOf, parseAppRoutes, removeContainersArgv, removeEmptyDirArgv, removeImagesArgv, removeNetworkArgv, removeStateArgv,
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
}

/** What was removed from one host (counts), or why it stopped there. */
export interface RemoveRow {
  host: string;
  routes: string[];
  containers: number;
  network: boolean;
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
  const locks = new Map<string, HeldLock>();
  const taken = await forEachHost(conns.map((c) => c.name), async (label) => {
    const conn = conns.find((c) => c.name === label)!;
    locks.set(label, await acquireLock(conn, req.ledger, {
      app: req.app, runId: req.runId, actor: req.actor, timeout: 0, breakStale: false, signal: req.signal, retireWait: req.retireWait,
    }));
  });
  const refused = failures(taken);
  if (refused.length) {
    await Promise.all([...locks].map(([label, l]) => releaseLock(conns.find((c) => c.name === label)!, req.ledger, req.app, l).catch(() => undefined)));
    throw new UserError(`remove refused, nothing was changed: ${refused.map((f) => errorMessage(f.error)).join('; ')}`,
      'wait until the deploy is done (pallet lock status shows who holds the lock), then run pallet remove again');
  }
  const outcomes = await forEachHost(conns.map((c) => c.name), (label) => removeFromHost(conns.find((c) => c.name === label)!, locks.get(label)!, req));
  return outcomes.map((o) => (o.ok ? o.value : { host: o.host, routes: [], containers: 0, network: false, images: 0, imagesKept: 0, kept: '', error: errorMessage(o.error) }));
}

async function removeFromHost(conn: HostConnection, lock: HeldLock, req: RemoveRequest): Promise<RemoveRow> {
  const { app } = req;
  const step = async (argv: string[], what: string) => {
    const r = await conn.run(argv);
    if (r.exitCode !== 0) throw new Error(`${what}: ${lastLines(r.stdout || r.stderr, 2) || `exit ${r.exitCode}`}`);
    return r.stdout;
  };
  const routes = parseAppRoutes(await step(appRoutesArgv(app), 'listing the routes'), app);
  for (const role of routes) await step(removeRouteArgv(app, role, true), `removing the route of ${role}`);
  const containers = countOf(await step(removeContainersArgv(app, req.stopTimeout), 'removing the containers'), 'removed');
  const network = countOf(await step(removeNetworkArgv(appNetwork(app)), 'removing the network'), 'removed') > 0;
  const images = await step(removeImagesArgv(req.image), 'removing the images');
  const kept = /^kept=(.*)$/m.exec(await step(removeStateArgv(stateDir(app), req.deleteData), 'removing the state directory'))?.[1].trim() ?? '';
  await releaseLock(conn, req.ledger, app, lock);
  if (!kept) await step(removeEmptyDirArgv(stateDir(app)), 'removing the state directory');
  const row = { host: conn.name, routes, containers, network, images: countOf(images, 'removed'), imagesKept: countOf(images, 'kept'), kept };
  reporter().info(`${conn.name}: removed ${describe(row)}`);
  return row;
}

function describe(r: RemoveRow): string {
  const parts = [
    `${r.routes.length} route(s)`, `${r.containers} container(s)`, r.network ? 'its network' : 'no network',
    `${r.images} image(s)${r.imagesKept ? ` (${r.imagesKept} kept: in use by other containers)` : ''}`,
    r.kept ? `its state (kept: ${r.kept})` : 'its state',
  ];
  return parts.join(', ');
}

export async function runRemoveCommand(ctx: RunContext): Promise<CommandResult> {
  const { config } = ctx;
  if (config.deploy?.swarm) {
    throw new UserError('remove: not available for deploy.swarm yet', `on the Swarm's manager: docker stack rm ${config.app}`);
  }
  const plan = planDeploy(config);
  const targets = selectForView(plan, { host: ctx.inputs.ops.host, where: ctx.where }).hosts;
  const flag = ctx.where === 'input' ? "input 'yes: true'" : '--yes';
  if (!ctx.inputs.ops.yes) {
    throw new UserError(`remove takes ${config.app} off ${targets.map((t) => t.label).join(', ')}: its routes, containers, network, images and state${ctx.inputs.ops.deleteData ? ', and its data (storage/, backups/)' : ' (its storage/ and backups/ stay)'}; nothing was changed`,
      `run it again with ${flag} to confirm`);
  }
  const { runId, actor } = runIdentity(ctx.env);
  const session = await openSession(targets, sessionOptions(ctx));
  let rows: RemoveRow[];
  try {
    rows = await removeApp([...session.conns.values()], {
      app: config.app, image: plan.image, deleteData: ctx.inputs.ops.deleteData,
      stopTimeout: Math.max(10, ...plan.roles.map((r) => r.stopTimeout)),
      retireWait: (plan.proxy?.drainTimeout ?? 0) + Math.max(0, ...plan.roles.map((r) => r.stopTimeout)) + 10,
      runId, actor, ledger: ctx.ledger, signal: ctx.signal,
    });
  } finally {
    await session.close();
  }
  const r = reporter();
  r.summary.heading(`Removed ${config.app}`).table(
    ['host', 'routes', 'containers', 'network', 'images', 'kept', 'result'],
    rows.map((x) => [x.host, x.routes.join(' ') || '-', String(x.containers), x.network ? 'removed' : '-', `${x.images}${x.imagesKept ? ` (+${x.imagesKept} in use)` : ''}`, x.kept || '-', x.error ? `error: ${x.error}` : 'removed']),
  );
  for (const x of rows.filter((y) => y.error)) r.error(`${x.host}: ${x.error}`);
  if (config.deploy?.env_file) r.info(`the hosts' ${config.deploy.env_file} was left in place (yours; remove it by hand)`);
  return { exitCode: rows.some((x) => x.error) ? 1 : 0, outputs: {} };
}
