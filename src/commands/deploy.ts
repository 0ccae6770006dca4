// `deploy` and `rollback`: inputs -> a deploy request, the GitHub deployment around it, outputs
// and summary after. The algorithms live in src/deploy/ (SSH fleet) and src/swarm/ (Docker Swarm).
import type { CommandResult, RunContext } from './context.js';
import { resolveTag, sshMaterial } from './context.js';
import { executeDeploy, type DeployReport } from '../deploy/index.js';
import type { DeployHooks, DeployMode } from '../deploy/types.js';
import { registryOf, type RegistryLogin } from '../deploy/pull.js';
import { deployOutputs, failureMessage, writeDeploySummary } from '../deploy/report.js';
import { startDeployment } from '../github/deployment.js';
import { reporter } from '../util/reporter.js';
import { UserError } from '../errors.js';
import { jumpTarget, planDeploy } from '../deploy/plan.js';
import { checkSshInputs, inputLabel, secretSource } from '../ssh/material.js';
import { executeSwarmDeploy } from '../swarm/index.js';
import { readAppEnv, renderEnvFile } from '../deploy/env-file.js';
import { planSwarm } from '../swarm/plan.js';
import { swarmFailureMessage, swarmOutputs, writeSwarmSummary } from '../swarm/report.js';
import type { SwarmHooks, SwarmReport } from '../swarm/types.js';
import { targetOf } from '../engine/capabilities.js';
import { resolveRelease, type Release } from './release.js';

/** The swarm target runs in src/swarm/; both SSH-host targets in src/deploy/. */
async function dispatch(ctx: RunContext, mode: DeployMode, hooks?: DeployHooks): Promise<CommandResult> {
  if (targetOf(ctx.config) === 'swarm') return (await swarmDeployWithReport(ctx, mode)).result;
  return (await deployWithReport(ctx, mode, hooks)).result;
}

export async function runDeployCommand(ctx: RunContext, hooks?: DeployHooks): Promise<CommandResult> {
  return dispatch(ctx, 'deploy', hooks);
}

export async function runRollbackCommand(ctx: RunContext, hooks?: DeployHooks): Promise<CommandResult> {
  return dispatch(ctx, 'rollback', hooks);
}

/** The hosts' registry login from the registry inputs (both or neither), undefined without them. */
export function registryLogin(ctx: RunContext): RegistryLogin | undefined {
  const { registryUsername: username, registryPassword: password } = ctx.inputs;
  if (password) reporter().setSecret(password);
  const label = (n: string) => inputLabel(n, ctx.where);
  if (username && !password) {
    throw new UserError(`${label('registry-password')} is required when ${label('registry-username')} is set: the hosts log in to the registry with both`,
      `set ${secretSource('registry-password', ctx.where)}, or drop registry-username if the hosts pull without logging in`);
  }
  if (password && !username) {
    throw new UserError(`${label('registry-username')} is required when ${label('registry-password')} is set`,
      'set registry-username to the registry user the password belongs to');
  }
  if (!username || !password) return undefined;
  const registry = ctx.inputs.registry ?? registryOf(ctx.config.image);
  if (!registry) throw new UserError(`${label('registry')} is needed to log the hosts in: the image name has no registry host`, 'set registry, e.g. ghcr.io');
  return { registry, username, password };
}

/**
 * Everything about the deploy inputs that can be wrong without asking a host: the deploy
 * section, the private key's shape, known_hosts lines and their coverage of every planned host.
 */
function checkDeployInputs(ctx: RunContext): void {
  checkSshInputs(sshMaterial(ctx), planDeploy(ctx.config).hosts, jumpTarget(ctx.config.deploy), true);
}

/** What the GitHub deployment wrapper needs from a target (SSH fleet or Swarm). */
interface TargetRun<R> {
  execute(): Promise<R>;
  ok(r: R): boolean;
  outputs(r: R): Record<string, string>;
  summary(r: R): void;
  failure(r: R): string;
  success(r: R): { count: string; detail: string };
}

/** Runs a target's deploy inside a GitHub deployment: statuses, summary, outputs. */
async function withDeployment<R>(ctx: RunContext, mode: DeployMode, tag: string | undefined, t: TargetRun<R>): Promise<{ result: CommandResult; report: R }> {
  const gh = await startDeployment({
    env: ctx.env, token: ctx.inputs.githubToken, environment: ctx.config.environment ?? ctx.inputs.environment ?? 'production', url: ctx.config.deploy?.url,
    tag: tag ?? 'previous', description: `${mode} ${ctx.config.app} ${tag ?? 'to the previous tag'}`,
  });
  let report: R;
  try {
    report = await t.execute();
  } catch (e) {
    await gh.status('failure', `${mode} failed before anything changed`);
    throw e;
  }
  t.summary(report);
  const outputs = t.outputs(report);
  if (t.ok(report)) {
    const { count, detail } = t.success(report);
    await gh.status('success', `${mode} of ${outputs.tag} to ${count} succeeded`);
    reporter().info(`${mode} succeeded: ${detail}`);
    return { result: { exitCode: 0, outputs }, report };
  }
  await gh.status('failure', t.failure(report));
  reporter().error(t.failure(report));
  return { result: { exitCode: 1, outputs }, report };
}

/**
 * deploy.env: the one place its secret values are read (from the step's environment), each
 * masked at once; refused here, before any host is contacted, if one is unset or unusable.
 */
function appEnvFile(ctx: RunContext): string | undefined {
  const spec = ctx.config.deploy?.env;
  if (!spec) return undefined;
  return renderEnvFile(readAppEnv(spec, ctx.env, (v) => reporter().setSecret(v)));
}

function deployRequest(ctx: RunContext, mode: DeployMode, tag: string | undefined) {
  return {
    mode, config: ctx.config, tag, runTasks: mode === 'deploy' || ctx.inputs.runTasks,
    ssh: sshMaterial(ctx),
    login: registryLogin(ctx), appEnv: appEnvFile(ctx), lockTimeout: ctx.inputs.lockTimeout, breakLock: ctx.inputs.breakLock,
    ledger: ctx.ledger, env: ctx.env, signal: ctx.signal,
  };
}

/**
 * deploy: the digest and the test gate's verdict (registry calls), after every input was checked
 * without network; rollback goes back to what ran before and asks the registry nothing.
 */
async function releaseOf(ctx: RunContext, mode: DeployMode, tag: string | undefined): Promise<{ digest?: string; untested?: string }> {
  if (mode !== 'deploy') return {};
  const release: Release = await resolveRelease(ctx, tag!);
  return { digest: release.digest, untested: release.untested };
}

/**
 * Runs a deploy or rollback to an SSH fleet and returns the command result together with the full
 * report. `release`: the digest and test gate's verdict already resolved (a review deploy resolves
 * them before it makes anything); else a deploy resolves them here.
 */
export async function deployWithReport(ctx: RunContext, mode: DeployMode, hooks?: DeployHooks, release?: Release): Promise<{ result: CommandResult; report: DeployReport }> {
  const tag = mode === 'deploy' ? resolveTag(ctx.inputs, ctx.env) : ctx.inputs.tag;
  checkDeployInputs(ctx);
  const resolved = release ? { digest: release.digest, untested: release.untested } : await releaseOf(ctx, mode, tag);
  const req = { ...deployRequest(ctx, mode, tag), ...resolved, hooks };
  return withDeployment(ctx, mode, tag, {
    execute: () => executeDeploy(req),
    ok: (r) => r.ok,
    outputs: (r) => deployOutputs(r, tag),
    summary: writeDeploySummary,
    failure: failureMessage,
    success: (r) => ({ count: `${r.hosts.length} host(s)`, detail: r.hosts.map((h) => `${h.host}=${h.newTag}`).join(', ') }),
  });
}

/** Runs a deploy or rollback to a Docker Swarm (deploy.swarm) and returns the result with the full report. */
export async function swarmDeployWithReport(ctx: RunContext, mode: DeployMode, hooks?: SwarmHooks): Promise<{ result: CommandResult; report: SwarmReport }> {
  const tag = mode === 'deploy' ? resolveTag(ctx.inputs, ctx.env) : ctx.inputs.tag;
  checkSshInputs(sshMaterial(ctx), [planSwarm(ctx.config).manager], jumpTarget(ctx.config.deploy), true);
  const req = { ...deployRequest(ctx, mode, tag), ...(await releaseOf(ctx, mode, tag)), hooks };
  return withDeployment(ctx, mode, tag, {
    execute: () => executeSwarmDeploy(req),
    ok: (r) => r.ok,
    outputs: (r) => swarmOutputs(r, tag),
    summary: writeSwarmSummary,
    failure: swarmFailureMessage,
    success: (r) => ({ count: `${r.services.length} service(s)`, detail: r.services.map((x) => `${x.service}=${x.newTag} (${x.running}/${x.desired})`).join(', ') }),
  });
}
