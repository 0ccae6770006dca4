import type { CommandResult, RunContext } from './context.js';
import { runBuildCommand } from './build.js';
import { runTestCommand } from './test.js';
import { runPushCommand } from './push.js';
import { registryClient } from './release.js';
import { runOf, writeTestRecord } from '../registry/test-record.js';
import { runIdentity } from '../deploy/index.js';
import { reporter } from '../util/reporter.js';
import { UserError, errorMessage } from '../errors.js';

/**
 * build + cleanroom test + push: the push happens only when the tests passed, and then the
 * registry gets the record that this digest passed them (the test gate deploys ask for).
 */
export async function runCiCommand(ctx: RunContext): Promise<CommandResult> {
  const built = await runBuildCommand(ctx);
  if (built.exitCode !== 0) return built;
  const tested = await runTestCommand(ctx);
  const outputs = { ...built.outputs, ...tested.outputs };
  if (tested.exitCode !== 0) return { exitCode: tested.exitCode, outputs };
  const pushed = await runPushCommand(ctx);
  if (pushed.exitCode !== 0) return { exitCode: pushed.exitCode, outputs: { ...outputs, ...pushed.outputs } };
  await recordPassed(ctx, pushed.outputs.tag, pushed.outputs.digest);
  return { exitCode: 0, outputs: { ...outputs, ...pushed.outputs } };
}

/** Writes the test record of the pushed image (its digest) to the registry; a failure fails ci, naming why. */
async function recordPassed(ctx: RunContext, tag: string, pushedDigest: string): Promise<void> {
  const { client, name } = registryClient(ctx);
  const image = ctx.config.image;
  try {
    const subject = await client.resolve(name, pushedDigest || tag);
    if (!subject) throw new UserError(`${image}:${tag} is not in the registry right after its push`);
    const { runId, actor } = runIdentity(ctx.env);
    const recordTag = await writeTestRecord(client, name, subject, {
      digest: subject.digest, image, tag, result: 'passed', command: ctx.config.test.command.join(' '),
      run: runOf(ctx.env, runId), actor, at: new Date().toISOString(),
    });
    reporter().info(`test record: ${image}@${subject.digest} passed its tests (${image}:${recordTag}); deploys of this digest pass the test gate`);
  } catch (e) {
    throw new UserError(`the image was tested and pushed, but its test record could not be written to the registry: ${errorMessage(e)}`,
      'deploys refuse a digest without a record (unless allow-untested): fix registry access for this user (it needs push rights) and run ci again');
  }
}
