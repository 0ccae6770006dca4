import type { CommandResult, RunContext } from './context.js';
import { UserError } from '../errors.js';

export async function runDeployCommand(_ctx: RunContext): Promise<CommandResult> {
  throw new UserError('the deploy command is not implemented yet');
}

export async function runRollbackCommand(_ctx: RunContext): Promise<CommandResult> {
  throw new UserError('the rollback command is not implemented yet');
}
