import type { CommandResult, RunContext } from './context.js';
import { runBuildStage } from '../builder/stage.js';
import { writeBuildSummary } from '../builder/summary.js';

/** Wheelhouse + image (+ the branch's layer-cache image when registry credentials are given). */
export async function runBuildCommand(ctx: RunContext): Promise<CommandResult> {
  const report = await runBuildStage(ctx);
  writeBuildSummary(report);
  const outputs: Record<string, string> = {
    image: report.image.ref,
    tag: report.tag,
    'image-id': report.image.imageId,
  };
  if (report.wheelhouse) outputs['wheelhouse-cache'] = report.wheelhouse.cache;
  return { exitCode: 0, outputs };
}
