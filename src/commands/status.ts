// `status`: per host and role the running container (tag, state, health, restarts, uptime), TAG,
// REVERT, the deploy lock and the last audit lines. On a Swarm: per service its tag and tasks
// running/desired, each task's node and state, the nodes, and the same state from the manager.
// Tables in the terminal and the job summary, JSON with --json. Exit 1 only when a host could not
// be asked.
import type { CommandResult, RunContext } from './context.js';
import { sessionOptions } from './context.js';
import { errorMessage } from '../errors.js';
import { reporter } from '../util/reporter.js';
import { planDeploy } from '../deploy/plan.js';
import { forEachHost } from '../deploy/parallel.js';
import { lastLines } from '../ssh/errors.js';
import type { SshConnection } from '../ssh/connection.js';
import { openSession, openSwarmManager } from '../ops/remote.js';
import { selectForView, selectSwarmServices } from '../ops/select.js';
import {
  CONTAINER_HEADER, STATE_HEADER, containerRows, parseStatus, stateRows, statusArgv, statusProblems, type DeployState, type HostStatus,
} from '../ops/status.js';
import { planSwarm } from '../swarm/plan.js';
import { CHECKS_HEADER, checksArgv, checksRows, evaluateChecks, parseChecks, type HostChecks } from '../host/checks.js';
import {
  NODE_HEADER, SERVICE_HEADER, TASK_HEADER, nodeRows, parseSwarmStatus, serviceRows, serviceViews, swarmStatusArgv,
  swarmStatusProblems, taskRows, unreachableStatus, type SwarmStatus,
} from '../swarm/status.js';

/** Runs a status script; its stdout, or throws when docker does not answer. */
async function ask(conn: SshConnection, argv: string[]): Promise<string> {
  const r = await conn.run(argv);
  if (r.exitCode !== 0) throw new Error(`docker does not answer: ${lastLines(r.stderr || r.stdout) || `exit ${r.exitCode}`}`);
  return r.stdout;
}

/** The host checks over `conn` (undefined when they could not run: status reports the host's state regardless). */
async function hostChecks(conn: SshConnection): Promise<HostChecks | undefined> {
  const sent = Date.now();
  const r = await conn.run(checksArgv()).catch(() => undefined);
  return r && r.exitCode === 0 ? parseChecks(r.stdout, sent, Date.now()) : undefined;
}

/** The state tables both targets end with: TAG/REVERT/lock per host (or the manager), the audit lines, then the problems. */
function writeState(hosts: (DeployState & { host: string; error?: string })[], problems: string[]): void {
  const s = reporter().summary;
  s.table(STATE_HEADER, stateRows(hosts));
  const audit = hosts.flatMap((h) => h.audit.map((l) => `${h.host}: ${l.split('\t').join('  ')}`));
  if (audit.length) { s.text('Last audit lines:'); s.list(audit); }
  for (const p of problems) reporter().warning(p);
}

export async function runStatusCommand(ctx: RunContext): Promise<CommandResult> {
  if (ctx.config.deploy?.swarm) return swarmStatus(ctx);
  const plan = planDeploy(ctx.config);
  const sel = selectForView(plan, { role: ctx.inputs.ops.role, host: ctx.inputs.ops.host, where: ctx.where });
  const roleNames = ctx.inputs.ops.role ? sel.roles.map((r) => r.role) : undefined;
  const session = await openSession(sel.hosts, sessionOptions(ctx));
  let hosts: HostStatus[];
  const checks = new Map<string, HostChecks>();
  try {
    const outcomes = await forEachHost(sel.hosts.map((t) => t.label), async (label) => {
      const conn = session.conns.get(label)!;
      const [out, chk] = await Promise.all([ask(conn, statusArgv(plan.app)), hostChecks(conn)]);
      if (chk) checks.set(label, chk);
      return out;
    });
    hosts = outcomes.map((o) => {
      const roles = plan.roles.filter((r) => r.hosts.includes(o.host)).map((r) => r.role);
      return o.ok ? parseStatus(o.host, roles, o.value, plan.image) : { host: o.host, roles, tag: '', revert: '', containers: [], audit: [], error: errorMessage(o.error) };
    });
  } finally {
    await session.close();
  }
  // Host checks: engine, disk under the engine's root, clock, ports 80/443 where the proxy runs.
  const proxied = new Set(plan.roles.filter((r) => r.behindProxy).flatMap((r) => r.hosts));
  const checkProblems = [...checks].flatMap(([label, c]) => {
    const v = evaluateChecks(label, c, { proxy: proxied.has(label), engineExpected: true });
    return [...v.blocking, ...v.warnings];
  });
  const problems = [...statusProblems(hosts, roleNames), ...checkProblems];
  for (const h of hosts) { const c = checks.get(h.host); if (c) h.checks = c; }
  if (ctx.inputs.ops.json) {
    process.stdout.write(`${JSON.stringify({ app: plan.app, image: plan.image, hosts, problems }, null, 2)}\n`);
  } else {
    reporter().summary.heading(`Status of ${plan.app} (${plan.image})`).table(CONTAINER_HEADER, containerRows(hosts, roleNames, Object.fromEntries(plan.roles.map((r) => [r.role, r.web ? r.healthPath : '']))));
    if (checks.size) reporter().summary.table(CHECKS_HEADER, checksRows(hosts));
    writeState(hosts, problems);
  }
  return { exitCode: hosts.some((h) => h.error) ? 1 : 0, outputs: {} };
}

/** Swarm: one script on the manager; --role narrows the services (and leaves out the app's other services). */
async function swarmStatus(ctx: RunContext): Promise<CommandResult> {
  const plan = planSwarm(ctx.config);
  const { role, host } = ctx.inputs.ops;
  const selected = selectSwarmServices(plan, { role, host, where: ctx.where });
  const { session, conn } = await openSwarmManager(plan.manager, sessionOptions(ctx));
  let st: SwarmStatus;
  try {
    st = parseSwarmStatus(plan.manager.label, await ask(conn, swarmStatusArgv(plan.app)));
  } catch (e) {
    st = unreachableStatus(plan.manager.label, errorMessage(e));
  } finally {
    await session.close();
  }
  const views = serviceViews(st, selected, !role);
  const problems = swarmStatusProblems(st, views);
  if (ctx.inputs.ops.json) {
    const services = views.map((v) => ({ service: v.service, role: v.role, missing: !v.status, ...v.status }));
    const { manager, tag, revert, lock, audit, nodes, error } = st;
    process.stdout.write(`${JSON.stringify({ app: plan.app, image: plan.image, manager, tag, revert, lock, audit, nodes, services, problems, error }, null, 2)}\n`);
  } else {
    const s = reporter().summary;
    s.heading(`Status of ${plan.app} (${plan.image}) on Docker Swarm (${plan.manager.label})`);
    s.table(SERVICE_HEADER, serviceRows(views));
    const tasks = taskRows(views);
    if (tasks.length) s.table(TASK_HEADER, tasks);
    if (st.nodes.length) s.table(NODE_HEADER, nodeRows(st));
    writeState([{ host: st.manager, ...st }], problems);
  }
  return { exitCode: st.error ? 1 : 0, outputs: {} };
}
