// `promote --from staging --to production`: deploys exactly the release (tag and manifest digest)
// the source environment runs to the target environment. Nothing is built or re-resolved: the
// digest is read from the source's hosts, and the deploy pulls it by digest, through the test gate.
import type { CommandResult, RunContext } from './context.js';
import { sessionOptions } from './context.js';
import { runDeployCommand } from './deploy.js';
import { UserError, errorMessage } from '../errors.js';
import { reporter } from '../util/reporter.js';
import { loadConfig } from '../config/load.js';
import { planDeploy } from '../deploy/plan.js';
import { forEachHost } from '../deploy/parallel.js';
import { liveReleaseArgv, parseLiveRelease } from '../deploy/commands.js';
import { openSession, openSwarmManager } from '../ops/remote.js';
import { planSwarm } from '../swarm/plan.js';
import { inputLabel } from '../ssh/material.js';
import type { PalletConfig } from '../config/types.js';

/** The release one environment runs, agreed by all of its hosts. */
export interface LiveRelease {
  tag: string;
  /** `sha256:<64 hex>` */
  digest: string;
  hosts: string[];
}

/**
 * Pure: the one release every host runs, or a UserError naming the hosts that differ, that run
 * nothing, or whose image has no digest (built there, never pulled).
 */
export function agreedRelease(environment: string, rows: { host: string; tag: string; digest: string; error?: string }[]): LiveRelease {
  const unreachable = rows.filter((r) => r.error);
  if (unreachable.length) throw new UserError(`promote refused, nothing was changed: cannot read what ${environment} runs: ${unreachable.map((r) => `${r.host}: ${r.error}`).join('; ')}`);
  const none = rows.filter((r) => !r.tag);
  if (none.length) throw new UserError(`promote refused, nothing was changed: ${environment} has no release on ${none.map((r) => r.host).join(', ')}`, `deploy ${environment} first`);
  const noDigest = rows.filter((r) => !r.digest);
  if (noDigest.length) {
    throw new UserError(`promote refused, nothing was changed: the image ${environment} runs on ${noDigest.map((r) => `${r.host} (${r.tag})`).join(', ')} has no registry digest`,
      `deploy ${environment} again from the registry (deploys pull by digest), then promote`);
  }
  const kinds = [...new Set(rows.map((r) => `${r.tag}@${r.digest}`))];
  if (kinds.length > 1) {
    throw new UserError(`promote refused, nothing was changed: ${environment}'s hosts run different releases: ${rows.map((r) => `${r.host}=${r.tag}@${r.digest.slice(0, 19)}`).join(', ')}`,
      `finish or roll back the deploy in ${environment} so every host runs one release, then promote`);
  }
  return { tag: rows[0].tag, digest: rows[0].digest, hosts: rows.map((r) => r.host) };
}

/** Reads the release the `source` environment runs, from its SSH hosts or its Swarm manager. */
async function liveRelease(ctx: RunContext, source: PalletConfig): Promise<LiveRelease> {
  const environment = source.environment!;
  const options = { ...sessionOptions(ctx), config: source };
  if (source.deploy?.swarm) {
    const { session, conn } = await openSwarmManager(planSwarm(source).manager, options);
    try {
      const r = await conn.run(liveReleaseArgv(source.app, source.image));
      return agreedRelease(environment, [{ host: conn.name, ...parseLiveRelease(r.stdout, source.image) }]);
    } finally {
      await session.close();
    }
  }
  const plan = planDeploy(source);
  const session = await openSession(plan.hosts, options);
  try {
    const outcomes = await forEachHost(plan.hosts.map((t) => t.label), async (label) => {
      const r = await session.conns.get(label)!.run(liveReleaseArgv(source.app, source.image));
      if (r.exitCode !== 0) throw new Error(r.stderr.trim() || `exit ${r.exitCode}`);
      return parseLiveRelease(r.stdout, source.image);
    });
    return agreedRelease(environment, outcomes.map((o) => (o.ok ? { host: o.host, ...o.value } : { host: o.host, tag: '', digest: '', error: errorMessage(o.error) })));
  } finally {
    await session.close();
  }
}

/** promote: checks the two environments, reads the source's release, deploys it to the target. */
export async function runPromoteCommand(ctx: RunContext): Promise<CommandResult> {
  const from = ctx.inputs.from;
  const to = ctx.config.environment;
  if (!from) throw new UserError(`promote needs ${inputLabel('from', ctx.where)}: the environment whose release is deployed`, `e.g. ${ctx.where === 'flag' ? 'pallet promote --from staging --to production' : 'from: staging, environment: production'}`);
  if (!ctx.config.environments) {
    throw new UserError(`promote needs environments in ${ctx.config.source.file}: it declares none, so staging and production would be the same hosts`,
      'declare environments: {staging: ..., production: ...} (docs/pallet-yml.md#environments)');
  }
  if (from === to) throw new UserError(`promote: ${inputLabel('from', ctx.where)} and the target environment are both '${from}'`, 'name the target with --to (input environment)');
  if (ctx.inputs.digest || ctx.inputs.tag) throw new UserError(`promote deploys what ${from} runs: ${inputLabel(ctx.inputs.digest ? 'digest' : 'tag', ctx.where)} cannot be given with it`, 'use deploy to roll out a chosen tag or digest');
  const source = loadConfig(ctx.config.source.file, { image: ctx.inputs.image, where: ctx.where }, { environment: from, needsEnvironment: true, where: ctx.where });
  const live = await reporter().group(`Reading what ${from} runs`, () => liveRelease(ctx, source));
  reporter().info(`promote: ${from} runs ${source.image}:${live.tag}@${live.digest} on ${live.hosts.join(', ')}; deploying it to ${to}`);
  return runDeployCommand({ ...ctx, inputs: { ...ctx.inputs, tag: live.tag, digest: live.digest } });
}
