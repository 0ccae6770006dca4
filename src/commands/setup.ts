// `setup`: makes bare Debian/Ubuntu servers ready for deploys. Over ssh as an admin user (root,
// or a user with passwordless sudo) on every host in parallel: look (access, probe, host checks),
// refuse before any change when a host cannot be set up or is in no state to be (another process
// on port 80, a full disk), then make the planned changes in order (plan.ts decides, each change is
// one small remote script), then log in as the deploy user with the deploy key to prove it works,
// start the proxy where web roles run behind it, and check the hosts again. Idempotent: a host
// where everything is in place reports "no change". --dry-run prints the plan and changes nothing.
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import type { CommandResult, RunContext } from './context.js';
import { sshMaterial } from './context.js';
import { registryLogin } from './deploy.js';
import { UserError, errorMessage } from '../errors.js';
import { reporter } from '../util/reporter.js';
import { planDeploy, jumpTarget, type DeployPlan } from '../deploy/plan.js';
import { failures, forEachHost } from '../deploy/parallel.js';
import { STATE_ROOT, dockerVersionArgv, pullArgv } from '../deploy/commands.js';
import { PROXY_DATA_DIR, PROXY_DIR, ENSURE_NO_IMAGE, ensureProxyArgv } from '../deploy/proxy/commands.js';
import { STATIC_DIR } from '../deploy/proxy/static-commands.js';
import { pullOnHost, registryOf, type RegistryLogin } from '../deploy/pull.js';
import type { SshConnection } from '../ssh/connection.js';
import { connectAll } from '../ops/remote.js';
import { prepareSshSettings, type SshMaterial } from '../ssh/credentials.js';
import { checkPrivateKey, checkSshInputs, inputLabel, secretSource } from '../ssh/material.js';
import { lastLines } from '../ssh/errors.js';
import type { SshSettings } from '../ssh/options.js';
import type { SshTarget } from '../ssh/host.js';
import { accessArgv, asRoot, probeArgv } from '../setup/commands.js';
import { keyBlob, parseAccess, parseProbe, planSetup, probePaths, refusal, type HostSetupPlan, type SetupWanted } from '../setup/plan.js';
import { checksArgv, evaluateChecks, parseChecks, type CheckVerdict } from '../host/checks.js';

const execFileP = promisify(execFile);

/** The directories pallet writes on a host, with their modes (the deploy user owns them). */
export function hostDirs(plan: Pick<DeployPlan, 'proxy'>): { path: string; mode: string }[] {
  return [
    { path: STATE_ROOT, mode: '0755' },
    ...(plan.proxy ? [{ path: PROXY_DIR, mode: '0755' }, { path: PROXY_DATA_DIR, mode: '0700' }, { path: STATIC_DIR, mode: '0755' }] : []),
  ];
}

/** The public half of the key ssh will use (`ssh-keygen -y`, or the agent's public key file). */
async function publicKeyOf(settings: SshSettings): Promise<string> {
  if (!settings.identityFile) throw new Error('no deploy key file');
  if (settings.identityAgent) return (await readFile(settings.identityFile, 'utf8')).trim();
  const { stdout } = await execFileP('ssh-keygen', ['-y', '-f', settings.identityFile], { timeout: 15_000 });
  return stdout.trim();
}

/** Runs the host checks over `conn` and judges them. */
async function checkHost(conn: SshConnection, proxy: boolean, engineExpected: boolean, sudo: boolean): Promise<CheckVerdict> {
  const sent = Date.now();
  const r = await conn.run(asRoot(checksArgv(), !sudo));
  const received = Date.now();
  if (r.exitCode !== 0) return { warnings: [`${conn.name}: the host checks did not run (${lastLines(r.stderr || r.stdout) || `exit ${r.exitCode}`})`], blocking: [] };
  return evaluateChecks(conn.name, parseChecks(r.stdout, sent, received), { proxy, engineExpected });
}

interface HostLook {
  plan: HostSetupPlan;
  root: boolean;
  proxyRunning: boolean;
  verdict: CheckVerdict;
}

export async function runSetupCommand(ctx: RunContext): Promise<CommandResult> {
  if (ctx.config.deploy?.swarm) {
    throw new UserError('setup prepares the hosts of deploy.roles; this config deploys to a Docker Swarm', 'prepare the Swarm nodes by hand (docs/hosts.md), or run setup with a config that lists them as role hosts');
  }
  const plan = planDeploy(ctx.config);
  const { dryRun, adminUser } = ctx.inputs.setup;
  const deploy = sshMaterial(ctx);
  checkPrivateKey(deploy.privateKey, ctx.where, deploy.passphrase);
  const adminKey = ctx.inputs.setup.adminSshPrivateKey;
  if (adminKey) checkPrivateKey(adminKey, ctx.where, undefined);
  const admin: SshMaterial = { ...deploy, privateKey: adminKey ?? deploy.privateKey, passphrase: adminKey ? undefined : deploy.passphrase };
  const jump = jumpTarget(ctx.config.deploy);
  const adminTargets = plan.hosts.map((t) => ({ ...t, user: adminUser }));
  checkSshInputs(admin, adminTargets, jump, true);
  const login = registryLogin(ctx);

  const deploySettings = await prepareSshSettings({ ...deploy, jump }, ctx.ledger, ctx.env);
  const publicKey = await publicKeyOf(deploySettings);
  const adminSettings = adminKey ? await prepareSshSettings({ ...admin, jump }, ctx.ledger, ctx.env) : deploySettings;
  const proxied = new Set(plan.roles.filter((r) => r.behindProxy).flatMap((r) => r.hosts));
  const wanted = (t: SshTarget): SetupWanted => ({
    user: t.user, publicKey, dirs: hostDirs(plan), ...(plan.envFile ? { envFile: plan.envFile } : {}),
    ...(plan.cron.some((j) => j.hosts.includes(t.label)) ? { cron: true } : {}),
  });

  reporter().info(`setup of ${plan.hosts.length} host(s) as ${adminUser}${dryRun ? ' (dry run: nothing is changed)' : ''}; deploy user ${[...new Set(plan.hosts.map((t) => t.user))].join(', ')} with key ${keyBlob(publicKey).slice(-8)}`);
  const session = await connectAll(adminTargets, adminSettings, ctx.ledger);
  const looks = new Map<string, HostLook>();
  try {
    // 1. Look, change nothing: who we are, what system, what is there, what is in the way.
    const looked = await forEachHost(plan.hosts.map((t) => t.label), async (label) => {
      const conn = session.conns.get(label)!;
      const target = plan.hosts.find((t) => t.label === label)!;
      const access = parseAccess((await conn.check(accessArgv(), 'reading the host\'s system')).stdout);
      const no = refusal(label, adminUser, access, inputLabel('admin-user', ctx.where));
      if (no) throw new UserError(no.message, no.hint);
      const root = access.sudo === 'root';
      const w = wanted(target);
      const probe = parseProbe((await conn.check(asRoot(probeArgv(w.user, keyBlob(w.publicKey), probePaths(w)), root), 'reading what is on the host')).stdout);
      const verdict = await checkHost(conn, proxied.has(label), !!probe.dockerd, !root);
      looks.set(label, { plan: planSetup(label, probe, w), root, proxyRunning: probe.proxy === 'true', verdict });
    });
    const failed = failures(looked);
    const blocking = [...looks.values()].flatMap((l) => l.verdict.blocking);
    for (const l of looks.values()) for (const w of [...l.verdict.warnings, ...l.plan.warnings]) reporter().warning(w);
    if (failed.length || blocking.length) {
      const lines = [...failed.map((f) => errorMessage(f.error)), ...blocking];
      const hint = failed.map((f) => (f.error instanceof UserError ? f.error.hint : undefined)).find(Boolean);
      throw new UserError(`setup stopped before changing anything: ${lines.join('; ')}`, hint);
    }

    // 2. The plan, per host.
    for (const t of plan.hosts) {
      const l = looks.get(t.label)!;
      const proxyStart = proxied.has(t.label) && !l.proxyRunning;
      const items = [...l.plan.changes.map((c) => c.what), ...(proxyStart ? [`start pallet's proxy (${plan.proxy!.image}) on ports 80 and 443`] : [])];
      if (!items.length) reporter().info(`${t.label}: no change${dryRun ? ' needed' : ''}`);
      else reporter().info(`${t.label}: ${dryRun ? 'would make' : 'makes'} ${items.length} change(s):\n${items.map((x, i) => `  ${i + 1}. ${x}`).join('\n')}`);
    }
    if (dryRun) {
      writeSummary(plan, looks, proxied, true);
      return { exitCode: 0, outputs: {} };
    }

    // 3. Change, host by host in parallel, each change in order.
    const applied = await forEachHost(plan.hosts.map((t) => t.label), async (label) => {
      const conn = session.conns.get(label)!;
      const l = looks.get(label)!;
      for (const c of l.plan.changes) {
        await conn.check(asRoot(c.argv, l.root), c.what);
        reporter().info(`${label}: done: ${c.what}`);
      }
    });
    const broke = failures(applied);
    if (broke.length) throw new UserError(`setup failed: ${broke.map((f) => errorMessage(f.error)).join('; ')}`, 'the changes listed as done stay (each is safe to keep); fix the cause and run setup again: it picks up where it stopped');
  } finally {
    await session.close();
  }

  // 4. As the deploy user, with the deploy key: it logs in and reaches docker; the proxy starts.
  const asDeploy = await connectAll(plan.hosts, deploySettings, ctx.ledger).catch((e: unknown) => {
    throw new UserError(`setup made its changes, but the deploy user cannot log in with the deploy key: ${errorMessage(e)}`,
      "check sshd's AllowUsers/AllowGroups on the host (setup never edits sshd_config) and that the deploy key is the one deploys will use");
  });
  const after = new Map<string, CheckVerdict>();
  try {
    const done = await forEachHost(plan.hosts.map((t) => t.label), async (label) => {
      const conn = asDeploy.conns.get(label)!;
      const v = await conn.run(dockerVersionArgv());
      if (v.exitCode !== 0) throw new UserError(`${label}: user ${conn.target.user} logs in but cannot use docker: ${lastLines(v.stderr || v.stdout)}`, `add ${conn.target.user} to the docker group and make sure docker.service runs`);
      if (proxied.has(label) && !looks.get(label)!.proxyRunning) {
        await startProxy(ctx, plan, conn, login);
        reporter().info(`${label}: done: start pallet's proxy (${plan.proxy!.image}) on ports 80 and 443`);
      }
      after.set(label, await checkHost(conn, proxied.has(label), true, false));
      reporter().info(`${label}: ${conn.target.user} logs in with the deploy key and runs docker ${v.stdout.trim()}`);
    });
    const broke = failures(done);
    if (broke.length) throw new UserError(`setup failed: ${broke.map((f) => errorMessage(f.error)).join('; ')}`, broke.map((f) => (f.error instanceof UserError ? f.error.hint : undefined)).find(Boolean));
  } finally {
    await asDeploy.close();
  }
  for (const v of after.values()) for (const w of [...v.warnings, ...v.blocking]) reporter().warning(w);
  writeSummary(plan, looks, proxied, false);
  return { exitCode: 0, outputs: {} };
}

/** Starts the proxy with the deploy's own ensure script; pulls its image first where the host lacks it. */
async function startProxy(ctx: RunContext, plan: DeployPlan, conn: SshConnection, login: RegistryLogin | undefined): Promise<void> {
  const image = plan.proxy!.image;
  let r = await conn.run(ensureProxyArgv(image, plan.app));
  if (r.exitCode === ENSURE_NO_IMAGE) {
    const useLogin = login && registryOf(image) === login.registry ? login : undefined;
    const p = await pullOnHost(ctx, { conn, label: conn.name }, (dir) => pullArgv(image, dir), useLogin, false);
    if (p.exitCode !== 0) {
      throw new UserError(`${conn.name}: pull ${image} failed: ${lastLines(p.stderr || p.stdout)}`,
        useLogin ? 'check the registry credentials' : `the hosts pull the proxy image themselves; for a private registry give ${inputLabel('registry-username', ctx.where)} and ${secretSource('registry-password', ctx.where)}`);
    }
    r = await conn.run(ensureProxyArgv(image, plan.app));
  }
  if (r.exitCode !== 0) throw new UserError(`${conn.name}: the proxy did not start: ${lastLines(r.stdout + r.stderr)}`, 'stop whatever listens on ports 80/443, or set deploy.proxy: false');
}

function writeSummary(plan: DeployPlan, looks: Map<string, HostLook>, proxied: Set<string>, dryRun: boolean): void {
  const rows = plan.hosts.map((t) => {
    const l = looks.get(t.label)!;
    const n = l.plan.changes.length + (proxied.has(t.label) && !l.proxyRunning ? 1 : 0);
    return [t.label, n ? `${n} change(s)${dryRun ? ' planned' : ''}` : 'no change', [...l.verdict.warnings, ...l.plan.warnings].length ? 'see warnings' : 'ok'];
  });
  reporter().summary.heading(`Setup of ${plan.app}'s hosts${dryRun ? ' (dry run)' : ''}`).table(['host', 'changes', 'checks'], rows);
}
