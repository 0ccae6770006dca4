import type { CommandResult, RunContext } from './context.js';
import { UserError } from '../errors.js';

export async function runTestCommand(_ctx: RunContext): Promise<CommandResult> {
  throw new UserError('the test command is not implemented yet');
}
