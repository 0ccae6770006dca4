import type { CommandResult, RunContext } from './context.js';
import { runBuildCommand } from './build.js';
import { runTestCommand } from './test.js';
import { runPushCommand } from './push.js';

/** build + cleanroom test + push: the push happens only when the tests passed. */
export async function runCiCommand(ctx: RunContext): Promise<CommandResult> {
  const built = await runBuildCommand(ctx);
  if (built.exitCode !== 0) return built;
  const tested = await runTestCommand(ctx);
  const outputs = { ...built.outputs, ...tested.outputs };
  if (tested.exitCode !== 0) return { exitCode: tested.exitCode, outputs };
  const pushed = await runPushCommand(ctx);
  return { exitCode: pushed.exitCode, outputs: { ...outputs, ...pushed.outputs } };
}
