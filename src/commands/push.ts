import type { CommandResult, RunContext } from './context.js';
import { UserError } from '../errors.js';

export async function runPushCommand(_ctx: RunContext): Promise<CommandResult> {
  throw new UserError('the push command is not implemented yet');
}
