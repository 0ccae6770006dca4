// One cleanroom run: N isolated shards (network + services + test container each), at most
// `concurrency` at a time. The ledger learns about the run before anything is created, and
// everything carrying the run's label is removed in `finally`, whatever happened.
import { randomBytes } from 'node:crypto';
import type Docker from 'dockerode';
import pLimit from 'p-limit';
import type { PalletConfig } from '../config/types.js';
import type { CleanupItem, CleanupLedger } from '../util/cleanup.js';
import { reporter, formatDuration } from '../util/reporter.js';
import { errorMessage } from '../errors.js';
import { dockerClient, ensureEngine } from '../docker/client.js';
import { appEnvironment, newRunId, planShards, secretValues, RUN_LABEL, SHARD_LABEL, type ShardPlan } from './plan.js';
import { createNetwork, ensureImage } from './docker-ops.js';
import { startServices } from './services.js';
import { runTestContainer } from './test-container.js';
import { artifactsDir, copyArtifacts } from './artifacts.js';
import { removeByLabels } from './cleanup.js';

export interface CleanroomOptions {
  /** The app image (repository:tag) whose entrypoint runs the tests. */
  image: string;
  /** Full test command (test.command + test-args). */
  command: string[];
  /** Artifacts go to <workdir>/pallet-artifacts/<shard>/. */
  workdir: string;
  shards: number;
  concurrency?: number;
  runId?: string;
  /** Memory limit of each test container, in bytes. */
  memoryBytes?: number;
  docker?: Docker;
  /** Every output line of the test containers, with its shard (benchmarks, tests). */
  onLine?: (shard: number, line: string) => void;
}

export interface ShardResult {
  shard: number;
  services: { name: string; image: string; readyMs: number }[];
  exitCode: number;
  durationMs: number;
  passed: boolean;
  /** Timeout, out of memory, a service that never got ready... */
  problem?: string;
  artifacts: string[];
}

export interface CleanroomResult {
  runId: string;
  passed: boolean;
  /** 0 when every shard passed, else the first failing shard's exit code (at least 1). */
  exitCode: number;
  shards: ShardResult[];
}

export async function runCleanroom(config: PalletConfig, ledger: CleanupLedger, signal: AbortSignal, opts: CleanroomOptions): Promise<CleanroomResult> {
  const docker = opts.docker ?? dockerClient();
  const runId = opts.runId ?? newRunId();
  const plans = planShards(config, { runId, shards: opts.shards });
  for (const s of secretValues(plans[0].services, config.test.environment)) reporter().setSecret(s);
  await ensureEngine(docker);

  const item: CleanupItem = { kind: 'docker-label', label: RUN_LABEL, value: runId };
  ledger.add(item);
  const r = reporter();
  r.info(`cleanroom run ${runId}: ${plans.length} shard(s), services: ${plans[0].services.map((s) => `${s.name} (${s.image})`).join(', ') || 'none'}`);
  // One failing shard setup (a service that never gets ready) stops the others early.
  const local = new AbortController();
  const onAbort = () => local.abort(signal.reason);
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    await ensureImage(docker, opts.image, 'the test run', local.signal);
    const limit = pLimit(Math.max(1, opts.concurrency ?? 2));
    const runAll = () => Promise.allSettled(plans.map((p) => limit(() => runShard(docker, config, p, opts, local.signal).catch((e) => {
      local.abort(e);
      throw e;
    }))));
    // Parallel shards interleave their output: no groups then, so the whole stretch is guarded.
    const settled = plans.length > 1 ? await withCommandsStopped(runAll) : await runAll();
    for (const s of settled) {
      if (plans.length > 1 && s.status === 'fulfilled' && s.value.problem) r.error(`[shard ${s.value.shard}] ${s.value.problem}`);
    }
    signal.throwIfAborted();
    const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (failed) throw failed.reason;
    const shards = settled.map((s) => (s as PromiseFulfilledResult<ShardResult>).value);
    const firstBad = shards.find((s) => !s.passed);
    return { runId, passed: !firstBad, exitCode: firstBad ? firstBad.exitCode || 1 : 0, shards };
  } finally {
    signal.removeEventListener('abort', onAbort);
    try {
      await removeByLabels(docker, [`${RUN_LABEL}=${runId}`]);
      ledger.done(item);
    } catch (e) {
      r.warning(`cleanroom: could not remove everything of run ${runId} (${errorMessage(e)}); the post step will retry`);
    }
  }
}

async function runShard(docker: Docker, config: PalletConfig, plan: ShardPlan, opts: CleanroomOptions, signal: AbortSignal): Promise<ShardResult> {
  const r = reporter();
  const many = plan.shardTotal > 1;
  const tag = many ? `[shard ${plan.shardIndex}]` : undefined;
  const log = (m: string) => r.info(tag ? `${tag} ${m}` : m);
  const started = Date.now();
  try {
    await createNetwork(docker, plan.network.name, plan.network.labels);
    const startAll = () => startServices(docker, plan, signal);
    const services = many || !plan.services.length ? await startAll() : await r.group(`services: ${plan.services.map((s) => s.name).join(', ')}`, startAll);
    if (many) log(`services ready: ${services.map((s) => `${s.plan.name} ${formatDuration(s.readyMs)}`).join(', ') || 'none'}`);
    const env = appEnvironment(
      plan.app,
      services.map((s) => ({ svc: s.plan, endpoint: s.endpoint })),
      config.test.environment,
      { index: plan.shardIndex, total: plan.shardTotal },
    );
    const runTests = () => runTestContainer(docker, {
      image: opts.image,
      name: `pallet-${plan.app}-${plan.instance}-test`,
      cmd: opts.command,
      env,
      labels: plan.labels,
      network: plan.network.name,
      timeoutS: config.test.timeout ?? 1800,
      memoryBytes: opts.memoryBytes,
      prefix: tag,
      onLine: opts.onLine && ((l) => opts.onLine!(plan.shardIndex, l)),
    }, signal);
    const outcome = many ? await runTests() : await r.group(`tests: ${opts.image} ${opts.command.join(' ')}`, () => withCommandsStopped(runTests));
    if (outcome.problem && !many) r.error(outcome.problem);
    log(`test exit code ${outcome.exitCode} after ${formatDuration(outcome.durationMs)}`);
    const artifacts = await copyArtifacts(docker, outcome.containerId, config.test.artifacts ?? [], artifactsDir(opts.workdir, plan.shardIndex));
    return {
      shard: plan.shardIndex,
      services: services.map((s) => ({ name: s.plan.name, image: s.plan.image, readyMs: s.readyMs })),
      exitCode: outcome.exitCode,
      durationMs: Date.now() - started,
      passed: outcome.exitCode === 0 && !outcome.problem,
      problem: outcome.problem,
      artifacts,
    };
  } finally {
    // Free this shard's containers now, so queued shards do not compete with finished ones.
    if (many) await removeByLabels(docker, [`${RUN_LABEL}=${plan.runId}`, `${SHARD_LABEL}=${plan.shardIndex}`]).catch(() => undefined);
  }
}

/**
 * On the runner, a line of test output such as `::add-mask::` or `::set-output` would be obeyed as
 * a workflow command. Test output is the app's, not ours: the runner is told to ignore commands
 * while it streams (stop-commands with a one-time token), and to resume afterwards.
 */
export async function withCommandsStopped<T>(fn: () => Promise<T>): Promise<T> {
  const r = reporter();
  if (r.kind !== 'actions') return fn();
  const token = randomBytes(16).toString('hex');
  r.info(`::stop-commands::${token}`);
  try {
    return await fn();
  } finally {
    r.info(`::${token}::`);
  }
}
