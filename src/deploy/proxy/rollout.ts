// Web roles behind the host's proxy (the executor; what to run is in ./commands.ts and
// ./caddy.ts). On each host: the new version starts beside the old one under its own name on
// the app's own network (shared with the proxy only), is health-checked there with the app's
// host name, and only then takes the role's live name, the one the proxy's route dials (a
// rename; the proxy's config is loaded again only when the route itself changes). The previous containers keep running until the rollout
// is done on every host, so a revert is a route switch back (no pull, no boot); afterwards
// they drain and are stopped gracefully, on the host in the background (retireInBackground).
import { randomBytes } from 'node:crypto';
import { UserError, errorMessage } from '../../errors.js';
import { lastLines } from '../../ssh/errors.js';
import { formatDuration, reporter } from '../../util/reporter.js';
import { pullArgv, runContainerArgv } from '../commands.js';
import { failures, forEachHost } from '../parallel.js';
import type { DeployPlan, RolePlan } from '../plan.js';
import { pullOnHost, registryOf, type RegistryLogin } from '../pull.js';
import { containerSpec, stepRunner } from '../restart.js';
import { StepError, proxySwitchKey, type DeployRun, type HostRecord, type ProxySwitch } from '../types.js';
import { challengeFragments, healthSendsHttps, peerDial, routeFragments, type RouteFragments, type RouteSpec } from './caddy.js';
import { waitHealthy } from '../health.js';
import {
  ENSURE_NO_IMAGE, MAKE_LIVE_NOT_RUNNING, acmeRootFile, appNetwork, liveName, makeLiveArgv, placeAcmeRootArgv, ensureProxyArgv, newContainerName, parseProxyImage, parseStaticMount, replaceProxyArgv, parseClaims, parsePrepare, prepareSwitchArgv, routeClaimsArgv, routeConflicts,
  removeRouteArgv, retireArgv, retireLaterArgv, setRouteArgv, type RetireGroup,
} from './commands.js';
import { stateDir, type FinishFields } from '../commands.js';
import { staticLiveRoot } from './static-commands.js';

function switches(run: DeployRun): Map<string, ProxySwitch> {
  run.proxySwitches ??= new Map();
  return run.proxySwitches;
}

/** The hosts where a role runs behind the proxy, in plan order. */
export function proxiedHosts(run: DeployRun): string[] {
  return [...new Set(run.plan.roles.filter((r) => r.behindProxy).flatMap((r) => r.hosts))];
}

/**
 * Where host `label`'s proxy asks the role's other hosts for an ACME challenge it does not know
 * (pure): with `tls: auto` on several hosts, each other host's address as pallet.yml gives it
 * (the host part, without user and SSH port), port 80. [] on one host or with another tls.
 */
export function challengePeers(plan: DeployPlan, role: RolePlan, label: string): string[] {
  if (plan.proxy?.tls !== 'auto') return [];
  const address = (l: string) => plan.hosts.find((t) => t.label === l)?.host;
  const self = address(label);
  const peers = role.hosts.filter((l) => l !== label).map(address).filter((h): h is string => h !== undefined && h !== self);
  return [...new Set(peers)].map(peerDial);
}

/**
 * The route fragments of the app's names for `role` on host `label` (pure): to `upstream`, a
 * container of the role, or with `maintenance` the 503 page instead (the static files are served
 * either way); with `tls: auto` on several hosts, the routes that pass ACME challenges between them.
 */
export function roleFragments(plan: DeployPlan, role: RolePlan, label: string, upstream: string, maintenance?: { page: string; retryAfter: number }): RouteFragments {
  return routeFragments(roleRouteSpec(plan, role, label, upstream, maintenance));
}

function roleRouteSpec(plan: DeployPlan, role: RolePlan, label: string, upstream: string, maintenance?: { page: string; retryAfter: number }): RouteSpec {
  const p = plan.proxy!;
  const peers = challengePeers(plan, role, label);
  const acme = p.acme
    ? { ...(p.acme.ca ? { ca: p.acme.ca } : {}), ...(p.acme.caRoot ? { caRootFile: acmeRootFile(p.acme.caRoot).container } : {}), ...(p.acme.email ? { email: p.acme.email } : {}) }
    : undefined;
  return {
    hosts: p.hosts, tls: p.tls, upstream, port: role.port ?? 8000, trustedProxies: p.trustedProxies,
    ...(p.static ? { static: { url: p.static.url, root: staticLiveRoot(plan.app) } } : {}),
    ...(maintenance ? { maintenance } : {}),
    ...(acme ? { acme } : {}),
    ...(peers.length ? { challengePeers: peers } : {}),
  };
}

function roleRoute(run: DeployRun, role: RolePlan, label: string, upstream: string): RouteFragments {
  return roleFragments(run.plan, role, label, upstream);
}

/** Exit codes of ensureProxyArgv -> what a person should do. */
function ensureFailure(label: string, exitCode: number, out: string): Error {
  const text = lastLines(out) || `exit ${exitCode}`;
  if (exitCode === 4 && /address already in use|port is already allocated|bind/i.test(out)) {
    return new UserError(`${label}: the proxy cannot listen on ports 80/443: ${text}`,
      'stop whatever already listens there (a hand-written nginx? see docs/hosts.md "Moving from a hand-written nginx"), or set deploy.proxy: false');
  }
  return new Error(text);
}

/**
 * Starts the proxy where it is missing or stopped (same command the revert uses); returns the
 * image it runs and whether it mounts the static files. `pullImage` is called when the host lacks
 * the configured proxy image (then once more).
 */
async function ensureProxy(run: DeployRun, h: HostRecord, pullImage?: () => Promise<void>): Promise<{ image: string; staticMount: boolean }> {
  let r = await h.conn.run(ensureProxyArgv(run.plan.proxy!.image, run.plan.app));
  if (r.exitCode === ENSURE_NO_IMAGE && pullImage) {
    await pullImage();
    r = await h.conn.run(ensureProxyArgv(run.plan.proxy!.image, run.plan.app));
  }
  if (r.exitCode !== 0) throw ensureFailure(h.label, r.exitCode, r.stdout + r.stderr);
  for (const line of r.stdout.split('\n')) if (/started|starting/.test(line)) reporter().info(`${h.label}: ${line.trim()}`);
  return { image: parseProxyImage(r.stdout), staticMount: parseStaticMount(r.stdout) };
}

/**
 * deploy.proxy.image changed: the proxy of each host in `labels` is replaced, one host after the
 * other so that a load balancer always has the other hosts while one restarts its proxy. A host
 * whose new proxy does not come up runs the old one again and the deploy stops (nothing of the
 * app has changed yet).
 */
async function replaceProxies(run: DeployRun, labels: string[]): Promise<void> {
  const image = run.plan.proxy!.image;
  for (const label of labels) {
    const h = run.hosts.get(label)!;
    const r = await h.conn.run(replaceProxyArgv(image));
    if (r.exitCode !== 0) throw new StepError(label, 'replacing the proxy', lastLines(r.stdout || r.stderr, 2) || `exit ${r.exitCode}`);
    const gap = /^gap_ms=(\d+)$/m.exec(r.stdout)?.[1];
    reporter().info(`${label}: the proxy now runs ${image}${gap ? ` (nothing listened on 80/443 for ${formatDuration(Number(gap))})` : ''}`);
  }
}

/**
 * Before the rollout: the proxy image is on every web host (pulled if missing, with the
 * registry login when it comes from the app's registry) and the proxy runs with its persisted
 * routes. Nothing of the app has changed yet when this fails.
 */
export async function prepareProxies(run: DeployRun, login?: RegistryLogin): Promise<void> {
  const proxy = run.plan.proxy!;
  const outdated: string[] = [];
  const outcomes = await forEachHost(proxiedHosts(run), async (label) => {
    const h = run.hosts.get(label)!;
    // The route claims are read beside the image check and the proxy start (independent).
    const roles = run.plan.roles.filter((r) => r.behindProxy && r.hosts.includes(label));
    // The CA root the proxy trusts for deploy.proxy.acme.ca is in place before any route names it.
    if (proxy.acme?.caRoot) await h.conn.check(placeAcmeRootArgv(proxy.acme.caRoot), "placing the ACME CA's root certificate");
    const [running, claims] = await Promise.all([
      ensureProxy(run, h, async () => {
        const useLogin = login && registryOf(proxy.image) === login.registry ? login : undefined;
        const p = await pullOnHost(run, h, (dir) => pullArgv(proxy.image, dir), useLogin, false);
        if (p.exitCode !== 0) throw new StepError(label, `pull ${proxy.image}`, lastLines(p.stderr || p.stdout));
        reporter().info(`${label}: pulled the proxy image ${proxy.image}`);
      }),
      Promise.all(roles.map(async (role) => parseClaims((await h.conn.check(routeClaimsArgv(run.plan.app, role.role), 'listing the proxy\'s routes')).stdout))),
    ]);
    // A proxy made before deploy.proxy.static existed does not see the files: it is replaced too.
    if (running.image && (running.image !== proxy.image || (proxy.static && !running.staticMount))) outdated.push(label);
    roles.forEach((role, i) => {
      const problems = routeConflicts(proxy.hosts, claims[i]);
      if (problems.length) {
        throw new UserError(`${label}: the proxy cannot route ${run.plan.app} (role ${role.role}) here: ${problems.join('; ')}`,
          'nothing was changed; see docs/hosts.md "Several apps"');
      }
    });
    // The app's first deploy here with tls auto on several hosts: the challenge routes go up on
    // every host now, before the first switch asks the CA (which may come to any of them).
    if (!h.before.tag) for (const role of roles) await placeChallengeRoutes(run, label, role);
  });
  const f = failures(outcomes)[0];
  if (f) throw f.error instanceof StepError || f.error instanceof UserError ? f.error : new StepError(f.host, 'proxy', errorMessage(f.error));
  if (outdated.length) {
    reporter().info(`deploy.proxy.image is ${proxy.image}${proxy.static ? ' with the static files mounted' : ''}; replacing the proxy on ${outdated.join(', ')}, one host at a time`);
    await replaceProxies(run, proxiedHosts(run).filter((l) => outdated.includes(l)));
  }
}

async function placeChallengeRoutes(run: DeployRun, label: string, role: RolePlan): Promise<void> {
  const f = challengeFragments(roleRouteSpec(run.plan, role, label, ''));
  if (!f) return;
  const h = run.hosts.get(label)!;
  const key = proxySwitchKey(label, role.role);
  run.challengeRoutes ??= new Set();
  run.challengeRoutes.add(key);
  const r = await h.conn.run(setRouteArgv(run.plan.app, role.role, '', f));
  if (r.exitCode !== 0) throw new StepError(label, 'proxy', `placing the ACME challenge routes: ${lastLines(r.stdout || r.stderr, 2) || `exit ${r.exitCode}`}`);
  reporter().info(`${label}: ACME challenges for ${run.plan.proxy!.hosts.join(', ')} are passed between the hosts from now on (first deploy)`);
}

/**
 * After a failed deploy: the challenge-only routes of hosts where the role never started (the
 * others were reverted, which removes their route) go, so the names get the plain 404 again.
 * Failures are warned about and added to `problems`.
 */
export async function removeChallengeRoutes(run: DeployRun, problems: string[]): Promise<void> {
  const keys = [...(run.challengeRoutes ?? [])].filter((k) => !switches(run).has(k));
  await Promise.all(keys.map(async (key) => {
    const [label, roleName] = key.split('\t');
    const h = run.hosts.get(label)!;
    const problem = (p: string) => { problems.push(p); reporter().warning(p); };
    if (h.lost) { problem(`${label}: unreachable; the ACME challenge routes of ${run.plan.app} stay on its proxy until the next deploy`); return; }
    const r = await h.conn.run(removeRouteArgv(run.plan.app, roleName)).catch((e: unknown) => ({ exitCode: -1, stdout: errorMessage(e), stderr: '' }));
    if (r.exitCode !== 0) problem(`${label}: removing the ACME challenge routes: ${lastLines(r.stdout || r.stderr, 2) || `exit ${r.exitCode}`}`);
    else reporter().info(`${label}: the ACME challenge routes of ${run.plan.app} were removed (the deploy failed before this host switched)`);
  }));
}

/**
 * One host: start `tag` beside what runs, health-check it on the proxy network with the app's
 * host name, then give it the role's live name (the route dials it; the route itself is written
 * again, which loads the proxy's config only when it changed). The old containers keep running
 * (see retireInBackground).
 */
export async function switchBehindProxy(run: DeployRun, label: string, role: RolePlan, tag: string, onTouch?: () => void): Promise<void> {
  const h = run.hosts.get(label)!;
  const { app, proxy } = run.plan;
  const step = stepRunner(run, label, role);
  const t0 = Date.now();
  const key = proxySwitchKey(label, role.role);
  onTouch?.();
  const name = newContainerName(app, role.role, randomBytes(4).toString('hex'));
  await step('start', async () => {
    // The listing runs beside the start (one round trip less); it leaves out the new container.
    const known = switches(run).get(key);
    if (known) known.started.push(name);
    const [listed, r] = await Promise.all([
      known ? Promise.resolve(undefined) : h.conn.check(prepareSwitchArgv(app, role.role), 'listing the role\'s containers').then((x) => x, (e: unknown) => e as Error),
      h.conn.run(runContainerArgv({ ...containerSpec(run, label, role, tag), port: undefined, name, network: appNetwork(app) })),
    ]);
    if (listed instanceof Error) {
      // Without the listing nothing records the new container for a revert: it goes now.
      if (r.exitCode === 0) await h.conn.run(['docker', 'rm', '-f', name]).catch(() => undefined);
      throw listed;
    }
    const listing = listed;
    if (listing) {
      const found = parsePrepare(listing.stdout);
      switches(run).set(key, { previous: found.live, old: found.containers.map((c) => c.name).filter((n) => n !== name), started: [name], switched: false });
    }
    if (r.exitCode !== 0) throw new Error(lastLines(r.stderr || r.stdout) || `exit ${r.exitCode}`);
  });
  await run.hooks.beforeHealth?.({ host: label, role: role.role });
  await step('health', async () => {
    const res = await waitHealthy(h.conn, {
      container: name, via: appNetwork(app), port: role.port ?? 8000, path: role.healthPath, host: role.healthHost ?? '',
      proto: healthSendsHttps(proxy!) ? 'https' : '', timeout: role.healthTimeout, subject: `container ${name}`,
    }, role, { signal: run.signal });
    h.health.push(`${role.role}: ${res.ok ? 'ok' : 'FAILED'}`);
    if (!res.ok) throw new Error(res.detail);
  });
  await step('switch', async () => {
    const m = await h.conn.run(makeLiveArgv(app, role.role, name));
    if (m.exitCode !== 0) throw new Error(lastLines(m.stdout || m.stderr, 2) || `exit ${m.exitCode}`);
    // From here requests may reach the new container: a failure below is reverted like a switch.
    switches(run).get(key)!.switched = true;
    const live = liveName(app, role.role);
    const r = await h.conn.run(setRouteArgv(app, role.role, live, roleRoute(run, role, label, live)));
    if (r.exitCode !== 0) throw new Error(lastLines(r.stdout || r.stderr, 2) || `exit ${r.exitCode}`);
  });
  const ms = Date.now() - t0;
  h.restartMs += ms;
  reporter().info(`${label}: ${role.role} now on ${tag} behind the proxy (${name}, healthy, ${formatDuration(ms)})`);
}

/** Rolls a proxied role out batch by batch; one boot per host, no candidate probe. */
export async function rollRoleBehindProxy(run: DeployRun, role: RolePlan, cancelled: () => void, forBatch: (batch: string[], fn: (host: string) => Promise<void>) => Promise<void>): Promise<void> {
  for (const [index, batch] of role.batches.entries()) {
    cancelled();
    const targets = [...new Set(batch.map((host) => run.hosts.get(host)!.target))].join(', ');
    reporter().info(`${role.role}: starting ${targets} beside the running container on ${batch.join(', ')}`);
    await forBatch(batch, (host) => switchBehindProxy(run, host, role, run.hosts.get(host)!.target, () => run.touched.push({ host, role: role.role })));
    await run.hooks.afterBatch?.({ role: role.role, batch, index });
  }
}

/** Drains (at most the drain timeout, less when nothing is in flight) and stops `names`; returns the script's "drained after" line. */
async function retire(run: DeployRun, h: HostRecord, names: string[], role: RolePlan): Promise<string> {
  if (!names.length) return '';
  const drain = { seconds: run.plan.proxy?.drainTimeout ?? 0, port: role.port ?? 8000 };
  return (await h.conn.check(retireArgv(names, role.stopTimeout, drain), `stopping ${names.join(', ')}`)).stdout.trim();
}

/**
 * Revert of one host's proxied role: the proxy (restarted if it died) routes back to the
 * container it used before, which still runs; the containers this deploy started are removed.
 * Only if that container is gone is the recorded tag started again (a boot, like today's revert).
 */
export async function revertBehindProxy(run: DeployRun, label: string, role: RolePlan): Promise<void> {
  const h = run.hosts.get(label)!;
  const { app } = run.plan;
  const sw = switches(run).get(proxySwitchKey(label, role.role));
  if (!sw) return;
  await ensureProxy(run, h);
  const ours = [...sw.started];
  const live = liveName(app, role.role);
  // The previous container takes the live name back (exit 5: it no longer runs); the route is
  // written again too, as a switch may have changed it (proxy died after reloading).
  const back = sw.previous ? await h.conn.run(makeLiveArgv(app, role.role, sw.previous)) : undefined;
  if (back && back.exitCode !== 0 && back.exitCode !== MAKE_LIVE_NOT_RUNNING) {
    throw new Error(`switching back to ${sw.previous}: ${lastLines(back.stdout || back.stderr, 2)}`);
  }
  if (back?.exitCode === 0) {
    const r = await h.conn.run(setRouteArgv(app, role.role, live, roleRoute(run, role, label, live)));
    if (r.exitCode !== 0) throw new Error(`switching back to ${sw.previous}: ${lastLines(r.stdout || r.stderr, 2)}`);
    reporter().info(`${label}: ${role.role} routed back to ${sw.previous}`);
  } else if (h.before.tag) {
    reporter().warning(`${label}: the previous ${role.role} container ${sw.previous || '(none)'} is not running; starting ${h.before.tag} again`);
    sw.started = [];
    await switchBehindProxy(run, label, role, h.before.tag);
    ours.push(...sw.started.slice(0, -1));
  } else {
    const r = await h.conn.run(removeRouteArgv(app, role.role));
    if (r.exitCode !== 0) throw new Error(`removing the route: ${lastLines(r.stdout || r.stderr, 2)}`);
    // Ours gives the live name up, so that it is stopped under its own name below.
    const m = await h.conn.run(makeLiveArgv(app, role.role, ''));
    if (m.exitCode !== 0) throw new Error(`taking the live name from ${ours.join(', ')}: ${lastLines(m.stdout || m.stderr, 2)}`);
    reporter().warning(`${label}: ${role.role} had no previous version; its route and container were removed`);
  }
  await retire(run, h, ours, role);
  sw.switched = false;
}

/** The previous containers of the proxied roles on `label` after a successful rollout, one group per role. */
export function retireGroups(run: DeployRun, label: string): (RetireGroup & { role: RolePlan })[] {
  return [...switches(run).entries()].flatMap(([key, sw]) => {
    const [host, roleName] = key.split('\t');
    if (host !== label) return [];
    const live = sw.started.at(-1);
    const names = [...new Set([...sw.old, ...sw.started])].filter((n) => n !== live);
    const role = run.plan.roles.find((r) => r.role === roleName)!;
    return names.length ? [{ names, role, stopTimeout: role.stopTimeout, drain: { seconds: run.plan.proxy?.drainTimeout ?? 0, port: role.port ?? 8000 } }] : [];
  });
}

/**
 * After a successful rollout, on one host, in one command: the host is finished (`finish`: TAG,
 * audit line) and the previous containers of the proxied roles drain
 * (until no request is in flight, at most the drain timeout) and stop gracefully (SIGTERM,
 * stop_timeout) on the host in the background, so the deploy does not wait for them; the host
 * keeps the deploy lock until they are gone (a next deploy waits for that, see acquireLock).
 * Returns true when the lock was handed over. Where the host cannot start that, they are stopped
 * now; a failure then is a warning (the new version already serves): the next deploy stops them.
 */
export async function retireInBackground(run: DeployRun, h: HostRecord, finish: FinishFields): Promise<boolean> {
  const groups = retireGroups(run, h.label);
  if (!groups.length) return false;
  const names = groups.flatMap((g) => g.names).join(', ');
  if (h.lock) {
    const r = await h.conn.run(retireLaterArgv(stateDir(run.plan.app), h.lock.token, finish, groups));
    if (r.exitCode === 0 && /^RETIRING \d+$/m.test(r.stdout)) {
      run.ledger.done(h.lock.item);
      h.lock = undefined;
      reporter().info(`${h.label}: stopping ${names} in the background (draining at most ${groups[0].drain.seconds}s); the host holds the deploy lock until they are gone`);
      return true;
    }
    reporter().warning(`${h.label}: could not stop the previous containers in the background (${lastLines(r.stdout || r.stderr, 2) || `exit ${r.exitCode}`}); stopping them now`);
  }
  try {
    for (const g of groups) {
      const drained = await retire(run, h, g.names, g.role);
      reporter().info(`${h.label}: stopped ${g.names.join(', ')}${drained ? ` (${drained})` : ''}`);
    }
  } catch (e) {
    reporter().warning(`${h.label}: could not stop the previous containers (${errorMessage(e)}); they get no requests and are stopped by the next deploy`);
  }
  return false;
}
