// `deploy` and `rollback`: inputs -> a deploy request, the GitHub deployment around it, outputs
// and summary after. The algorithm itself lives in src/deploy/.
import type { CommandResult, RunContext } from './context.js';
import { resolveTag } from './context.js';
import { executeDeploy, type DeployReport } from '../deploy/index.js';
import type { DeployHooks, DeployMode } from '../deploy/types.js';
import { registryOf, type RegistryLogin } from '../deploy/pull.js';
import { deployOutputs, failureMessage, writeDeploySummary } from '../deploy/report.js';
import { startDeployment } from '../github/deployment.js';
import { reporter } from '../util/reporter.js';
import { UserError } from '../errors.js';
import { jumpTarget, planDeploy } from '../deploy/plan.js';
import { checkKnownHosts, checkPrivateKey, inputLabel, secretSource } from '../ssh/material.js';

export async function runDeployCommand(ctx: RunContext, hooks?: DeployHooks): Promise<CommandResult> {
  return (await deployWithReport(ctx, 'deploy', hooks)).result;
}

export async function runRollbackCommand(ctx: RunContext, hooks?: DeployHooks): Promise<CommandResult> {
  return (await deployWithReport(ctx, 'rollback', hooks)).result;
}

function registryLogin(ctx: RunContext): RegistryLogin | undefined {
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
  const { sshPrivateKey, sshKeyPassphrase, sshKnownHosts, insecureSkipHostKeyCheck } = ctx.inputs;
  if (sshPrivateKey) reporter().setSecret(sshPrivateKey);
  if (sshKeyPassphrase) reporter().setSecret(sshKeyPassphrase);
  const plan = planDeploy(ctx.config);
  const jump = jumpTarget(ctx.config.deploy);
  checkPrivateKey(sshPrivateKey, ctx.where, sshKeyPassphrase);
  checkKnownHosts(sshKnownHosts, plan.hosts, insecureSkipHostKeyCheck, ctx.where, jump);
}

/** Runs a deploy or rollback and returns the command result together with the full report. */
export async function deployWithReport(ctx: RunContext, mode: DeployMode, hooks?: DeployHooks): Promise<{ result: CommandResult; report: DeployReport }> {
  const tag = mode === 'deploy' ? resolveTag(ctx.inputs, ctx.env) : ctx.inputs.tag;
  checkDeployInputs(ctx);
  const login = registryLogin(ctx);
  const gh = await startDeployment({
    env: ctx.env, token: ctx.inputs.githubToken, environment: ctx.inputs.environment, url: ctx.config.deploy?.url,
    tag: tag ?? 'previous', description: `${mode} ${ctx.config.app} ${tag ?? 'to the previous tag'}`,
  });
  let report: DeployReport;
  try {
    report = await executeDeploy({
      mode, config: ctx.config, tag, runTasks: mode === 'deploy' || ctx.inputs.runTasks,
      ssh: {
        knownHosts: ctx.inputs.sshKnownHosts, privateKey: ctx.inputs.sshPrivateKey, passphrase: ctx.inputs.sshKeyPassphrase,
        insecure: ctx.inputs.insecureSkipHostKeyCheck, where: ctx.where,
      },
      login, lockTimeout: ctx.inputs.lockTimeout, breakLock: ctx.inputs.breakLock,
      ledger: ctx.ledger, env: ctx.env, signal: ctx.signal, hooks,
    });
  } catch (e) {
    await gh.status('failure', `${mode} failed before any host changed`);
    throw e;
  }
  writeDeploySummary(report);
  const outputs = deployOutputs(report, tag);
  if (report.ok) {
    await gh.status('success', `${mode} of ${outputs.tag} to ${report.hosts.length} host(s) succeeded`);
    reporter().info(`${mode} succeeded: ${report.hosts.map((h) => `${h.host}=${h.newTag}`).join(', ')}`);
    return { result: { exitCode: 0, outputs }, report };
  }
  await gh.status('failure', failureMessage(report));
  reporter().error(failureMessage(report));
  return { result: { exitCode: 1, outputs }, report };
}
