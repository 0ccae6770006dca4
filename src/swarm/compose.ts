// Pure: one role's service as a Compose file (format 3.8) for `docker stack deploy -c -`. The
// docker CLI on the manager reads it from stdin and reads the env file itself, so the app's
// settings never appear on a command line. One document per role, deployed without --prune, so
// rolling out one role never touches the stack's other services.
// Format: https://docs.docker.com/compose/compose-file/compose-file-v3/
import type { ServicePlan, SwarmPlan } from './plan.js';

export const COMPOSE_VERSION = '3.8';

/**
 * The command Docker runs in each task to check its health (web roles): an HTTP GET of the
 * role's health path on the container's own port with Python's standard library, so the image
 * needs `python3` (every Django image has it). The rule of every target (src/deploy/health.ts):
 * a 2xx is healthy, redirects are not followed. With `host` (health.host) the request sends it
 * as its Host header, as a strict ALLOWED_HOSTS answers 400 to 127.0.0.1; URL and host travel as
 * arguments, never inside the script.
 */
export function healthCommand(port: number, path: string, host?: string): string[] {
  const url = `http://127.0.0.1:${port}${path.startsWith('/') ? path : `/${path}`}`;
  return ['CMD', 'python3', '-c', HEALTH_SCRIPT, url, ...(host ? [host] : [])];
}

// A redirect handler that declines makes urllib raise on 3xx, as it does on 4xx/5xx.
const HEALTH_SCRIPT = "import sys, urllib.request as u; h = {'Host': sys.argv[2]} if len(sys.argv) > 2 else {}; "
  + "o = u.build_opener(type('NoRedirect', (u.HTTPRedirectHandler,), {'redirect_request': lambda *a, **k: None})); "
  + 'sys.exit(0 if 200 <= o.open(u.Request(sys.argv[1], headers=h), timeout=3).status < 300 else 1)';

/** Seconds between health checks; with HEALTH_RETRIES failures in a row a task is unhealthy. */
export const HEALTH_INTERVAL = 2;
export const HEALTH_RETRIES = 3;

export interface ComposeOptions {
  tag: string;
  /** The tag's manifest digest: the service runs `image:tag@digest`, exactly those bytes. */
  digest?: string;
  /** Tasks updated (and rolled back) at once. */
  parallelism: number;
}

export type ComposeDocument = Record<string, unknown>;

/** The Compose document that runs `service` at `tag`. */
export function composeDocument(plan: SwarmPlan, s: ServicePlan, o: ComposeOptions): ComposeDocument {
  const service: Record<string, unknown> = {
    image: `${plan.image}:${o.tag}${o.digest ? `@${o.digest}` : ''}`,
    command: s.command,
    networks: ['app'],
    stop_signal: s.stopSignal,
    stop_grace_period: `${s.stopTimeout}s`,
    labels: { 'pallet.app': plan.app, 'pallet.role': s.role, 'pallet.tag': o.tag },
  };
  if (plan.envFile) service.env_file = [plan.envFile];
  if (s.web && s.port) {
    service.ports = [{ target: s.port, published: s.publishedPort ?? s.port, protocol: 'tcp', mode: plan.publish }];
    service.healthcheck = {
      test: healthCommand(s.port, s.healthPath ?? '/health/', s.healthHost),
      interval: `${HEALTH_INTERVAL}s`,
      timeout: '3s',
      retries: HEALTH_RETRIES,
      start_period: `${s.healthTimeout}s`,
    };
  }
  const update = { parallelism: o.parallelism, delay: '0s', order: s.order, monitor: `${s.monitor}s`, max_failure_ratio: 0 };
  service.deploy = {
    mode: s.mode,
    ...(s.mode === 'replicated' ? { replicas: s.replicas ?? 1 } : {}),
    ...(s.constraints.length ? { placement: { constraints: s.constraints } } : {}),
    labels: { 'pallet.app': plan.app, 'pallet.role': s.role, 'pallet.tag': o.tag },
    update_config: { ...update, failure_action: 'rollback' },
    // A rollback that fails too stops where it is (and the deploy says so) rather than loop.
    rollback_config: { ...update, failure_action: 'pause' },
  };
  return {
    version: COMPOSE_VERSION,
    services: { [s.role]: service },
    networks: { app: { external: true, name: plan.network } },
  };
}

/** `$` starts variable interpolation in Compose files; `$$` is a literal dollar. */
function escapeDollars(v: unknown): unknown {
  if (typeof v === 'string') return v.replace(/\$/g, '$$$$');
  if (Array.isArray(v)) return v.map(escapeDollars);
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, escapeDollars(x)]));
  return v;
}

/** The document as text (JSON is YAML, so the docker CLI reads it as a Compose file). */
export function composeText(doc: ComposeDocument): string {
  return JSON.stringify(escapeDollars(doc), null, 2) + '\n';
}
