// Pure: `pallet logs`. docker logs of the role's live container on each host, or docker service
// logs of the role's service on a Swarm, with docker's timestamps so lines from several hosts (or
// tasks) merge in time order; --follow streams until Ctrl-C.
import { untilHangupArgv } from './hangup.js';

export interface LogsOptions {
  /** docker logs --since: a duration (10m, 1h30m), an RFC 3339 time or a Unix timestamp. */
  since?: string;
  /** Lines from the end of each container's log (docker logs --tail). */
  tail?: number;
  follow: boolean;
}

/**
 * What to read: a container (`docker logs`) or a Swarm service (`docker service logs`, every
 * task's lines, each after the timestamp prefixed with Docker's `SERVICE.SLOT@NODE | `).
 */
export type LogSource = { container: string } | { service: string };

/** The remote argv: stdout and stderr arrive as one stream, ending with the ssh session. */
export function logsArgv(source: LogSource, o: LogsOptions): string[] {
  const argv = 'container' in source ? ['docker', 'logs', '--timestamps'] : ['docker', 'service', 'logs', '--timestamps', '--no-task-ids'];
  if (o.since) argv.push('--since', o.since);
  if (o.tail !== undefined) argv.push('--tail', String(o.tail));
  if (o.follow) argv.push('--follow');
  argv.push('container' in source ? source.container : source.service);
  // 2>&1 inside the wrapper: sh -c 'exec "$@" 2>&1' keeps the argv intact.
  return untilHangupArgv(['sh', '-c', 'exec "$@" 2>&1', 'sh', ...argv]);
}

export interface LogLine {
  host: string;
  /** The line as docker printed it, timestamp first. */
  text: string;
}

/** Sorts lines of several hosts by docker's leading RFC 3339 timestamp (stable; untimed lines keep their place after the previous one). */
export function mergeByTime(lines: LogLine[]): LogLine[] {
  let last = '';
  const keyed = lines.map((l, i) => {
    const ts = /^(\d{4}-\d\d-\d\dT[\d:.]+Z)\s/.exec(l.text)?.[1];
    if (ts) last = ts.replace(/\.(\d+)Z$/, (_, f: string) => `.${f.padEnd(9, '0')}Z`);
    return { l, key: last, i };
  });
  keyed.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : a.i - b.i));
  return keyed.map((k) => k.l);
}

/** `host  | ` prefix, padded to the longest host so columns line up. */
export function hostPrefix(host: string, width: number): string {
  return `${host.padEnd(width)} | `;
}
