// The test gate's evidence: after `ci` tested an image and pushed it, a record that this digest
// passed its cleanroom tests is written next to it on the registry, so that it outlives the
// runner and any deploy, anywhere, can ask for it.
//
// Format: an OCI artifact (image-spec v1.1 manifest.md, "Guidelines for Artifact Usage"): an image
// manifest with artifactType TEST_RECORD_TYPE, the empty config, one layer holding the record as
// JSON, and `subject` = the tested image's manifest. Registries without the referrers API
// (distribution 2.8, ...) are served by the tag schema that spec defines for them, extended as
// cosign does for its signatures: the record is tagged `sha256-<hex>.pallet-tested`.
import { UserError } from '../errors.js';
import { RegistryClient, type Descriptor } from './client.js';

export const TEST_RECORD_TYPE = 'application/vnd.pallet.test-record.v1+json';
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
/** The empty descriptor (image-spec manifest.md): a config that says nothing. */
const EMPTY_CONFIG = Buffer.from('{}');

/** What the record says. Times are RFC 3339 (UTC). */
export interface TestRecord {
  /** The tested image's manifest digest, `sha256:<64 hex>`. */
  digest: string;
  /** Repository and tag it was pushed as. */
  image: string;
  tag: string;
  result: 'passed';
  /** The test command run in the cleanroom (argv joined by spaces). */
  command: string;
  /** Who and what ran the tests: a GitHub Actions run (its URL) or a local `pallet ci`. */
  run: { id: string; url?: string; repository?: string; workflow?: string; sha?: string };
  actor: string;
  at: string;
}

/** The tag a digest's record lives under: `sha256-<hex>.pallet-tested`. */
export function testRecordTag(digest: string): string {
  return `${digest.replace(':', '-')}.pallet-tested`;
}

/** The run that produced a record, from the GitHub Actions environment (or a local run). */
export function runOf(env: NodeJS.ProcessEnv, runId: string): TestRecord['run'] {
  const url = env.GITHUB_SERVER_URL && env.GITHUB_REPOSITORY && env.GITHUB_RUN_ID
    ? `${env.GITHUB_SERVER_URL}/${env.GITHUB_REPOSITORY}/actions/runs/${env.GITHUB_RUN_ID}` : undefined;
  return { id: runId, ...(url ? { url } : {}), ...(env.GITHUB_REPOSITORY ? { repository: env.GITHUB_REPOSITORY } : {}),
    ...(env.GITHUB_WORKFLOW ? { workflow: env.GITHUB_WORKFLOW } : {}), ...(env.GITHUB_SHA ? { sha: env.GITHUB_SHA } : {}) };
}

/** Writes the record for `subject` (the pushed image's descriptor) into repository `name`; returns the record's tag. */
export async function writeTestRecord(client: RegistryClient, name: string, subject: Descriptor, record: TestRecord): Promise<string> {
  const body = Buffer.from(JSON.stringify(record, null, 2) + '\n');
  const config = await client.pushBlob(name, EMPTY_CONFIG, 'application/vnd.oci.empty.v1+json');
  const layer = await client.pushBlob(name, body, TEST_RECORD_TYPE);
  const manifest = {
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    artifactType: TEST_RECORD_TYPE,
    config,
    layers: [layer],
    subject,
    annotations: { 'org.opencontainers.image.created': record.at, 'dev.pallet.test.result': record.result, 'dev.pallet.test.run': record.run.url ?? record.run.id },
  };
  const tag = testRecordTag(subject.digest);
  await client.pushManifest(name, tag, Buffer.from(JSON.stringify(manifest)), OCI_MANIFEST);
  return tag;
}

/**
 * The record for `digest` in repository `name`, or undefined when there is none. A record whose
 * subject or content names another digest counts as none (a tag pointed elsewhere by hand).
 */
export async function readTestRecord(client: RegistryClient, name: string, digest: string): Promise<TestRecord | undefined> {
  const got = await client.manifest(name, testRecordTag(digest), [OCI_MANIFEST]);
  if (!got) return undefined;
  let manifest: { artifactType?: string; subject?: { digest?: string }; layers?: Descriptor[] };
  try { manifest = JSON.parse(got.body.toString('utf8')); } catch { return undefined; }
  const layer = manifest.layers?.find((l) => l.mediaType === TEST_RECORD_TYPE);
  if (manifest.artifactType !== TEST_RECORD_TYPE || manifest.subject?.digest !== digest || !layer) return undefined;
  const blob = await client.blob(name, layer.digest);
  if (!blob) return undefined;
  try {
    const record = JSON.parse(blob.toString('utf8')) as TestRecord;
    return record.digest === digest && record.result === 'passed' ? record : undefined;
  } catch {
    return undefined;
  }
}

/** Pure: the refusal for a digest without a record, naming the digest and what to do. */
export function untestedError(image: string, tag: string | undefined, digest: string, environment: string | undefined, where: 'input' | 'flag' | undefined): UserError {
  const flag = where === 'flag' ? '--allow-untested' : 'allow-untested: true';
  return new UserError(
    `deploy refused, nothing was changed: ${image}${tag ? `:${tag}` : ''} (${digest}) has no passing test record on the registry (${testRecordTag(digest)})`,
    `run 'pallet ci' (action command ci) for this image so it is built, tested and pushed with its record; or deploy it untested with ${flag} (written to the audit log)${environment ? `, or set deploy.require_tested: false for environment ${environment}` : ', or set deploy.require_tested: false'}`,
  );
}

