// One health policy for every web container a deploy starts (the published-port candidate and
// container, and the containers behind the proxy): the host runs one single-shot probe (one
// HTTP request and the container's state, printed as key=value lines); the decisions (polling,
// the early stop on a steady answer, what each status means) are made here, in one place.
// Background roles must keep running without restarts for `stable` seconds (stableArgv).
import { lastLines } from '../ssh/errors.js';
import type { HostConnection } from '../ssh/connection.js';
import { remoteScript } from '../host/script.js';
import { stableArgv } from './commands.js';
import type { RolePlan } from './plan.js';

export interface HealthResult {
  ok: boolean;
  detail: string;
}

/** How the loop polls: every `intervalMs`; a 3xx/4xx given `steadyAnswers` times in a row over at least `steadyMs` ends it. */
export interface HealthPolicy {
  intervalMs: number;
  steadyAnswers: number;
  steadyMs: number;
}

/** A redirect or client error that stays the same this long will not turn into a 2xx by waiting. */
export const HEALTH_POLICY: HealthPolicy = { intervalMs: 100, steadyAnswers: 5, steadyMs: 2000 };

/** Probes the host runs per ssh command (about a second's worth): the health loop's cost on the runner and host. */
const PROBES_PER_CALL = 10;

/** Where and how one web container is asked. */
export interface HttpCheck {
  /** Container name: its state is read with the answer. */
  container: string;
  /**
   * How the request reaches it: `published` = 127.0.0.1:port on the host (the published port);
   * a network name = the container's address on that network; '' = its first address.
   */
  via: string;
  /** Container port, or the host port with `published`. */
  port: number;
  path: string;
  /** Sent as Host ('' = curl's default: the address it connects to). */
  host: string;
  /** Sent as X-Forwarded-Proto ('' = none): the proxy's TLS, or a trusted load balancer's. */
  proto: string;
  /** Seconds. */
  timeout: number;
  /** How messages name the container, e.g. `candidate` or `container shop-web`. */
  subject: string;
}

// Up to `polls` requests, `pause` seconds apart, each with the container's state read after it
// (its address is looked up once: it stays while the container runs). Output (one
// format, key=value lines, each answer ended by a line `end`):
//   state=<Running> <RestartCount> | state=missing;  code=<HTTP status, 000 = no answer>;
//   address=<host:port it asked>;  logs=<last 3 log lines on one line> (only when not running steadily)
// An answer the caller decides on at once (a 2xx, a container not running steadily) ends the
// batch early; every other decision (steady answers, the deadline) is made in TypeScript. A batch
// saves one ssh session per poll.
const HTTP_PROBE = `n="$1"; via="$2"; port="$3"; path="$4"; host="$5"; proto="$6"; polls="$7"; pause="$8"; i=0; addr=""
set --
[ -n "$host" ] && set -- "$@" -H "Host: $host"
[ -n "$proto" ] && set -- "$@" -H "X-Forwarded-Proto: $proto"
while [ "$i" -lt "$polls" ]; do
  i=$((i+1))
  [ "$i" -gt 1 ] && sleep "$pause"
  if [ -z "$addr" ] && [ "$via" = published ]; then addr="127.0.0.1:$port"
  elif [ -z "$addr" ]; then
    ip=$(docker inspect --format '{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{$v.IPAddress}}{{"\\n"}}{{end}}' "$n" 2>/dev/null | awk -v net="$via" '($1 == net || net == "") && $2 != "" {print $2; exit}')
    [ -n "$ip" ] && addr="$ip:$port"
  fi
  code=000
  if [ -n "$addr" ]; then code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$@" "http://$addr$path" 2>/dev/null) || true; fi
  st=$(docker inspect --format '{{.State.Running}} {{.RestartCount}}' "$n" 2>/dev/null) || st=missing
  printf 'state=%s\\ncode=%s\\naddress=%s\\n' "$st" "\${code:-000}" "$addr"
  case "$st" in "true 0") ;; *) printf 'logs=%s\\n' "$(docker logs --tail 3 "$n" 2>&1 | tr '\\n' ' ')";; esac
  echo end
  case "$code" in 2??) exit 0;; esac
  [ "$st" = "true 0" ] || exit 0
done
exit 0`;

/** A batch of up to `polls` probes of `c`, `intervalMs` apart (see HTTP_PROBE; parse with parseHttpProbes). */
export function httpProbeArgv(c: Pick<HttpCheck, 'container' | 'via' | 'port' | 'path' | 'host' | 'proto'>, polls = 1, intervalMs = HEALTH_POLICY.intervalMs): string[] {
  const p = c.path.startsWith('/') ? c.path : `/${c.path}`;
  return remoteScript('http-probe', HTTP_PROBE, c.container, c.via, String(c.port), p, c.host, c.proto, String(polls), String(intervalMs / 1000));
}

export interface ProbeAnswer {
  /** false also when the container is missing. */
  running: boolean;
  restarts: number;
  missing: boolean;
  /** HTTP status, 0 = no answer. */
  code: number;
  address: string;
  logs: string;
}

/** Pure: what a batch printed -> its answers, in order. */
export function parseHttpProbes(stdout: string): ProbeAnswer[] {
  return stdout.split(/^end$/m).filter((b) => /^state=/m.test(b)).map(parseHttpProbe);
}

/** Pure: one answer's lines -> the answer. */
export function parseHttpProbe(stdout: string): ProbeAnswer {
  const get = (k: string) => (new RegExp(`^${k}=(.*)$`, 'm').exec(stdout)?.[1] ?? '').trim();
  const [running, restarts] = get('state').split(' ');
  return {
    running: running === 'true', restarts: Number(restarts) || 0, missing: get('state') === 'missing' || get('state') === '',
    code: Number(get('code')) || 0, address: get('address'), logs: get('logs'),
  };
}

/** What the loop decided after one answer: go on, or stop with a result. */
export type HealthStep = { done: false } | { done: true; result: HealthResult };

/** The state the loop carries between answers. */
export interface HealthTrack {
  tries: number;
  /** The last status and since when (ms) and how many times in a row it came. */
  last: number;
  same: number;
  sameSince: number;
}

/**
 * Pure: one answer -> go on or stop. Healthy on any 2xx; fails at once when the container is
 * not running or has restarted (a crash loop is not worth waiting out), and on a steady 3xx/4xx
 * (explained for a Django app: explainStatus); fails at `deadline` with the last status.
 */
export function judgeAnswer(a: ProbeAnswer, t: HealthTrack, now: number, deadline: number, c: HttpCheck, role: Pick<RolePlan, 'role' | 'healthPath' | 'healthHost'>, policy: HealthPolicy = HEALTH_POLICY): HealthStep {
  t.tries++;
  if (a.code === t.last && a.code >= 300 && a.code < 500) t.same++;
  else { t.same = 1; t.sameSince = now; }
  t.last = a.code;
  if (a.code >= 200 && a.code < 300) return { done: true, result: { ok: true, detail: `healthy: HTTP ${a.code} after ${t.tries} ${t.tries === 1 ? 'try' : 'tries'}` } };
  const status = a.code ? `HTTP ${a.code}` : 'no answer';
  if (!a.running || a.restarts > 0) {
    const what = a.missing ? 'is gone' : a.running ? `restarted (${a.restarts} restart${a.restarts > 1 ? 's' : ''})` : 'exited';
    return { done: true, result: { ok: false, detail: `${c.subject} ${what}: ${a.logs || 'no log output'} (last status: ${status})` } };
  }
  if (a.code >= 300 && a.code < 500 && t.same >= policy.steadyAnswers && now - t.sameSince >= policy.steadyMs) {
    return { done: true, result: { ok: false, detail: explainStatus(a.code, t.same, role) } };
  }
  if (now >= deadline) {
    return { done: true, result: { ok: false, detail: `no HTTP 2xx from ${c.path} within ${c.timeout}s (last status: ${status}, Host: ${c.host || a.address || 'none'})` } };
  }
  return { done: false };
}

const sleep = (ms: number, signal?: AbortSignal) => new Promise<void>((resolve) => {
  const t = setTimeout(done, ms);
  function done() { clearTimeout(t); signal?.removeEventListener('abort', done); resolve(); }
  signal?.addEventListener('abort', done, { once: true });
});

/**
 * Polls `c` on the host until judgeAnswer decides, at most `c.timeout` seconds (and a bounded
 * number of polls). A cancelled run stops at the next poll with ok=false. A lost connection
 * throws (HostConnectionError) like any remote command.
 */
export async function waitHealthy(conn: HostConnection, c: HttpCheck, role: Pick<RolePlan, 'role' | 'healthPath' | 'healthHost'>, o: { signal?: AbortSignal; policy?: HealthPolicy } = {}): Promise<HealthResult> {
  const policy = o.policy ?? HEALTH_POLICY;
  const start = Date.now();
  const deadline = start + c.timeout * 1000;
  const track: HealthTrack = { tries: 0, last: -1, same: 0, sameSince: start };
  const maxPolls = Math.ceil((c.timeout * 1000) / policy.intervalMs) + 2;
  // Bounded by the deadline (judgeAnswer) and by the number of calls (each brings at least one answer).
  for (let calls = 0; calls < maxPolls; calls++) {
    if (o.signal?.aborted) return { ok: false, detail: `cancelled while waiting for ${c.subject} to become healthy` };
    const r = await conn.run(httpProbeArgv(c, PROBES_PER_CALL, policy.intervalMs));
    if (r.exitCode !== 0) return { ok: false, detail: `the health probe failed on the host: ${lastLines(r.stderr || r.stdout) || `exit ${r.exitCode}`}` };
    const answers = parseHttpProbes(r.stdout);
    if (!answers.length) return { ok: false, detail: `the health probe printed no answer: ${lastLines(r.stdout || r.stderr) || 'no output'}` };
    const now = Date.now();
    for (const [k, a] of answers.entries()) {
      // The answers came intervalMs apart; the last one just now.
      const step = judgeAnswer(a, track, now - (answers.length - 1 - k) * policy.intervalMs, deadline, c, role, policy);
      if (!step.done) continue;
      // A container that runs but does not answer 2xx is removed by the revert: keep its last words.
      if (!step.result.ok && a.running && a.restarts === 0) return { ok: false, detail: step.result.detail + (await logTail(conn, c.container)) };
      return step.result;
    }
    await sleep(policy.intervalMs, o.signal);
  }
  return { ok: false, detail: `no HTTP 2xx from ${c.path} within ${c.timeout}s (last status: ${track.last > 0 ? `HTTP ${track.last}` : 'no answer'})` };
}

/** How many of a failed candidate's last log lines its failure carries. */
export const FAILED_LOG_LINES = 20;

/** `docker logs --tail N NAME`, stdout and stderr together (Docker's order within each stream). */
export function logTailArgv(container: string, lines = FAILED_LOG_LINES): string[] {
  return ['docker', 'logs', '--tail', String(lines), container];
}

/** Pure: the log lines appended to a failure, indented, each cut at 300 characters; '' when there are none. */
export function formatLogTail(container: string, output: string): string {
  const lines = output.split('\n').map((l) => l.trimEnd()).filter(Boolean).map((l) => (l.length > 300 ? `${l.slice(0, 300)}...` : l));
  return lines.length ? `\nlast log lines of ${container}:\n${lines.map((l) => `  ${l}`).join('\n')}` : '';
}

async function logTail(conn: HostConnection, container: string): Promise<string> {
  const r = await conn.run(logTailArgv(container)).catch(() => undefined);
  return r && r.exitCode === 0 ? formatLogTail(container, `${r.stdout}\n${r.stderr}`) : '';
}

/** Background roles: running, and the restart count unchanged over `stable` seconds. */
export async function waitStable(conn: HostConnection, app: string, role: RolePlan): Promise<HealthResult> {
  const r = await conn.run(stableArgv(app, role.role, role.stable));
  return { ok: r.exitCode === 0, detail: lastLines(r.stdout || r.stderr, 2) };
}

/**
 * Pure: a status the check got `times` times in a row -> what is wrong (status, path, role), what
 * it usually means for a Django app and what to do, naming the pallet.yml keys.
 */
export function explainStatus(code: number, times: number, role: Pick<RolePlan, 'role' | 'healthPath' | 'healthHost'>): string {
  const key = `deploy.roles.${role.role}.health`;
  const sent = role.healthHost ? `Host: ${role.healthHost} (${key}.host)` : 'the address it connects to as Host (an IP and port)';
  const what = `${role.healthPath} answered HTTP ${code} every time (the same answer ${times} times in a row, so waiting longer will not help)`;
  const setHost = `set ${key}.host to a name listed in ALLOWED_HOSTS (it is sent as the Host header), or add that name to ALLOWED_HOSTS in the app's environment`;
  let why: string;
  if (code === 400) {
    why = `for Django this almost always means ALLOWED_HOSTS does not accept the Host header the check sends (${sent}): ${setHost}`;
  } else if (code === 404) {
    why = `for Django this means no URL pattern matches ${role.healthPath}: set ${key}.path to a URL the app serves (mind the trailing slash), or add a health view to urls.py`;
  } else if (code === 401 || code === 403) {
    why = `the view refuses anonymous requests (login required, a permission or an IP allow-list middleware); make ${role.healthPath} public, or, if a middleware checks the host, ${setHost}`;
  } else if (code === 405) {
    why = `the view does not accept GET; allow GET on ${role.healthPath}`;
  } else if (code >= 300 && code < 400) {
    why = `the app redirects the plain-HTTP check (Django: SECURE_SSL_REDIRECT, APPEND_SLASH or a login redirect); add the path to SECURE_REDIRECT_EXEMPT, or set ${key}.path to the final URL (with its trailing slash)`;
  } else {
    why = `the app refuses the check; make ${role.healthPath} answer 2xx to a plain GET (the check sends ${sent})`;
  }
  return `${what}: ${why}`;
}
