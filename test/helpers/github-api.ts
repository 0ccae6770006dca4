// A local HTTP server standing in for the GitHub REST API: records every call and answers the
// deployments endpoints the way GitHub does (201 with an id). Point GITHUB_API_URL at `url`.
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RecordedCall {
  method: string;
  path: string;
  body: Record<string, unknown>;
  authorization?: string;
}

export interface FakeGitHubApi {
  url: string;
  calls: RecordedCall[];
  /** Make every request fail with this status (to prove API failures are only warnings). */
  failWith?: number;
  close(): Promise<void>;
}

export async function startFakeGitHubApi(): Promise<FakeGitHubApi> {
  const api: FakeGitHubApi = { url: '', calls: [], close: async () => undefined };
  let nextId = 1000;
  const server = http.createServer((req, res) => {
    let raw = '';
    req.on('data', (d) => (raw += d));
    req.on('end', () => {
      let body: Record<string, unknown> = {};
      try { body = raw ? JSON.parse(raw) : {}; } catch { /* keep empty */ }
      api.calls.push({ method: req.method ?? '', path: req.url ?? '', body, authorization: req.headers.authorization });
      res.setHeader('content-type', 'application/json');
      if (api.failWith) { res.statusCode = api.failWith; res.end(JSON.stringify({ message: 'stand-in failure' })); return; }
      if (req.method === 'POST' && /\/deployments$/.test(req.url ?? '')) {
        res.statusCode = 201;
        res.end(JSON.stringify({ id: ++nextId, ...body }));
      } else if (req.method === 'POST' && /\/deployments\/\d+\/statuses$/.test(req.url ?? '')) {
        res.statusCode = 201;
        res.end(JSON.stringify({ id: ++nextId, ...body }));
      } else {
        res.statusCode = 404;
        res.end(JSON.stringify({ message: 'Not Found' }));
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  api.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  api.close = () => new Promise((resolve) => server.close(() => resolve()));
  return api;
}
