// A small client of the OCI Distribution API (https://github.com/opencontainers/distribution-spec,
// spec.md; Docker's "Registry HTTP API V2" is the same protocol): resolve a tag to its manifest
// digest, read and write manifests and blobs. Authentication follows the registry's challenge
// (RFC 7235 WWW-Authenticate): Basic, or the Docker token flow (Bearer realm/service/scope,
// https://distribution.github.io/distribution/spec/auth/token/) with the same user and password.
// The password only ever travels in an Authorization header.
import { createHash } from 'node:crypto';
import { UserError } from '../errors.js';
import { registryHostOf } from '../builder/registry.js';

/** Media types a deploy accepts for an image: a multi-platform index or a single manifest. */
export const MANIFEST_TYPES = [
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.docker.distribution.manifest.v2+json',
];

/** A content descriptor (OCI image-spec descriptor.md): what a manifest points at. */
export interface Descriptor {
  mediaType: string;
  /** `sha256:<64 hex>` */
  digest: string;
  /** Bytes. */
  size: number;
}

export interface RegistryCredentials {
  username: string;
  password: string;
}

/** `registry.example.com/team/app` -> its registry host and repository name (Docker Hub's `library/` added). */
export function splitRepository(image: string): { registry: string; name: string } {
  const registry = registryHostOf(image);
  let name = registry === 'docker.io' && !image.startsWith('docker.io/') ? image : image.slice(registry.length + 1);
  if (registry === 'docker.io' && !name.includes('/')) name = `library/${name}`;
  return { registry, name };
}

/** sha256 digest of bytes, as registries name content. */
export function sha256Digest(data: Buffer): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

/** Loopback registries speak plain HTTP (as the Docker Engine assumes for 127.0.0.0/8); all others HTTPS. */
export function registryBaseUrl(registry: string): string {
  if (registry === 'docker.io') return 'https://registry-1.docker.io';
  const host = registry.replace(/:\d+$/, '');
  const plain = host === 'localhost' || /^127\./.test(host) || host === '[::1]';
  return `${plain ? 'http' : 'https'}://${registry}`;
}

type Fetch = typeof fetch;

/**
 * One registry, one repository's worth of calls. Errors: UserError for authentication (401/403,
 * naming the registry and what to set) and for anything else the registry answers, with its status.
 */
export class RegistryClient {
  private readonly base: string;
  private readonly tokens = new Map<string, string>();

  constructor(private readonly registry: string, private readonly credentials?: RegistryCredentials, private readonly fetchImpl: Fetch = fetch) {
    this.base = registryBaseUrl(registry);
  }

  /** The descriptor of `name:reference` (a tag or a digest), or undefined when the registry has no such manifest. */
  async resolve(name: string, reference: string): Promise<Descriptor | undefined> {
    const res = await this.request('HEAD', name, `/v2/${name}/manifests/${reference}`, { accept: MANIFEST_TYPES.join(', ') });
    if (res.status === 404) return undefined;
    await this.expectOk(res, `resolving ${name}:${reference}`);
    let digest = res.headers.get('docker-content-digest') ?? '';
    const mediaType = (res.headers.get('content-type') ?? '').split(';')[0];
    let size = Number(res.headers.get('content-length') ?? '0');
    if (!/^sha256:[0-9a-f]{64}$/.test(digest)) {
      // Not every registry sends the digest on HEAD: read the manifest and hash it.
      const got = await this.manifest(name, reference, MANIFEST_TYPES);
      if (!got) return undefined;
      digest = got.digest;
      size = got.body.length;
    }
    return { mediaType, digest, size };
  }

  /** The manifest's bytes, media type and digest, or undefined on 404. */
  async manifest(name: string, reference: string, accept: string[]): Promise<{ body: Buffer; mediaType: string; digest: string } | undefined> {
    const res = await this.request('GET', name, `/v2/${name}/manifests/${reference}`, { accept: accept.join(', ') });
    if (res.status === 404) return undefined;
    await this.expectOk(res, `reading the manifest ${name}:${reference}`);
    const body = Buffer.from(await res.arrayBuffer());
    return { body, mediaType: (res.headers.get('content-type') ?? '').split(';')[0], digest: sha256Digest(body) };
  }

  /** A blob's bytes, checked against its digest; undefined on 404. */
  async blob(name: string, digest: string): Promise<Buffer | undefined> {
    const res = await this.request('GET', name, `/v2/${name}/blobs/${digest}`, {});
    if (res.status === 404) return undefined;
    await this.expectOk(res, `reading blob ${digest.slice(0, 19)} of ${name}`);
    const body = Buffer.from(await res.arrayBuffer());
    if (sha256Digest(body) !== digest) throw new UserError(`registry ${this.registry} returned blob ${digest.slice(0, 19)} of ${name} with other content`);
    return body;
  }

  /** Uploads a blob in one request (POST then PUT with ?digest=, spec "monolithic upload"); returns its descriptor. */
  async pushBlob(name: string, data: Buffer, mediaType: string): Promise<Descriptor> {
    const digest = sha256Digest(data);
    const head = await this.request('HEAD', name, `/v2/${name}/blobs/${digest}`, {}, undefined, true);
    if (head.status === 200) return { mediaType, digest, size: data.length };
    const start = await this.request('POST', name, `/v2/${name}/blobs/uploads/`, {}, undefined, true);
    await this.expectOk(start, `starting a blob upload to ${name}`);
    const location = start.headers.get('location');
    if (!location) throw new UserError(`registry ${this.registry} started an upload without a Location header`);
    const url = new URL(location, this.base);
    url.searchParams.set('digest', digest);
    const put = await this.request('PUT', name, url.pathname + url.search, { 'content-type': 'application/octet-stream' }, data, true);
    await this.expectOk(put, `uploading blob ${digest.slice(0, 19)} to ${name}`);
    return { mediaType, digest, size: data.length };
  }

  /** Puts a manifest under `reference` (a tag); returns its digest. */
  async pushManifest(name: string, reference: string, body: Buffer, mediaType: string): Promise<string> {
    const res = await this.request('PUT', name, `/v2/${name}/manifests/${reference}`, { 'content-type': mediaType }, body, true);
    await this.expectOk(res, `writing the manifest ${name}:${reference}`);
    return sha256Digest(body);
  }

  private async request(method: string, name: string, pathAndQuery: string, headers: Record<string, string>, body?: Buffer, push = false): Promise<Response> {
    const scope = `repository:${name}:${push ? 'pull,push' : 'pull'}`;
    const send = (auth?: string) => this.fetchImpl(this.base + pathAndQuery, {
      method, headers: { ...headers, ...(auth ? { authorization: auth } : {}) }, body: body ? new Uint8Array(body) : undefined, redirect: 'follow',
    }).catch((e: unknown) => {
      throw new UserError(`cannot reach registry ${this.registry} (${this.base}): ${(e as Error).cause ? String((e as { cause: unknown }).cause) : (e as Error).message}`,
        'check the image name in pallet.yml and that this machine can reach the registry');
    });
    const cached = this.tokens.get(scope);
    let res = await send(cached);
    if (res.status !== 401) return res;
    const challenge = res.headers.get('www-authenticate') ?? '';
    const auth = await this.authorize(challenge, scope);
    if (!auth) return res;
    res = await send(auth);
    if (res.status !== 401) this.tokens.set(scope, auth);
    return res;
  }

  /** The Authorization header value the challenge asks for, or undefined when it cannot be met. */
  private async authorize(challenge: string, scope: string): Promise<string | undefined> {
    const basic = this.credentials ? `Basic ${Buffer.from(`${this.credentials.username}:${this.credentials.password}`).toString('base64')}` : undefined;
    if (/^basic/i.test(challenge)) return basic;
    if (!/^bearer/i.test(challenge)) return undefined;
    const params = Object.fromEntries([...challenge.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1].toLowerCase(), m[2]]));
    if (!params.realm) return undefined;
    const url = new URL(params.realm);
    if (params.service) url.searchParams.set('service', params.service);
    url.searchParams.set('scope', scope);
    const res = await this.fetchImpl(url, { headers: basic ? { authorization: basic } : {} });
    if (!res.ok) return undefined;
    const json = (await res.json()) as { token?: string; access_token?: string };
    const token = json.token ?? json.access_token;
    return token ? `Bearer ${token}` : undefined;
  }

  private async expectOk(res: Response, what: string): Promise<void> {
    if (res.ok) return;
    const detail = res.status === 401 || res.status === 403
      ? `${res.status} ${res.status === 401 ? 'unauthorized' : 'forbidden'}`
      : `${res.status} ${(await res.text().catch(() => '')).trim().slice(0, 200)}`;
    const hint = res.status === 401 || res.status === 403
      ? 'set registry-username and registry-password (CLI: --registry-username and PALLET_REGISTRY_PASSWORD or --registry-password-file) for a user that may read (and, for ci, write) the repository'
      : undefined;
    throw new UserError(`registry ${this.registry}: ${what} failed: ${detail}`, hint);
  }
}
