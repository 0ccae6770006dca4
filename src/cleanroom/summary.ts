// The job summary of a cleanroom run: services (image, ready in), one row per shard, artifacts.
import type { Row, Summary } from '../util/reporter.js';
import { formatDuration } from '../util/reporter.js';
import type { CleanroomResult } from './run.js';

export function serviceRows(result: CleanroomResult): Row[] {
  // The same services run in every shard: show each once, with its slowest readiness time.
  const byName = new Map<string, { image: string; readyMs: number }>();
  for (const s of result.shards.flatMap((sh) => sh.services)) {
    const seen = byName.get(s.name);
    if (!seen || s.readyMs > seen.readyMs) byName.set(s.name, { image: s.image, readyMs: s.readyMs });
  }
  return [...byName].map(([name, v]) => [name, v.image, formatDuration(v.readyMs)]);
}

export function shardRows(result: CleanroomResult): Row[] {
  return result.shards.map((s) => [
    `${s.shard + 1}/${result.shards.length}`,
    s.services.map((x) => x.name).join(', ') || '-',
    formatDuration(s.durationMs),
    s.exitCode,
    s.passed ? 'passed' : `FAILED${s.problem ? `: ${s.problem}` : ''}`,
  ]);
}

export function writeCleanroomSummary(summary: Summary, image: string, result: CleanroomResult): void {
  summary.heading(`Cleanroom tests: ${result.passed ? 'passed' : 'FAILED'}`);
  summary.text(`Image \`${image}\`, run \`${result.runId}\`, exit code ${result.exitCode}.`);
  const services = serviceRows(result);
  if (services.length) summary.table(['service', 'image', 'ready in'], services);
  summary.table(['shard', 'services', 'duration', 'exit code', 'result'], shardRows(result));
  const artifacts = result.shards.flatMap((s) => s.artifacts);
  if (artifacts.length) summary.list(artifacts);
}
