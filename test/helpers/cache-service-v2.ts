// A local stand-in for version 2 of the GitHub Actions cache service, speaking what the installed
// @actions/cache (6.x) sends when ACTIONS_CACHE_SERVICE_V2 is set: Twirp JSON calls under
// ACTIONS_RESULTS_URL (service github.actions.results.api.v1.CacheService, fields in their
// proto names, as lib/generated/results/api/v1/cache.twirp-client.js sends them):
//
//   POST /twirp/github.actions.results.api.v1.CacheService/GetCacheEntryDownloadURL
//        {key, restore_keys, version}     -> {ok: true, signed_download_url, matched_key} | {ok: false}
//        (per key in order: exact key, else newest entry whose key starts with it; same version only)
//   POST .../CreateCacheEntry {key, version}            -> {ok: true, signed_upload_url}
//        | Twirp error already_exists (409) when the key and version exist
//   POST .../FinalizeCacheEntryUpload {key, version, size_bytes} -> {ok: true, entry_id}
//        | {ok: false, message} when the blob is missing or its size differs
//
// Every call needs `Authorization: Bearer <ACTIONS_RUNTIME_TOKEN>`. The archive itself goes to a real
// blob server, Azurite (npm, run here on 127.0.0.1 with in-memory storage), through the Azure Storage
// SDK the library uses (BlockBlobClient.uploadFile; getProperties + downloadToBuffer), against SAS URLs
// signed with Azurite's well-known development account key. Like GitHub's, the URLs name the account's
// production host (devstoreaccount1.blob.core.windows.net): the library downloads with the Azure SDK
// only from hosts ending in .blob.core.windows.net. HTTP_PROXY points at a forward proxy here that
// sends that host, and nothing else, to Azurite.
import {
  BlobSASPermissions, BlobServiceClient, generateBlobSASQueryParameters, SASProtocol, StorageSharedKeyCredential,
  type ContainerClient,
} from '@azure/storage-blob';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import path from 'node:path';
import { findEntry, readBody } from './cache-server.js';

/** Azurite's development account (https://learn.microsoft.com/azure/storage/common/storage-use-azurite). */
export const AZURITE_ACCOUNT = 'devstoreaccount1';
const AZURITE_KEY = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';
/** The host the signed URLs name; the proxy sends it to Azurite. */
export const BLOB_HOST = `${AZURITE_ACCOUNT}.blob.core.windows.net`;
const CONTAINER = 'actions-cache';
const SERVICE = 'github.actions.results.api.v1.CacheService';
const START_TIMEOUT_MS = 60_000;

export interface CacheEntryV2 {
  id: number;
  key: string;
  version: string;
  blob: string;
  /** Set by FinalizeCacheEntryUpload: the entry can be restored from then on. */
  size?: number;
  created: number;
}

export interface CacheServiceV2 {
  /** Base URL: the value for ACTIONS_RESULTS_URL. */
  url: string;
  token: string;
  entries: CacheEntryV2[];
  /** Twirp method of every call, in order ("CreateCacheEntry", ...). */
  calls: string[];
  /** "METHOD /container/blob" of every request the proxy passed to Azurite (query strings, and so the SAS signatures, left out). */
  blobRequests: string[];
  /** Hosts the proxy refused (anything but BLOB_HOST). */
  refused: string[];
  /**
   * Environment that points @actions/cache at this service; `undefined` means "unset". HTTPS_PROXY and
   * ALL_PROXY are unset because the Azure SDK prefers them to HTTP_PROXY.
   */
  env: Record<string, string | undefined>;
  /** Size of a blob as Azurite holds it, or undefined when it has none by that name. */
  blobSize(blob: string): Promise<number | undefined>;
  /** Stops the Twirp server, the proxy and Azurite. */
  close(): Promise<void>;
}

interface Azurite {
  port: number;
  child: ChildProcess;
}

/** Starts Azurite's blob service on 127.0.0.1 (port chosen by the system, storage in memory only). */
async function startAzurite(): Promise<Azurite> {
  const main = path.join(path.dirname(createRequire(import.meta.url).resolve('azurite/package.json')), 'dist/src/blob/main.js');
  const child = spawn(process.execPath, [
    main, '--blobHost', '127.0.0.1', '--blobPort', '0', '--inMemoryPersistence', '--extentMemoryLimit', '256',
    // The Azure SDK sends a newer x-ms-version than this Azurite lists; the operations used are old ones.
    '--skipApiVersionCheck', '--silent',
  ], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`Azurite did not start within ${START_TIMEOUT_MS} ms: ${out}`)), START_TIMEOUT_MS);
    const onData = (b: Buffer) => {
      out += b.toString();
      const m = /successfully listens on http:\/\/127\.0\.0\.1:(\d+)/.exec(out);
      if (m) { clearTimeout(timer); resolve(Number(m[1])); }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`Azurite exited (${code}) before listening: ${out}`)); });
  });
  child.removeAllListeners('exit');
  return { port, child };
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    child.once('exit', () => { clearTimeout(timer); resolve(); });
    child.kill('SIGTERM');
  });
}


function json(res: http.ServerResponse, status: number, body: unknown) {
  const data = Buffer.from(JSON.stringify(body));
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': data.length });
  res.end(data);
}

/** A Twirp error: HTTP status from the Twirp spec's table, body {code, msg}. */
function twirpError(res: http.ServerResponse, code: 'unauthenticated' | 'not_found' | 'already_exists' | 'invalid_argument' | 'internal', msg: string) {
  const status = { unauthenticated: 401, not_found: 404, already_exists: 409, invalid_argument: 400, internal: 500 }[code];
  json(res, status, { code, msg });
}

/** A forward proxy for plain-HTTP requests in absolute form: BLOB_HOST goes to Azurite, anything else is refused. */
function startBlobProxy(azuritePort: number, blobRequests: string[], refused: string[]): Promise<http.Server> {
  const proxy = http.createServer((req, res) => {
    let target: URL;
    try { target = new URL(req.url ?? ''); } catch { res.writeHead(400); res.end('absolute-form request expected'); return; }
    if (target.hostname !== BLOB_HOST) {
      refused.push(target.host);
      res.writeHead(403); res.end(`this proxy only forwards ${BLOB_HOST}`);
      return;
    }
    blobRequests.push(`${req.method} ${target.pathname}`);
    const headers = { ...req.headers };
    delete headers['proxy-connection'];
    delete headers['proxy-authorization'];
    const upstream = http.request({ host: '127.0.0.1', port: azuritePort, method: req.method, path: target.pathname + target.search, headers }, (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    });
    upstream.on('error', (e) => { if (!res.headersSent) res.writeHead(502); res.end(String(e)); });
    req.pipe(upstream);
  });
  // CONNECT (https through the proxy) has no place here: the signed URLs are plain http.
  proxy.on('connect', (req, socket) => { refused.push(String(req.url)); socket.end('HTTP/1.1 405 Method Not Allowed\r\n\r\n'); });
  return new Promise((resolve) => proxy.listen(0, '127.0.0.1', () => resolve(proxy)));
}

export async function startCacheServiceV2(): Promise<CacheServiceV2> {
  const token = randomBytes(12).toString('hex');
  const entries: CacheEntryV2[] = [];
  const calls: string[] = [];
  const blobRequests: string[] = [];
  const refused: string[] = [];
  let nextId = 1;
  let tick = 0;

  const azurite = await startAzurite();
  const credential = new StorageSharedKeyCredential(AZURITE_ACCOUNT, AZURITE_KEY);
  // The stand-in's own calls go straight to Azurite (path-style URL with the account in the path). The
  // client is made before the caller sets HTTP_PROXY: the SDK reads proxy settings when a client is made.
  const container: ContainerClient = new BlobServiceClient(`http://127.0.0.1:${azurite.port}/${AZURITE_ACCOUNT}`, credential)
    .getContainerClient(CONTAINER);
  let proxy: http.Server | undefined;
  let server: http.Server | undefined;
  try {
    await container.createIfNotExists();
    proxy = await startBlobProxy(azurite.port, blobRequests, refused);
  } catch (e) {
    await stopChild(azurite.child);
    throw e;
  }

  /** A SAS URL for one blob on the production-style host: `cw` to upload, `r` to download; 10 minutes. */
  const signedUrl = (blob: string, permissions: string) => {
    const sas = generateBlobSASQueryParameters({
      containerName: CONTAINER,
      blobName: blob,
      permissions: BlobSASPermissions.parse(permissions),
      startsOn: new Date(Date.now() - 60_000),
      expiresOn: new Date(Date.now() + 10 * 60_000),
      protocol: SASProtocol.HttpsAndHttp,
    }, credential).toString();
    return `http://${BLOB_HOST}/${CONTAINER}/${blob}?${sas}`;
  };
  const blobSize = async (blob: string) => {
    try {
      return (await container.getBlobClient(blob).getProperties()).contentLength;
    } catch (e) {
      if ((e as { statusCode?: number }).statusCode === 404) return undefined;
      throw e;
    }
  };

  server = http.createServer(async (req, res) => {
    try {
      const m = new RegExp(`^/twirp/${SERVICE.replace(/\./g, '\\.')}/(\\w+)$`).exec(new URL(req.url ?? '/', 'http://x').pathname);
      if (!m || req.method !== 'POST') return twirpError(res, 'not_found', `no route ${req.method} ${req.url}`);
      const method = m[1];
      calls.push(method);
      if (req.headers.authorization !== `Bearer ${token}`) return twirpError(res, 'unauthenticated', 'bad or missing bearer token');
      if (!String(req.headers['content-type']).startsWith('application/json')) return twirpError(res, 'invalid_argument', 'expected application/json');
      const body = JSON.parse((await readBody(req)).toString() || '{}') as {
        key?: string; version?: string; restore_keys?: string[]; size_bytes?: string;
      };
      const key = body.key ?? '';
      const version = body.version ?? '';
      if (!key || !version) return twirpError(res, 'invalid_argument', 'key and version are required');
      switch (method) {
        case 'GetCacheEntryDownloadURL': {
          const hit = findEntry(entries.filter((e) => e.size !== undefined), [key, ...(body.restore_keys ?? [])], version);
          if (!hit) return json(res, 200, { ok: false });
          return json(res, 200, { ok: true, signed_download_url: signedUrl(hit.blob, 'r'), matched_key: hit.key });
        }
        case 'CreateCacheEntry': {
          if (entries.some((e) => e.key === key && e.version === version)) {
            return twirpError(res, 'already_exists', `cache entry with key ${key} and version ${version} already exists`);
          }
          const id = nextId++;
          const e: CacheEntryV2 = { id, key, version, blob: `${id}/cache.tzst`, created: ++tick };
          entries.push(e);
          return json(res, 200, { ok: true, signed_upload_url: signedUrl(e.blob, 'cw') });
        }
        case 'FinalizeCacheEntryUpload': {
          const e = entries.find((x) => x.key === key && x.version === version && x.size === undefined);
          if (!e) return json(res, 200, { ok: false, message: `no cache entry with key ${key} is being uploaded` });
          const size = await blobSize(e.blob);
          if (size === undefined) return json(res, 200, { ok: false, message: `the archive for ${key} was never uploaded` });
          if (String(size) !== String(body.size_bytes)) {
            return json(res, 200, { ok: false, message: `the archive for ${key} holds ${size} bytes, finalize says ${body.size_bytes}` });
          }
          e.size = size;
          return json(res, 200, { ok: true, entry_id: String(e.id) });
        }
        default:
          return twirpError(res, 'not_found', `no method ${method}`);
      }
    } catch (err) {
      return twirpError(res, 'internal', String(err));
    }
  });
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  const proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
  const closeServer = (s: http.Server | undefined) =>
    new Promise<void>((resolve) => { if (!s) return resolve(); s.closeAllConnections(); s.close(() => resolve()); });
  return {
    url,
    token,
    entries,
    calls,
    blobRequests,
    refused,
    blobSize,
    env: {
      ACTIONS_CACHE_SERVICE_V2: 'true',
      ACTIONS_RESULTS_URL: url,
      ACTIONS_RUNTIME_TOKEN: token,
      ACTIONS_CACHE_URL: undefined,
      HTTP_PROXY: proxyUrl,
      http_proxy: undefined,
      HTTPS_PROXY: undefined,
      https_proxy: undefined,
      ALL_PROXY: undefined,
      all_proxy: undefined,
      NO_PROXY: '127.0.0.1,localhost',
      no_proxy: undefined,
    },
    close: async () => {
      await Promise.all([closeServer(server), closeServer(proxy)]);
      await stopChild(azurite.child);
    },
  };
}
