// Bounded load through the lab's load balancer while a deploy runs: N workers each doing
// GETs without keep-alive, in a loop bounded by a request count and a deadline. Counts
// non-200 answers and which app versions answered (X-App-Version header or JSON body).
import http from 'node:http';
import https from 'node:https';

export interface LoadStats {
  requests: number;
  ok: number;
  failed: number;
  /** Failure samples (status or error text), at most 20. */
  failures: string[];
  /** Requests answered per version. */
  versions: Record<string, number>;
  /** Versions in the order first seen. */
  firstSeen: string[];
  durationMs: number;
}

export interface LoadOptions {
  url: string;
  concurrency?: number;
  /** Hard bound on requests in total. */
  maxRequests?: number;
  /** Hard bound on time (ms). */
  maxMs?: number;
  /** Pause between a worker's requests (ms). */
  pauseMs?: number;
  /** Host header to send (the app's host name, for a proxy that routes by it). */
  host?: string;
  /** For an https:// url: the CA certificates (PEM) to trust; the TLS server name is `host`. */
  ca?: string;
}

export interface LoadRun {
  stop(): Promise<LoadStats>;
  readonly stats: LoadStats;
}

function getOnce(url: string, timeoutMs: number, host?: string, extra: Record<string, string> = {}, ca?: string): Promise<{ status: number; version?: string; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const opts = { agent: false as const, headers: { Connection: 'close', ...extra, ...(host ? { Host: host } : {}) }, timeout: timeoutMs };
    // https: the certificate must chain to `ca` and name `host` (sent as SNI).
    const get = url.startsWith('https:') ? (cb: (res: http.IncomingMessage) => void) => https.get(url, { ...opts, ca, ...(host ? { servername: host } : {}) }, cb) : (cb: (res: http.IncomingMessage) => void) => http.get(url, opts, cb);
    const req = get((res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { if (body.length < 4096) body += d; });
      res.on('end', () => {
        let version = res.headers['x-app-version'] as string | undefined;
        if (!version) { try { version = JSON.parse(body).version; } catch { /* not JSON */ } }
        resolve({ status: res.statusCode ?? 0, version, headers: res.headers, body });
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`timeout after ${timeoutMs}ms`)));
    req.on('error', reject);
  });
}

/** Starts the load in the background; stop() ends it and returns the counts. */
export function startLoad(o: LoadOptions): LoadRun {
  const stats: LoadStats = { requests: 0, ok: 0, failed: 0, failures: [], versions: {}, firstSeen: [], durationMs: 0 };
  const maxRequests = o.maxRequests ?? 20_000;
  const deadline = Date.now() + (o.maxMs ?? 5 * 60_000);
  const t0 = Date.now();
  // When a failure happened, from the start of the load (to line it up with a deploy's log).
  const since = () => `${((Date.now() - t0) / 1000).toFixed(2)}s`;
  let stopping = false;
  const worker = async () => {
    while (!stopping && stats.requests < maxRequests && Date.now() < deadline) {
      stats.requests++;
      try {
        const r = await getOnce(o.url, 10_000, o.host, {}, o.ca);
        if (r.version) {
          if (!(r.version in stats.versions)) { stats.versions[r.version] = 0; stats.firstSeen.push(r.version); }
          stats.versions[r.version]++;
        }
        if (r.status === 200) stats.ok++;
        else { stats.failed++; if (stats.failures.length < 20) stats.failures.push(`HTTP ${r.status} at ${since()}`); }
      } catch (e) {
        stats.failed++;
        if (stats.failures.length < 20) stats.failures.push(`${(e as Error).message} at ${since()}`);
      }
      if (o.pauseMs) await new Promise((r) => setTimeout(r, o.pauseMs));
    }
  };
  const workers = Array.from({ length: o.concurrency ?? 4 }, worker);
  return {
    stats,
    async stop() {
      stopping = true;
      await Promise.all(workers);
      stats.durationMs = Date.now() - t0;
      return stats;
    },
  };
}

/** One GET (for checks outside a load run), with an optional Host header; `ca` for an https:// url. */
export async function fetchVersion(url: string, host?: string, headers: Record<string, string> = {}, ca?: string): Promise<{ status: number; version?: string; headers: http.IncomingHttpHeaders; body: string }> {
  return getOnce(url, 10_000, host, headers, ca);
}
