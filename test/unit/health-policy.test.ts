// The one health policy (health.ts): the pure decision over a sequence of answers, what each
// steady status tells a Django user, and the single-shot probe script run in a real sh with curl
// and docker replaced by stubs on PATH.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import {
  HEALTH_POLICY, explainStatus, httpProbeArgv, judgeAnswer, parseHttpProbe, parseHttpProbes, type HealthTrack, type HttpCheck, type ProbeAnswer,
} from '../../src/deploy/health.js';

const role = { role: 'web', healthPath: '/health/' };
const check: HttpCheck = { container: 'shop-web', via: 'published', port: 8000, path: '/health/', host: '', proto: '', timeout: 60, subject: 'container shop-web' };
const up = (code: number): ProbeAnswer => ({ running: true, restarts: 0, missing: false, code, address: '127.0.0.1:8000', logs: '' });

/** Feeds answers one poll interval apart; returns the result and how many were read. */
function judge(answers: ProbeAnswer[], timeoutS = 60) {
  const t: HealthTrack = { tries: 0, last: -1, same: 0, sameSince: 0 };
  for (const [i, a] of answers.entries()) {
    const now = i * HEALTH_POLICY.intervalMs;
    const step = judgeAnswer(a, t, now, timeoutS * 1000, { ...check, timeout: timeoutS }, role);
    if (step.done) return { ...step.result, read: i + 1 };
  }
  return { ok: undefined, detail: 'undecided', read: answers.length };
}

describe('judging a sequence of answers', () => {
  // Steady = the same 3xx/4xx steadyAnswers times in a row over at least steadyMs.
  const steadyAfter = Math.max(HEALTH_POLICY.steadyAnswers, HEALTH_POLICY.steadyMs / HEALTH_POLICY.intervalMs + 1);
  test.each<[string, number[], boolean | undefined, number]>([
    ['200 at once', [200], true, 1],
    ['204 counts as healthy', [0, 204], true, 2],
    ['a few 404 while booting, then 200', [404, 404, 200], true, 3],
    ['400 from the start stops early', Array(40).fill(400), false, steadyAfter],
    ['502 while starting, then a steady 404', [0, 502, 502, ...Array(40).fill(404)], false, 3 + steadyAfter],
    ['a 404 run broken by a 503 starts over', [404, 404, 404, 503, ...Array(40).fill(404)], false, 4 + steadyAfter],
    ['301 steady', Array(40).fill(301), false, steadyAfter],
    ['5xx is not steady: it waits', Array(40).fill(503), undefined, 40],
  ])('%s', (_name, codes, ok, read) => {
    const r = judge(codes.map(up));
    expect({ ok: r.ok, read: r.read }).toEqual({ ok, read });
  });
  test('a steady answer is explained', () => {
    expect(judge(Array(40).fill(400).map(up)).detail).toMatch(/\/health\/ answered HTTP 400 every time .*ALLOWED_HOSTS/);
  });
  test('a container that exited stops the wait at once, with its logs', () => {
    const r = judge([up(0), { ...up(0), running: false, logs: 'ImportError: no module named foo' }]);
    expect(r).toEqual({ ok: false, read: 2, detail: 'container shop-web exited: ImportError: no module named foo (last status: no answer)' });
  });
  test('a restart counts as a failure (crash loop)', () => {
    expect(judge([{ ...up(0), restarts: 1, logs: 'boom' }]).detail).toBe('container shop-web restarted (1 restart): boom (last status: no answer)');
  });
  test('at the deadline: the last status and the Host sent', () => {
    const r = judge(Array(Math.ceil(1000 / HEALTH_POLICY.intervalMs) + 2).fill(503).map(up), 1);
    expect(r.ok).toBe(false);
    expect(r.detail).toBe('no HTTP 2xx from /health/ within 1s (last status: HTTP 503, Host: 127.0.0.1:8000)');
  });
});

describe('what a steady status tells the user', () => {
  test.each<[number, string | undefined, RegExp[]]>([
    [400, undefined, [/\/health\/ answered HTTP 400/, /ALLOWED_HOSTS/, /deploy\.roles\.web\.health\.host/, /Host header/]],
    [400, 'shop.example.com', [/Host: shop\.example\.com \(deploy\.roles\.web\.health\.host\)/]],
    [404, undefined, [/answered HTTP 404/, /no URL pattern matches \/health\//, /set deploy\.roles\.web\.health\.path/]],
    [403, undefined, [/make \/health\/ public/]],
    [301, undefined, [/SECURE_SSL_REDIRECT/, /SECURE_REDIRECT_EXEMPT/]],
    [418, undefined, [/answer 2xx to a plain GET/]],
  ])('HTTP %s (health.host %s)', (code, host, want) => {
    const text = explainStatus(code, 5, { ...role, healthHost: host });
    for (const w of want) expect(text).toMatch(w);
  });
});

// The probe in a real sh: curl prints a scripted status and records its arguments; docker answers
// inspect with a state and an address on the named network.
describe('the single-shot probe on the host', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'pallet-probe-'));
    writeFileSync(path.join(dir, 'curl'), `#!/bin/sh\nfor a in "$@"; do echo "$a"; done > "${'$'}{0%/*}/args"\ncat "${'$'}{0%/*}/code"\n`, { mode: 0o755 });
    writeFileSync(path.join(dir, 'docker'), `#!/bin/sh
case "$*" in
  *RestartCount*) cat "${'$'}{0%/*}/state" ;;
  *Networks*) printf 'bridge 172.17.0.5\\npallet-proxy 172.30.0.7\\n' ;;
  logs*) printf 'line one\\nline two\\n' ;;
esac
`, { mode: 0o755 });
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));
  const probe = (c: Partial<HttpCheck>, code: string, state = 'true 0', polls = 1) => {
    writeFileSync(path.join(dir, 'code'), code);
    writeFileSync(path.join(dir, 'state'), state);
    const argv = httpProbeArgv({ ...check, ...c }, polls, 10);
    const r = spawnSync(argv[0], argv.slice(1), { encoding: 'utf8', env: { PATH: `${dir}:${process.env.PATH}` } });
    let args = '';
    try { args = readFileSync(path.join(dir, 'args'), 'utf8'); } catch { /* curl not called */ }
    return { status: r.status, answer: parseHttpProbe(r.stdout), answers: parseHttpProbes(r.stdout), stdout: r.stdout, args: args.split('\n').filter(Boolean) };
  };
  test('argv: named script, data as positional arguments', () => {
    expect(httpProbeArgv({ ...check, path: 'health/', host: 'shop.test', proto: 'https' }, 5, 200).slice(3))
      .toEqual(['pallet-http-probe', 'shop-web', 'published', '8000', '/health/', 'shop.test', 'https', '5', '0.2']);
  });
  test('published: asks 127.0.0.1:PORT without extra headers', () => {
    const r = probe({}, '200');
    expect(r.stdout).toBe('state=true 0\ncode=200\naddress=127.0.0.1:8000\nend\n');
    expect(r.args).toEqual(['-s', '-o', '/dev/null', '-w', '%{http_code}', '--max-time', '2', 'http://127.0.0.1:8000/health/']);
  });
  test('on a network: the address there, with Host and X-Forwarded-Proto', () => {
    const r = probe({ via: 'pallet-proxy', host: 'shop.test', proto: 'https' }, '400');
    expect(r.answer).toEqual({ running: true, restarts: 0, missing: false, code: 400, address: '172.30.0.7:8000', logs: '' });
    expect(r.args.slice(-5)).toEqual(['-H', 'Host: shop.test', '-H', 'X-Forwarded-Proto: https', 'http://172.30.0.7:8000/health/']);
  });
  test("'' = the first address the container has", () => {
    expect(probe({ via: '' }, '200').answer.address).toBe('172.17.0.5:8000');
  });
  test('a batch: one answer per poll until one is final (a 2xx, a container not running steadily)', () => {
    expect(probe({}, '503', 'true 0', 3).answers.map((a) => a.code)).toEqual([503, 503, 503]);
    expect(probe({}, '204', 'true 0', 3).answers.map((a) => a.code)).toEqual([204]);
    expect(probe({}, '000', 'true 1', 3).answers.map((a) => [a.code, a.restarts])).toEqual([[0, 1]]);
    // The headers survive from one poll to the next.
    expect(probe({ via: 'pallet-proxy', host: 'shop.test' }, '404', 'true 0', 2).args.slice(-3)).toEqual(['-H', 'Host: shop.test', 'http://172.30.0.7:8000/health/']);
  });
  test('a stopped container: its state and last log lines', () => {
    const r = probe({}, '000', 'false 0');
    expect(r.status).toBe(0);
    expect(r.answer).toMatchObject({ running: false, code: 0, logs: 'line one line two' });
  });
});
