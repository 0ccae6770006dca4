// What each readiness probe says on the wire and how it reads the answer. Pure: probe.ts opens
// the sockets. A port that accepts connections is not a ready service (PostgreSQL answers
// "the database system is starting up", Redis "-LOADING"), so every known service gets a
// protocol-level exchange.
import type { ProbeSpec } from './catalog.js';

export type Verdict =
  | { state: 'ready'; detail?: string }
  /** The answer so far is incomplete: read more. */
  | { state: 'more' }
  | { state: 'not-ready'; reason: string };

export interface WireProbe {
  port: number;
  /** Sent once connected (nothing for protocols where the server speaks first). */
  request?: Buffer;
  judge(answer: Buffer): Verdict;
  /** TCP-only probes are satisfied by the connection itself. */
  connectOnly?: boolean;
}

/** PostgreSQL v3 StartupMessage: length, protocol 3.0, then key\0value\0 pairs and a final \0. */
export function postgresStartupMessage(user: string, database: string): Buffer {
  const body = Buffer.from(`user\0${user}\0database\0${database}\0\0`, 'utf8');
  const head = Buffer.alloc(8);
  head.writeInt32BE(8 + body.length, 0);
  head.writeInt32BE(196608, 4);
  return Buffer.concat([head, body]);
}

/** Reads the fields of an ErrorResponse ('E') message: S severity, C SQLSTATE, M message. */
export function postgresErrorFields(msg: Buffer): Record<string, string> {
  const fields: Record<string, string> = {};
  let i = 5;
  while (i < msg.length && msg[i] !== 0) {
    const code = String.fromCharCode(msg[i]);
    const end = msg.indexOf(0, i + 1);
    if (end < 0) break;
    fields[code] = msg.subarray(i + 1, end).toString('utf8');
    i = end + 1;
  }
  return fields;
}

export function judgePostgres(answer: Buffer): Verdict {
  if (answer.length < 5) return { state: 'more' };
  const type = String.fromCharCode(answer[0]);
  // 'R' is an authentication request (or AuthenticationOk): the server accepts sessions.
  if (type === 'R') return { state: 'ready', detail: 'authentication request' };
  if (type === 'E') {
    const len = answer.readInt32BE(1);
    if (answer.length < len + 1) return { state: 'more' };
    const f = postgresErrorFields(answer.subarray(0, len + 1));
    return { state: 'not-ready', reason: `server answered ${f.S ?? 'ERROR'} ${f.C ?? ''}: ${f.M ?? 'unknown error'}`.replace(/\s+/g, ' ') };
  }
  return { state: 'not-ready', reason: `unexpected PostgreSQL answer (message type 0x${answer[0].toString(16)})` };
}

/** One CRLF-terminated line, or undefined while it is incomplete. */
function firstLine(answer: Buffer): string | undefined {
  const i = answer.indexOf('\n');
  return i < 0 ? undefined : answer.subarray(0, i).toString('utf8').replace(/\r$/, '');
}

export function judgeRedis(answer: Buffer): Verdict {
  const line = firstLine(answer);
  if (line === undefined) return { state: 'more' };
  if (line === '+PONG') return { state: 'ready', detail: 'PONG' };
  // Up, but password-protected: it is ready; the app has the credentials.
  if (line.startsWith('-NOAUTH')) return { state: 'ready', detail: 'NOAUTH' };
  return { state: 'not-ready', reason: `answered '${line}'` };
}

export function judgeMemcached(answer: Buffer): Verdict {
  const line = firstLine(answer);
  if (line === undefined) return { state: 'more' };
  return line.startsWith('VERSION ') ? { state: 'ready', detail: line } : { state: 'not-ready', reason: `answered '${line}'` };
}

export function judgeHttp(answer: Buffer): Verdict {
  const line = firstLine(answer);
  if (line === undefined) return { state: 'more' };
  const m = /^HTTP\/\d(?:\.\d)? (\d{3})/.exec(line);
  if (!m) return { state: 'not-ready', reason: `not an HTTP answer: '${line.slice(0, 80)}'` };
  return m[1] === '200' ? { state: 'ready', detail: 'HTTP 200' } : { state: 'not-ready', reason: `HTTP ${m[1]}` };
}

/** AMQP 0-9-1: after the protocol header the broker sends Connection.Start (class 10, method 10). */
export const AMQP_HEADER = Buffer.from([0x41, 0x4d, 0x51, 0x50, 0, 0, 9, 1]);

export function judgeAmqp(answer: Buffer): Verdict {
  if (answer.length >= 4 && answer.subarray(0, 4).toString('latin1') === 'AMQP') {
    // The broker proposes another protocol version: it is up, the client library will negotiate.
    return answer.length >= 8 ? { state: 'ready', detail: 'protocol header' } : { state: 'more' };
  }
  if (answer.length < 11) return { state: 'more' };
  if (answer[0] === 1 && answer.readUInt16BE(7) === 10 && answer.readUInt16BE(9) === 10) {
    return { state: 'ready', detail: 'Connection.Start' };
  }
  return { state: 'not-ready', reason: 'unexpected AMQP answer' };
}

export function judgeSmtp(answer: Buffer): Verdict {
  const line = firstLine(answer);
  if (line === undefined) return { state: 'more' };
  return line.startsWith('220') ? { state: 'ready', detail: 'banner' } : { state: 'not-ready', reason: `banner '${line}'` };
}

/** The wire exchange for a probe, or undefined for probes that are not network exchanges. */
export function wireProbe(spec: ProbeSpec, host: string): WireProbe | undefined {
  switch (spec.kind) {
    case 'postgres':
      return { port: spec.port, request: postgresStartupMessage(spec.user, spec.database), judge: judgePostgres };
    case 'redis':
      return { port: spec.port, request: Buffer.from('PING\r\n'), judge: judgeRedis };
    case 'memcached':
      return { port: spec.port, request: Buffer.from('version\r\n'), judge: judgeMemcached };
    case 'http':
      return {
        port: spec.port,
        request: Buffer.from(`GET ${spec.path} HTTP/1.0\r\nHost: ${host}\r\nConnection: close\r\n\r\n`),
        judge: judgeHttp,
      };
    case 'amqp':
      return { port: spec.port, request: AMQP_HEADER, judge: judgeAmqp };
    case 'smtp':
      return { port: spec.port, judge: judgeSmtp };
    case 'tcp':
      return { port: spec.port, judge: () => ({ state: 'ready' }), connectOnly: true };
    default:
      return undefined;
  }
}

/** One line describing a probe, for logs ("PostgreSQL startup exchange on 5432"). */
export function describeProbe(spec: ProbeSpec): string {
  switch (spec.kind) {
    case 'postgres': return `PostgreSQL startup exchange on port ${spec.port}`;
    case 'redis': return `PING on port ${spec.port}`;
    case 'memcached': return `'version' on port ${spec.port}`;
    case 'http': return `HTTP 200 from ${spec.path} on port ${spec.port}`;
    case 'amqp': return `AMQP handshake on port ${spec.port}`;
    case 'smtp': return `SMTP 220 banner on port ${spec.port}`;
    case 'tcp': return `TCP connect to port ${spec.port}`;
    case 'command': return `command '${spec.command.join(' ')}' exits 0`;
    case 'none': return 'container running';
  }
}
