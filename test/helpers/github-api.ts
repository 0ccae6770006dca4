// A local HTTP server standing in for the GitHub REST API: records every call and answers the
// deployments endpoints the way GitHub does (201 with an id; the list filtered by environment) and
// pull requests' state from `pulls`. Point GITHUB_API_URL at `url`.
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
  /** GET /repos/O/R/pulls/N answers {number, state} from here; 404 for a number not in it. */
  pulls?: Record<number, 'open' | 'closed'>;
  close(): Promise<void>;
}

export async function startFakeGitHubApi(): Promise<FakeGitHubApi> {
  const api: FakeGitHubApi = { url: '', calls: [], close: async () => undefined };
  let nextId = 1000;
  const deployments: Record<string, unknown>[] = [];
  const server = http.createServer((req, res) => {
    let raw = '';
    req.on('data', (d) => (raw += d));
    req.on('end', () => {
      let body: Record<string, unknown> = {};
      try { body = raw ? JSON.parse(raw) : {}; } catch { /* keep empty */ }
      api.calls.push({ method: req.method ?? '', path: req.url ?? '', body, authorization: req.headers.authorization });
      res.setHeader('content-type', 'application/json');
      if (api.failWith) { res.statusCode = api.failWith; res.end(JSON.stringify({ message: 'stand-in failure' })); return; }
      const url = new URL(req.url ?? '/', 'http://api');
      const pull = /\/pulls\/(\d+)$/.exec(url.pathname);
      if (req.method === 'POST' && /\/deployments$/.test(url.pathname)) {
        res.statusCode = 201;
        const d = { id: ++nextId, ...body };
        deployments.push(d);
        res.end(JSON.stringify(d));
      } else if (req.method === 'GET' && /\/deployments$/.test(url.pathname)) {
        const env = url.searchParams.get('environment');
        res.end(JSON.stringify(deployments.filter((d) => env === null || d.environment === env)));
      } else if (req.method === 'GET' && pull && api.pulls?.[Number(pull[1])]) {
        res.end(JSON.stringify({ number: Number(pull[1]), state: api.pulls[Number(pull[1])] }));
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
