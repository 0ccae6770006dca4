import type { CommandResult, RunContext } from './context.js';
import { buildFirstHint, resolveTag } from './context.js';
import { UserError } from '../errors.js';
import { dockerClient, ensureEngine } from '../docker/client.js';
import { pushTag, type PushResult } from '../builder/push.js';
import { registryHostOf } from '../builder/registry.js';
import { authFromContext } from '../builder/stage.js';
import { writePushSummary } from '../builder/summary.js';

/** Pushes build-N (or the `tag` input) plus extra-tags and build.tags of the config. */
export async function runPushCommand(ctx: RunContext): Promise<CommandResult> {
  const docker = dockerClient();
  await ensureEngine(docker);
  const { config, inputs } = ctx;
  const tag = resolveTag(inputs, ctx.env);
  const ref = `${config.image}:${tag}`;
  let imageId: string;
  try {
    imageId = (await docker.getImage(ref).inspect()).Id;
  } catch {
    throw new UserError(`no local image ${ref} to push: it was never built on this Docker Engine`, buildFirstHint(ctx.where, tag));
  }
  const auth = authFromContext(ctx);
  const registry = inputs.registry || registryHostOf(config.image);
  const extra = [...new Set([...inputs.extraTags, ...config.build.tags])].filter((t) => t !== tag);
  const results: PushResult[] = [];
  results.push(await pushTag({ docker, repo: config.image, tag, auth, registry, signal: ctx.signal }));
  for (const t of extra) {
    await docker.getImage(imageId).tag({ repo: config.image, tag: t });
    results.push(await pushTag({ docker, repo: config.image, tag: t, auth, registry, signal: ctx.signal }));
  }
  writePushSummary(results, imageId);
  return {
    exitCode: 0,
    outputs: { image: ref, tag, digest: results[0].digest ?? '', 'image-id': imageId },
  };
}
