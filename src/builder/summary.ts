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
    ['layer steps', `${r.image.cachedSteps} from cache, ${r.image.ranSteps} run`],
    ['layer cache', r.image.cacheFrom ? `cache-from ${r.image.cacheFrom}` : 'no registry cache image (local cache only)'],
  ];
  if (r.wheelhouse) {
    const w = r.wheelhouse;
    rows.push(['wheelhouse', `${w.cache}: ${w.built.length} wheels built, ${w.reused.length} reused (${w.backend})`]);
    if (w.built.length) rows.push(['wheels built', w.built.join(', ')]);
  }
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
