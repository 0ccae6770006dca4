// Dispatches a command. Config is loaded and validated here, before any container starts or
// any host is contacted, so bad input always fails first and touches nothing.
import { runPromoteCommand } from './promote.js';
import path from 'node:path';
import type { Inputs } from '../inputs.js';
import { loadConfig } from '../config/load.js';
import type { CommandResult, RunContext } from './context.js';
import { CleanupLedger } from '../util/cleanup.js';
import { runBuildCommand } from './build.js';
import { runTestCommand } from './test.js';
import { runPushCommand } from './push.js';
import { runCiCommand } from './ci.js';
import { runDeployCommand, runRollbackCommand } from './deploy.js';
import { runStatusCommand } from './status.js';
import { runExecCommand } from './exec.js';
import { runLogsCommand } from './logs.js';
import { runLockCommand } from './lock.js';
import { runProxyStatusCommand } from './proxy-status.js';
import { runCronStatusCommand } from './cron-status.js';
import { runMaintenanceCommand } from './maintenance.js';
import { runRemoveCommand } from './remove.js';
import { runDbCommand } from './db.js';
import { runSetupCommand } from './setup.js';
import { runReviewCommand } from './review.js';
import { reporter } from '../util/reporter.js';
import '../cleanup-handlers.js';

export interface DispatchOptions {
  env?: NodeJS.ProcessEnv;
  ledger?: CleanupLedger;
  signal?: AbortSignal;
  /** How messages name inputs: `input 'image'` (the action) or `--image` (the CLI). */
  where?: 'input' | 'flag';
}

/** Commands that build from the project tree: their Dockerfile, requirements, ... are checked at load. */
const BUILDS = new Set<string>(['build', 'ci']);
/** Commands that need no hosts: with `environments` in the file they load the base without deploy. */
const NO_HOSTS = new Set<string>(['build', 'test', 'push', 'ci']);

export async function prepareContext(inputs: Inputs, opts: DispatchOptions = {}): Promise<RunContext> {
  const env = opts.env ?? process.env;
  const configPath = path.resolve(inputs.workingDirectory, inputs.config);
  // Inputs that override the file are applied (and validated) by the loader, so every stage
  // reads one resolved config. test-args are appended by the test command itself.
  const config = loadConfig(configPath, {
    image: inputs.image,
    shards: inputs.shards,
    extraTags: inputs.extraTags,
    buildArgs: inputs.buildArgs,
    where: opts.where,
  }, {
    buildFiles: BUILDS.has(inputs.command), environment: inputs.environment, needsEnvironment: !NO_HOSTS.has(inputs.command), where: opts.where,
    firstEnvironment: inputs.command.startsWith('review-'),
  });
  return {
    inputs,
    config,
    ledger: opts.ledger ?? new CleanupLedger(),
    env,
    signal: opts.signal ?? new AbortController().signal,
    where: opts.where,
  };
}

export async function runCommand(inputs: Inputs, opts: DispatchOptions = {}): Promise<CommandResult> {
  const ctx = await prepareContext(inputs, opts);
  let result: CommandResult;
  try {
    switch (inputs.command) {
      case 'build': result = await runBuildCommand(ctx); break;
      case 'test': result = await runTestCommand(ctx); break;
      case 'push': result = await runPushCommand(ctx); break;
      case 'ci': result = await runCiCommand(ctx); break;
      case 'deploy': result = await runDeployCommand(ctx); break;
      case 'rollback': result = await runRollbackCommand(ctx); break;
      case 'status': result = await runStatusCommand(ctx); break;
      case 'exec': result = await runExecCommand(ctx); break;
      case 'logs': result = await runLogsCommand(ctx); break;
      case 'lock-status': result = await runLockCommand(ctx, false); break;
      case 'lock-release': result = await runLockCommand(ctx, true); break;
      case 'proxy-status': result = await runProxyStatusCommand(ctx); break;
      case 'cron-status': result = await runCronStatusCommand(ctx); break;
      case 'maintenance-on': result = await runMaintenanceCommand(ctx, true); break;
      case 'maintenance-off': result = await runMaintenanceCommand(ctx, false); break;
      case 'db-backups': case 'db-backup': case 'db-restore': case 'db-download': result = await runDbCommand(ctx, inputs.command); break;
      case 'remove': result = await runRemoveCommand(ctx); break;
      case 'promote': result = await runPromoteCommand(ctx); break;
      case 'setup': result = await runSetupCommand(ctx); break;
      case 'review-deploy': case 'review-destroy': case 'review-list': result = await runReviewCommand(ctx, inputs.command); break;
    }
  } finally {
    await ctx.ledger.runAll();
  }
  for (const [k, v] of Object.entries(result.outputs)) reporter().setOutput(k, v);
  await reporter().summary.write();
  return result;
}
