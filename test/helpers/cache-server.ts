// A local stand-in for the GitHub Actions cache service, speaking the protocol the installed
// @actions/cache (6.x) uses by default: the v1 REST API under `<ACTIONS_CACHE_URL>_apis/artifactcache/`
// (v2 Twirp is only used when ACTIONS_CACHE_SERVICE_V2 is set). Point the library at it with
// ACTIONS_CACHE_URL=<url> and ACTIONS_RUNTIME_TOKEN=<token> (and leave ACTIONS_CACHE_SERVICE_V2 unset).
//
//   GET   _apis/artifactcache/cache?keys=k1,k2&version=V   -> 200 {cacheKey, archiveLocation} | 204
//         (per key in order: exact key, else newest entry whose key starts with it; same version only)
//   POST  _apis/artifactcache/caches {key, version, cacheSize} -> 201 {cacheId} | 409 when it exists
//   PATCH _apis/artifactcache/caches/:id  (Content-Range: bytes S-E/*) -> 204
//   POST  _apis/artifactcache/caches/:id {size}              -> 204 (commit; size checked)
//   GET   download/:id                                        -> the archive (Content-Length set)
// Every request needs `Authorization: Bearer <token>` except the archive download (a signed URL in GitHub's service).
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';

export interface CacheEntry {
  id: number;
  key: string;
  version: string;
  size?: number;
  chunks: { start: number; data: Buffer }[];
  archive?: Buffer;
  created: number;
}

export interface CacheServer {
  /** Base URL with a trailing slash: the value for ACTIONS_CACHE_URL. */
  url: string;
  token: string;
  entries: CacheEntry[];
  /** "METHOD path" of every request, in order. */
  requests: string[];
  /** Environment that points @actions/cache at this server. */
  env: Record<string, string>;
  close(): Promise<void>;
}

/** A request's whole body. Shared by the version 1 and version 2 cache service stand-ins. */
export function readBody(req: http.IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => resolve(Buffer.concat(parts)));
    req.on('error', reject);
  });
}

function json(res: http.ServerResponse, status: number, body?: unknown) {
  if (body === undefined) { res.writeHead(status); res.end(); return; }
  const data = Buffer.from(JSON.stringify(body));
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': data.length });
  res.end(data);
}

/**
 * The lookup rule both service versions follow: for each key in order, an exact match, else the
 * newest entry whose key starts with it; only entries of the same version. `entries` are those
 * that can be restored (uploaded and committed); `created` orders them, higher is newer.
 */
export function findEntry<E extends { key: string; version: string; created: number }>(entries: E[], keys: string[], version: string): E | undefined {
  const done = entries.filter((e) => e.version === version);
  for (const k of keys) {
    const exact = done.find((e) => e.key === k);
    if (exact) return exact;
    const prefixed = done.filter((e) => e.key.startsWith(k)).sort((a, b) => b.created - a.created)[0];
    if (prefixed) return prefixed;
  }
  return undefined;
}

export async function startCacheServer(): Promise<CacheServer> {
  const token = randomBytes(12).toString('hex');
  const entries: CacheEntry[] = [];
  const requests: string[] = [];
  let nextId = 1;
  let tick = 0;
  let base = '';

  const server = http.createServer(async (req, res) => {
    try {
      const url = new URL(req.url ?? '/', 'http://x');
      requests.push(`${req.method} ${url.pathname}`);
      const dl = url.pathname.match(/^\/download\/(\d+)$/);
      if (dl && req.method === 'GET') {
        const e = entries.find((x) => x.id === Number(dl[1]));
        if (!e?.archive) return json(res, 404, { message: 'no such archive' });
        res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': e.archive.length });
        res.end(e.archive);
        return;
      }
      if (req.headers.authorization !== `Bearer ${token}`) return json(res, 401, { message: 'bad token' });
      const api = url.pathname.replace(/^\/_apis\/artifactcache\//, '');
      if (api === 'cache' && req.method === 'GET') {
        const keys = (url.searchParams.get('keys') ?? '').split(',').filter(Boolean);
        const e = findEntry(entries.filter((x) => x.archive), keys, url.searchParams.get('version') ?? '');
        if (!e) return json(res, 204);
        return json(res, 200, { cacheKey: e.key, scope: 'refs/heads/main', creationTime: new Date(e.created).toISOString(), archiveLocation: `${base}download/${e.id}` });
      }
      if (api === 'caches' && req.method === 'GET') return json(res, 200, { totalCount: 0, artifactCaches: [] });
      if (api === 'caches' && req.method === 'POST') {
        const body = JSON.parse((await readBody(req)).toString() || '{}') as { key: string; version: string; cacheSize?: number };
        if (entries.some((e) => e.key === body.key && e.version === body.version)) {
          return json(res, 409, { message: `Cache already exists. Scope: refs/heads/main, Key: ${body.key}, Version: ${body.version}` });
        }
        const e: CacheEntry = { id: nextId++, key: body.key, version: body.version, size: body.cacheSize, chunks: [], created: ++tick };
        entries.push(e);
        return json(res, 201, { cacheId: e.id });
      }
      const one = api.match(/^caches\/(\d+)$/);
      const e = one ? entries.find((x) => x.id === Number(one[1])) : undefined;
      if (one && !e) return json(res, 404, { message: 'no such cache' });
      if (e && req.method === 'PATCH') {
        const range = String(req.headers['content-range'] ?? '').match(/^bytes (\d+)-(\d+)\/\*$/);
        if (!range) return json(res, 400, { message: 'bad Content-Range' });
        const data = await readBody(req);
        if (data.length !== Number(range[2]) - Number(range[1]) + 1) return json(res, 400, { message: 'chunk size does not match Content-Range' });
        e.chunks.push({ start: Number(range[1]), data });
        return json(res, 204);
      }
      if (e && req.method === 'POST') {
        const { size } = JSON.parse((await readBody(req)).toString() || '{}') as { size: number };
        const archive = Buffer.alloc(size);
        let covered = 0;
        for (const c of e.chunks) { c.data.copy(archive, c.start); covered += c.data.length; }
        if (covered !== size) return json(res, 400, { message: `uploaded ${covered} bytes, commit says ${size}` });
        e.archive = archive;
        e.chunks = [];
        return json(res, 204);
      }
      return json(res, 404, { message: `no route ${req.method} ${url.pathname}` });
    } catch (err) {
      return json(res, 500, { message: String(err) });
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  return {
    url: base,
    token,
    entries,
    requests,
    env: { ACTIONS_CACHE_URL: base, ACTIONS_RUNTIME_TOKEN: token },
    close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}
