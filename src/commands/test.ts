// `test`: runs the image's test entrypoint against fresh service containers, exactly as CI does.
import path from 'node:path';
import type { CommandResult, RunContext } from './context.js';
import { buildFirstHint, resolveTag } from './context.js';
import { UserError } from '../errors.js';
import { dockerClient, ensureEngine } from '../docker/client.js';
import { ensureImage } from '../cleanroom/docker-ops.js';
import { reporter } from '../util/reporter.js';
import { runCleanroom } from '../cleanroom/run.js';
import { testCommand } from '../cleanroom/plan.js';
import { writeCleanroomSummary } from '../cleanroom/summary.js';

export async function runTestCommand(ctx: RunContext): Promise<CommandResult> {
  const { config, inputs } = ctx;
  if (!config.image) throw new UserError('image: missing in the config', 'set `image:` in pallet.yml or pass the image input');
  const tag = resolveTag(inputs, ctx.env);
  const image = `${config.image}:${tag}`;
  await ensureTestImage(ctx, image, tag);
  // The loader already applied the shards input over test.shards (src/commands/index.ts).
  const shards = config.test.shards;
  const result = await runCleanroom(config, ctx.ledger, ctx.signal, {
    image,
    command: testCommand(config.test.command, inputs.testArgs),
    workdir: path.resolve(inputs.workingDirectory),
    shards,
  });
  const r = reporter();
  writeCleanroomSummary(r.summary, image, result);
  if (result.passed) r.info(`cleanroom tests passed (${shards} shard(s))`);
  else {
    const bad = result.shards.filter((s) => !s.passed).map((s) => `shard ${s.shard}: exit ${s.exitCode}${s.problem ? ` (${s.problem})` : ''}`);
    r.error(`cleanroom tests failed: ${bad.join('; ')}`, { title: 'cleanroom tests failed' });
  }
  return { exitCode: result.exitCode, outputs: { 'test-exit-code': String(result.exitCode), image } };
}

/** The image under test is here or pulled; when neither, say how it is made (not just "cannot be pulled"). */
async function ensureTestImage(ctx: RunContext, image: string, tag: string): Promise<void> {
  const docker = dockerClient();
  await ensureEngine(docker);
  try {
    await ensureImage(docker, image, 'the test run', ctx.signal);
  } catch (e) {
    if (!(e instanceof UserError)) throw e;
    // "the test run: image 'X' is not on this Docker Engine and cannot be pulled (why)": the hint says how it is made.
    throw new UserError(e.message, `${buildFirstHint(ctx.where, tag)}; to test an image from the registry, give the tag it was pushed with and the registry credentials`);
  }
}
