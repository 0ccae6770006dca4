// Push progress and failures (pure; tested): the engine's push stream carries per-layer
// status lines, an aux record with the digest, or an error. Auth failures are final; 5xx,
// resets and timeouts are worth a retry with exponential backoff.

export interface PushEvent {
  status?: string;
  id?: string;
  progressDetail?: { current?: number; total?: number };
  aux?: { Tag?: string; Digest?: string; Size?: number };
  error?: string;
  errorDetail?: { message?: string };
}

export type PushFailureKind = 'auth' | 'transient' | 'fatal';

const AUTH = /\b(401|403)\b|unauthori[sz]ed|authentication required|denied|no basic auth credentials|incorrect username or password/i;
const TRANSIENT = /\b5\d\d\b|ECONNRESET|ECONNREFUSED|EPIPE|ETIMEDOUT|timeout|timed out|i\/o timeout|connection reset|broken pipe|bad gateway|service unavailable|gateway time-?out|internal server error|TLS handshake|EOF/i;

export function classifyPushFailure(message: string, statusCode?: number): PushFailureKind {
  if (statusCode === 401 || statusCode === 403 || AUTH.test(message)) return 'auth';
  if ((statusCode !== undefined && statusCode >= 500) || TRANSIENT.test(message)) return 'transient';
  return 'fatal';
}

/** Delay before retry n (1-based): base * 2^(n-1), capped. */
export function backoffDelay(attempt: number, baseMs: number, capMs = 30000): number {
  return Math.min(capMs, baseMs * 2 ** (attempt - 1));
}

/** Turns push events into log lines: one per layer state change, byte progress at most every `everyMs`. */
export class PushProgress {
  private lastState = new Map<string, string>();
  private lastProgressAt = 0;
  digest?: string;
  size?: number;
  error?: string;
  layers = { pushed: 0, existed: 0 };

  constructor(private readonly now: () => number = Date.now, private readonly everyMs = 2000) {}

  push(ev: PushEvent): string[] {
    if (ev.error || ev.errorDetail) {
      this.error = (ev.errorDetail?.message ?? ev.error ?? 'push failed').trim();
      return [];
    }
    if (ev.aux?.Digest) {
      this.digest = ev.aux.Digest;
      this.size = ev.aux.Size;
      return [];
    }
    if (!ev.status) return [];
    if (!ev.id) return [ev.status];
    if (ev.status === 'Pushing') {
      const t = this.now();
      if (t - this.lastProgressAt < this.everyMs) return [];
      this.lastProgressAt = t;
      const { current, total } = ev.progressDetail ?? {};
      return current && total ? [`${ev.id}: pushing ${Math.round((100 * current) / total)}% of ${mb(total)}`] : [];
    }
    if (this.lastState.get(ev.id) === ev.status) return [];
    this.lastState.set(ev.id, ev.status);
    if (ev.status === 'Pushed') this.layers.pushed++;
    if (ev.status === 'Layer already exists') this.layers.existed++;
    // Preparing/Waiting are noise in a log.
    return ev.status === 'Preparing' || ev.status === 'Waiting' ? [] : [`${ev.id}: ${ev.status}`];
  }
}

function mb(n: number): string {
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}
