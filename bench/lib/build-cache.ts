// Cold and empty-engine states for bench/build.ts without touching other work's build cache.
//
// A cold build must not reuse steps that other builds left in the engine (the example app's
// `python3 -m venv` step is in BuildKit's cache after any e2e run), and the empty-engine rebuild
// must find none of the bench's own steps locally. Pruning the engine's whole build cache would
// do both, but other work shares the engine. So:
//  - each run builds FROM its own base image (the lab's, plus `ENV PALLET_BENCH_RUN=<run id>`):
//    every RUN step's cache key includes its environment, so no step of the run can match a
//    record (BuildKit) or a parent image (classic builder) made before it;
//  - the BuildKit cache records the run made are those whose IDs were not in the engine before
//    its first BuildKit build (`GET /system/df`); exactly those are pruned, one `POST /build/prune`
//    per record ID, children before parents. A record another build made in that window on the
//    same engine would be pruned too (it only makes that build's next run slower; records in
//    use are never pruned).
import type Docker from 'dockerode';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

/** One record of `GET /system/df` `.BuildCache` (Engine API 1.41; 1.42+ adds `Parents`). */
export interface BuildCacheRecord {
  ID: string;
  Parent?: string;
  Parents?: string[];
  Type?: string;
  Description?: string;
  InUse?: boolean;
}

/** The engine's BuildKit cache records. */
export async function buildCacheRecords(docker: Docker): Promise<BuildCacheRecord[]> {
  const df = await docker.df() as { BuildCache?: BuildCacheRecord[] | null };
  return df.BuildCache ?? [];
}

/**
 * The records of `after` that are not in `before`, ordered so that every record comes before
 * its parent (pure): BuildKit prunes a record only when nothing else refers to it.
 */
export function newRecordsChildrenFirst(before: Set<string>, after: BuildCacheRecord[]): BuildCacheRecord[] {
  const fresh = after.filter((r) => !before.has(r.ID));
  const byId = new Map(fresh.map((r) => [r.ID, r]));
  const parentsOf = (r: BuildCacheRecord) => [...(r.Parents ?? []), ...(r.Parent ? [r.Parent] : [])].filter((p) => byId.has(p));
  const depth = new Map<string, number>();
  const depthOf = (r: BuildCacheRecord, seen = new Set<string>()): number => {
    const known = depth.get(r.ID);
    if (known !== undefined) return known;
    if (seen.has(r.ID)) return 0;
    seen.add(r.ID);
    const d = Math.max(0, ...parentsOf(r).map((p) => depthOf(byId.get(p)!, seen) + 1));
    depth.set(r.ID, d);
    return d;
  };
  return [...fresh].sort((a, b) => depthOf(b) - depthOf(a) || a.ID.localeCompare(b.ID));
}

/** `POST /build/prune` of one record (`all`: retained step records too; `id` filter: that record alone). */
async function pruneRecord(docker: Docker, id: string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    docker.modem.dial({
      path: '/build/prune?',
      method: 'POST',
      options: { _query: { all: true, filters: { id: [id] } }, _body: {} },
      statusCodes: { 200: true, 500: 'server error' },
    } as never, (err: Error | null) => (err ? reject(err) : resolve()));
  });
}

/**
 * Prunes the BuildKit cache records made since `before` was taken, children first, until none
 * is left or a pass removes nothing. Returns how many were pruned and how many stayed (in use).
 */
export async function pruneRecordsSince(docker: Docker, before: Set<string>): Promise<{ pruned: number; left: number }> {
  let pruned = 0;
  for (let pass = 0; pass < 5; pass++) {
    const fresh = newRecordsChildrenFirst(before, await buildCacheRecords(docker)).filter((r) => !r.InUse);
    if (!fresh.length) break;
    for (const r of fresh) await pruneRecord(docker, r.ID);
    const left = new Set((await buildCacheRecords(docker)).map((r) => r.ID));
    const removed = fresh.filter((r) => !left.has(r.ID)).length;
    pruned += removed;
    if (!removed) break;
  }
  const left = newRecordsChildrenFirst(before, await buildCacheRecords(docker)).length;
  return { pruned, left };
}

/**
 * Builds `<repo>:<runId>`: `from` plus `ENV PALLET_BENCH_RUN=<runId>` (classic builder; a new
 * image ID, the same layers). Returns the reference.
 */
export async function runBaseImage(docker: Docker, from: string, repo: string, runId: string): Promise<string> {
  const ref = `${repo}:${runId}`;
  const dir = await mkdtemp(path.join(os.tmpdir(), 'pallet-bench-base-'));
  try {
    await writeFile(path.join(dir, 'Dockerfile'), `FROM ${from}\nENV PALLET_BENCH_RUN=${runId}\n`);
    const stream = await docker.buildImage({ context: dir, src: ['Dockerfile'] }, { t: ref, version: '1', rm: true, forcerm: true, pull: false } as never) as unknown as NodeJS.ReadableStream;
    const events = await new Promise<{ error?: string }[]>((resolve, reject) =>
      docker.modem.followProgress(stream, (err: Error | null, out: { error?: string }[]) => (err ? reject(err) : resolve(out))));
    const failed = events.find((e) => e.error);
    if (failed) throw new Error(`building the bench's base image ${ref} failed: ${failed.error}`);
    return ref;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
