import net from 'node:net';
import {
  AMQP_HEADER, judgeAmqp, judgeHttp, judgeMemcached, judgePostgres, judgeRedis, judgeSmtp,
  postgresStartupMessage, wireProbe, describeProbe,
} from '../../src/cleanroom/probe-protocols.js';
import { exchange, waitUntilReady } from '../../src/cleanroom/probe.js';
import { demuxBuffer, lastLines, LineWriter } from '../../src/cleanroom/stream-lines.js';

/** A PostgreSQL ErrorResponse message. */
function pgError(code: string, message: string): Buffer {
  const body = Buffer.from(`SFATAL\0C${code}\0M${message}\0\0`);
  const head = Buffer.alloc(5);
  head.write('E', 0);
  head.writeInt32BE(4 + body.length, 1);
  return Buffer.concat([head, body]);
}

describe('protocol judges', () => {
  test('postgres startup message is a v3.0 StartupMessage', () => {
    const m = postgresStartupMessage('app', 'db');
    expect(m.readInt32BE(0)).toBe(m.length);
    expect(m.readInt32BE(4)).toBe(196608);
    expect(m.subarray(8).toString()).toBe('user\0app\0database\0db\0\0');
  });

  test.each([
    ['auth request', Buffer.from([0x52, 0, 0, 0, 12, 0, 0, 0, 5, 1, 2, 3, 4]), 'ready'],
    ['auth ok', Buffer.from([0x52, 0, 0, 0, 8, 0, 0, 0, 0]), 'ready'],
    ['starting up', pgError('57P03', 'the database system is starting up'), 'not-ready'],
    ['partial', Buffer.from([0x52, 0]), 'more'],
    ['partial error', pgError('57P03', 'x').subarray(0, 9), 'more'],
  ])('postgres: %s', (_n, answer, state) => {
    expect(judgePostgres(answer).state).toBe(state);
  });

  test('postgres error answers say what the server said', () => {
    expect(judgePostgres(pgError('57P03', 'the database system is starting up'))).toEqual({
      state: 'not-ready', reason: 'server answered FATAL 57P03: the database system is starting up',
    });
  });

  test.each([
    [judgeRedis, '+PONG\r\n', 'ready'],
    [judgeRedis, '-NOAUTH Authentication required.\r\n', 'ready'],
    [judgeRedis, '-LOADING Redis is loading the dataset in memory\r\n', 'not-ready'],
    [judgeRedis, '+PO', 'more'],
    [judgeMemcached, 'VERSION 1.6.21\r\n', 'ready'],
    [judgeMemcached, 'ERROR\r\n', 'not-ready'],
    [judgeHttp, 'HTTP/1.1 200 OK\r\n', 'ready'],
    [judgeHttp, 'HTTP/1.0 503 Service Unavailable\r\n', 'not-ready'],
    [judgeHttp, 'SSH-2.0-OpenSSH\r\n', 'not-ready'],
    [judgeSmtp, '220 mailpit ESMTP\r\n', 'ready'],
    [judgeSmtp, '421 busy\r\n', 'not-ready'],
    [judgeSmtp, '22', 'more'],
  ])('%p judges %j as %s', (judge, text, state) => {
    expect(judge(Buffer.from(text)).state).toBe(state);
  });

  test('amqp: Connection.Start after the protocol header', () => {
    const start = Buffer.from([1, 0, 0, 0, 0, 1, 0, 0, 10, 0, 10, 0, 9]);
    expect(AMQP_HEADER.toString('latin1')).toBe('AMQP\0\0\t\x01');
    expect(judgeAmqp(start).state).toBe('ready');
    expect(judgeAmqp(start.subarray(0, 6)).state).toBe('more');
    expect(judgeAmqp(Buffer.from('AMQP\0\0\x09\x01')).state).toBe('ready');
    expect(judgeAmqp(Buffer.from([8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0])).state).toBe('not-ready');
  });

  test('wire probes and descriptions', () => {
    expect(wireProbe({ kind: 'command', command: ['x'] }, 'h')).toBeUndefined();
    expect(wireProbe({ kind: 'http', port: 9200, path: '/_cluster/health' }, 'es-1')!.request!.toString())
      .toBe('GET /_cluster/health HTTP/1.0\r\nHost: es-1\r\nConnection: close\r\n\r\n');
    expect(describeProbe({ kind: 'postgres', port: 5432, user: 'a', database: 'b' })).toBe('PostgreSQL startup exchange on port 5432');
  });
});

describe('exchange over TCP (fake servers on 127.0.0.1)', () => {
  const servers: net.Server[] = [];
  const sockets = new Set<net.Socket>();
  afterAll(async () => {
    for (const s of sockets) s.destroy();
    await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  });
  async function serve(onConn: (s: net.Socket) => void): Promise<number> {
    const server = net.createServer((s) => { sockets.add(s); onConn(s); });
    servers.push(server);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    return (server.address() as net.AddressInfo).port;
  }

  test('redis PING/PONG, answer split over two packets', async () => {
    const port = await serve((s) => s.once('data', (d) => {
      expect(d.toString()).toBe('PING\r\n');
      s.write('+PO');
      setTimeout(() => s.end('NG\r\n'), 20);
    }));
    expect(await exchange(wireProbe({ kind: 'redis', port }, 'x')!, '127.0.0.1', port)).toEqual({ state: 'ready', detail: 'PONG' });
  });

  test('smtp: the server speaks first', async () => {
    const port = await serve((s) => s.end('220 sink ready\r\n'));
    expect((await exchange(wireProbe({ kind: 'smtp', port }, 'x')!, '127.0.0.1', port)).state).toBe('ready');
  });

  test('connection refused and silent servers are not ready, within the attempt timeout', async () => {
    const closed = await serve(() => undefined);
    await new Promise((r) => servers.pop()!.close(r));
    const refused = await exchange(wireProbe({ kind: 'memcached', port: closed }, 'x')!, '127.0.0.1', closed);
    expect(refused).toEqual({ state: 'not-ready', reason: 'ECONNREFUSED' });
    const silent = await serve(() => undefined);
    const t0 = Date.now();
    const v = await exchange(wireProbe({ kind: 'memcached', port: silent }, 'x')!, '127.0.0.1', silent, 300);
    expect(v).toEqual({ state: 'not-ready', reason: 'no answer within 300ms' });
    expect(Date.now() - t0).toBeLessThan(2000);
  });

  test('a closed connection with a partial answer is not ready', async () => {
    const port = await serve((s) => s.end('+PO'));
    expect(await exchange(wireProbe({ kind: 'redis', port }, 'x')!, '127.0.0.1', port)).toEqual({
      state: 'not-ready', reason: 'connection closed without a complete answer',
    });
  });
});

describe('waitUntilReady', () => {
  function clock() {
    let t = 0;
    return { now: () => t, sleep: async (ms: number) => { t += ms; } };
  }

  test('polls until ready, with growing delays', async () => {
    const c = clock();
    let n = 0;
    const slept: number[] = [];
    const res = await waitUntilReady({
      check: async () => (++n < 4 ? { state: 'not-ready', reason: 'starting' } : { state: 'ready', detail: 'ok' }),
      timeoutMs: 10_000, now: c.now, sleep: async (ms) => { slept.push(ms); await c.sleep(ms); },
    });
    expect(res).toEqual({ ready: true, attempts: 4, elapsedMs: 475, detail: 'ok' });
    expect(slept).toEqual([100, 150, 225]);
  });

  test('gives up at the deadline with the last reason', async () => {
    const c = clock();
    const res = await waitUntilReady({ check: async () => ({ state: 'not-ready', reason: 'ECONNREFUSED' }), timeoutMs: 3000, ...c });
    expect(res).toMatchObject({ ready: false, why: 'timeout', reason: 'ECONNREFUSED' });
    expect(res.elapsedMs).toBe(3000);
  });

  test('stops at once when the container died', async () => {
    const c = clock();
    const res = await waitUntilReady({
      check: async () => ({ state: 'not-ready', reason: 'x' }), dead: async () => 'container exited with code 1', timeoutMs: 3000, ...c,
    });
    expect(res).toMatchObject({ ready: false, why: 'dead', reason: 'container exited with code 1', attempts: 1 });
  });

  test('bounded in attempts even if the clock never moves', async () => {
    let n = 0;
    const res = await waitUntilReady({ check: async () => { n++; return { state: 'not-ready', reason: 'x' }; }, timeoutMs: 1000, now: () => 0, sleep: async () => undefined });
    expect(res.ready).toBe(false);
    expect(n).toBe(20);
  });

  test('an aborted signal stops the wait', async () => {
    const ac = new AbortController();
    const p = waitUntilReady({ check: async () => ({ state: 'not-ready', reason: 'x' }), timeoutMs: 60_000, signal: ac.signal });
    setTimeout(() => ac.abort(new Error('cancelled (SIGTERM)')), 50);
    await expect(p).rejects.toThrow('cancelled (SIGTERM)');
  });
});

describe('stream helpers', () => {
  test('demuxes Docker log frames', () => {
    const frame = (t: number, s: string) => {
      const b = Buffer.from(s);
      const h = Buffer.alloc(8);
      h[0] = t;
      h.writeUInt32BE(b.length, 4);
      return Buffer.concat([h, b]);
    };
    expect(demuxBuffer(Buffer.concat([frame(1, 'out1\n'), frame(2, 'err1\n'), frame(1, 'out2\n')]))).toEqual({ stdout: 'out1\nout2\n', stderr: 'err1\n' });
    expect(demuxBuffer(Buffer.from('plain tty output\n'))).toEqual({ stdout: 'plain tty output\n', stderr: '' });
    expect(lastLines('a\nb\n\nc\nd\n', 2)).toEqual(['c', 'd']);
  });

  test('LineWriter emits whole lines across chunks', async () => {
    const lines: string[] = [];
    const w = new LineWriter((l) => lines.push(l));
    w.write('hel');
    w.write('lo\r\nwor');
    w.end('ld');
    await new Promise((r) => w.on('finish', r));
    expect(lines).toEqual(['hello', 'world']);
  });
});
