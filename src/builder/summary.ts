// The job summary of the build and push stages: what was built, what came from cache, where
// the time went.
import { reporter, formatBytes, formatDuration } from '../util/reporter.js';
import type { BuildReport } from './stage.js';
import type { PushResult } from './push.js';

export function buildSummaryRows(r: BuildReport): [string, string][] {
  const rows: [string, string][] = [
    ['image', r.image.ref],
    ['image id', r.image.imageId.slice(0, 19)],
    ['image size', formatBytes(r.image.size)],
    ['builder', r.image.builder === 'buildkit' ? 'BuildKit' : `classic builder (${r.image.builderReason})`],
    ['layer steps', `${r.image.cachedSteps} from cache, ${r.image.ranSteps} run`],
    ['layer cache', r.image.cacheImports.length ? `cache-from ${r.image.cacheImports.join(', ')}` : 'no registry cache image (local cache only)'],
  ];
  const ran = r.image.steps.filter((s) => !s.cached && s.ms !== undefined && !/^FROM\s/i.test(s.instruction));
  if (r.image.builder === 'buildkit' && ran.length) {
    rows.push(['steps run', ran.map((s) => `${s.stage ? `${s.stage}: ` : ''}${s.instruction.slice(0, 60)}${s.line ? ` (line ${s.line})` : ''} ${formatDuration(s.ms!)}`).join('; ')]);
  }
  if (r.wheelhouse) {
    const w = r.wheelhouse;
    rows.push(['wheelhouse', `${w.cache}: ${w.built.length} wheels built, ${w.reused.length} reused (${w.backend})`]);
    if (w.built.length) rows.push(['wheels built', w.built.join(', ')]);
  }
  for (const p of r.stageCachePushes ?? []) rows.push(['stage cache image pushed', `${p.ref} ${p.digest ?? ''}`.trim()]);
  if (r.cachePush) rows.push(['cache image pushed', `${r.cachePush.ref} ${r.cachePush.digest ?? ''}`.trim()]);
  return rows;
}

export function writeBuildSummary(r: BuildReport): void {
  reporter().summary
    .heading('pallet build')
    .table(['', ''], buildSummaryRows(r))
    .table(['phase', 'time'], r.phases.map((p) => [p.name, formatDuration(p.ms)]));
}

export function writePushSummary(results: PushResult[], imageId: string): void {
  reporter().summary
    .heading('pallet push')
    .table(['pushed', 'digest', 'attempts', 'layers pushed / already there', 'time'], results.map((p) => [
      p.ref, p.digest ?? '', p.attempts, `${p.layers.pushed} / ${p.layers.existed}`, formatDuration(p.durationMs),
    ]))
    .text(`image id ${imageId}`);
}
