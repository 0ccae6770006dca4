import type { CommandResult, RunContext } from './context.js';
import { UserError } from '../errors.js';

export async function runBuildCommand(_ctx: RunContext): Promise<CommandResult> {
  throw new UserError('the build command is not implemented yet');
}
