// What a deploy rolls out, decided once before any host is touched: the tag's manifest digest
// (resolved on the registry, or given by the `digest` input) and the test gate's verdict on it.
import type { RunContext } from './context.js';
import { UserError } from '../errors.js';
import { reporter } from '../util/reporter.js';
import { inputLabel } from '../ssh/material.js';
import { RegistryClient, splitRepository } from '../registry/client.js';
import { readTestRecord, untestedError, type TestRecord } from '../registry/test-record.js';
import { shortDigest } from '../deploy/report.js';
import { runIdentity } from '../deploy/index.js';

/** The release a deploy rolls out. */
export interface Release {
  tag: string;
  /** `sha256:<64 hex>`: every host (or Swarm service) runs exactly this manifest. */
  digest: string;
  /** The passing test record found for the digest, if any. */
  record?: TestRecord;
  /** Set when deployed without a record on an override: `allow-untested by alice` (audited). */
  untested?: string;
}

/** A client for the app image's registry, logged in with the registry inputs when given. */
export function registryClient(ctx: RunContext): { client: RegistryClient; name: string } {
  const { registry, name } = splitRepository(ctx.config.image);
  const { registryUsername: username, registryPassword: password } = ctx.inputs;
  if (password) reporter().setSecret(password);
  return { client: new RegistryClient(registry, username && password ? { username, password } : undefined), name };
}

/**
 * Resolves `tag` (or takes the `digest` input) and applies the test gate: a digest without a
 * passing record is refused (UserError naming it and what to run) unless deploy.require_tested
 * is false or allow-untested is set, which the audit log then says. `digest` overrides the tag's
 * current content; it must exist in the repository.
 */
export async function resolveRelease(ctx: RunContext, tag: string, digest = ctx.inputs.digest): Promise<Release> {
  const { client, name } = registryClient(ctx);
  const image = ctx.config.image;
  const r = reporter();
  const found = await client.resolve(name, digest ?? tag);
  if (!found) {
    throw digest
      ? new UserError(`deploy refused, nothing was changed: ${image}@${digest} is not in the registry`, `check ${inputLabel('digest', ctx.where)}: it must be the digest ci printed for this image repository`)
      : new UserError(`deploy refused, nothing was changed: ${image}:${tag} is not in the registry`, "push it first ('pallet ci' builds, tests and pushes it), or name another tag");
  }
  const release: Release = { tag, digest: found.digest };
  r.info(`release: ${image}:${tag}@${found.digest}${digest ? ' (given)' : ' (resolved once; every host pulls this digest)'}`);
  const record = await readTestRecord(client, name, found.digest);
  if (record) {
    r.info(`test gate: ${shortDigest(found.digest)} passed its tests ${record.at} in ${record.run.url ?? `run ${record.run.id}`} (by ${record.actor})`);
    return { ...release, record };
  }
  const environment = ctx.config.environment;
  if (ctx.config.deploy?.require_tested === false) {
    // The configuration's own policy, not an override: said in the log, not in the audit line.
    r.warning(`test gate: ${shortDigest(found.digest)} has no passing test record; deploying anyway because deploy.require_tested is false${environment ? ` for ${environment}` : ''}`);
    return release;
  }
  if (ctx.inputs.allowUntested) {
    // The same actor the audit line's actor column and the test record name.
    const { actor } = runIdentity(ctx.env);
    r.warning(`test gate: ${shortDigest(found.digest)} has no passing test record; deploying anyway (${inputLabel('allow-untested', ctx.where)}, by ${actor}); the audit log says so`);
    return { ...release, untested: `allow-untested by ${actor}` };
  }
  throw untestedError(image, tag, found.digest, environment, ctx.where);
}
