import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, existsSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  acquireLockArgv, auditLine, finishArgv, parseLockAttempt, parseState, readStateArgv, recordRevertArgv, releaseLockArgv,
  runContainerArgv, stopRemoveArgv, tagsToPrune, taskArgv, webHealthArgv, probeArgv, parseDockerTime, loginArgv, wasKilled, STEADY_ANSWERS,
} from '../../src/deploy/commands.js';
import { explainSteadyAnswer } from '../../src/deploy/health.js';
import { shellQuote } from '../../src/ssh/quote.js';

describe('docker argv', () => {
  test('web container: restart policy, env file, port, labels, storage', () => {
    expect(runContainerArgv({ app: 'shop', role: 'web', tag: 'build-7', image: 'reg:5000/shop', command: ['serve'], envFile: '/etc/pallet/shop.env', port: 8000, hostPort: 8000 }))
      .toEqual(['docker', 'run', '-d', '--restart', 'unless-stopped', '--name', 'shop-web', '--env-file', '/etc/pallet/shop.env', '-p', '8000:8000',
        '--label', 'pallet.app=shop', '--label', 'pallet.role=web', '--label', 'pallet.tag=build-7', '-v', '/var/lib/pallet/shop/storage:/storage', 'reg:5000/shop:build-7', 'serve']);
  });
  test('worker container publishes nothing', () => {
    expect(runContainerArgv({ app: 'shop', role: 'worker', tag: 't', image: 'i', command: ['worker'] })).not.toContain('-p');
  });
  test('task runs once and is removed', () => {
    const a = taskArgv({ app: 'shop', image: 'i', tag: 't', envFile: '/e', command: ['deploy'], name: 'shop-task-1' });
    expect(a.slice(0, 3)).toEqual(['docker', 'run', '--rm']);
    expect(a.slice(-2)).toEqual(['i:t', 'deploy']);
  });
  test('login reads the password from stdin', () => {
    expect(loginArgv('reg:5000', 'ci')).toEqual(['docker', 'login', '-u', 'ci', '--password-stdin', 'reg:5000']);
  });
  test('stop sends the role\'s signal, waits the configured timeout, then kills and says so', () => {
    const a = stopRemoveArgv('shop', 'worker', 7, 'SIGQUIT');
    expect(a[2]).toContain('docker kill --signal "$sig" "$n"');
    expect(a[2]).toContain('timeout "$t" docker wait "$n"');
    expect(a.slice(3)).toEqual(['sh', 'shop-worker', '7', 'SIGQUIT']);
    expect(stopRemoveArgv('shop', 'web', 7).slice(-1)).toEqual(['SIGTERM']);
    expect(wasKilled('KILLED\n')).toBe(true);
    expect(wasKilled('')).toBe(false);
  });
  test('the container records its stop signal and timeout', () => {
    const a = runContainerArgv({ app: 'shop', role: 'worker', tag: 't', image: 'i', command: ['worker'], stopSignal: 'SIGQUIT', stopTimeout: 90 });
    expect(a.slice(a.indexOf('--stop-signal'), a.indexOf('--stop-signal') + 4)).toEqual(['--stop-signal', 'SIGQUIT', '--stop-timeout', '90']);
  });
  test('health url is on the host loopback; the Host header only when set', () => {
    expect(webHealthArgv('shop', 'web', 8001, 'health/', 9).slice(3)).toEqual(['sh', 'shop-web', 'http://127.0.0.1:8001/health/', '9', '']);
    expect(webHealthArgv('shop', 'web', 8001, '/health/', 9, 'shop.example.com').slice(-1)).toEqual(['shop.example.com']);
  });
  test('candidate probe: same image and env, no published port, own name', () => {
    const a = probeArgv({ app: 'shop', role: 'web', tag: 't', image: 'i', command: ['serve'], envFile: '/e', port: 8000, hostPort: 8080 }, '/health/', 5);
    expect(a.slice(3, 9)).toEqual(['sh', 'shop-web-candidate', '/health/', '8000', '5', '']);
    expect(a).not.toContain('-p');
    expect(a.slice(-2)).toEqual(['i:t', 'serve']);
  });
});

describe('pruning', () => {
  const listing = [
    'build-5\t2026-11-20 10:00:00 +0000 UTC',
    'build-9\t2026-11-22 10:00:00 +0000 UTC',
    'build-7\t2026-11-21 10:00:00 +0000 UTC',
    'build-8\t2026-11-21 12:00:00 +0000 UTC',
    'build-6\t2026-11-20 12:00:00 +0000 UTC',
    '<none>\t2026-11-19 12:00:00 +0000 UTC',
  ].join('\n');
  test.each([
    [3, ['build-9', 'build-8'], ['build-6', 'build-5']],
    [2, ['build-9', 'build-5'], ['build-8', 'build-7', 'build-6']],
    [1, ['build-9', 'build-5'], ['build-8', 'build-7', 'build-6']],
    [10, ['build-9', 'build-8'], []],
  ])('keep %d protecting %j removes %j', (keep, protect, want) => {
    expect(tagsToPrune(listing, keep, protect)).toEqual(want);
  });
  test('docker time', () => expect(parseDockerTime('2026-11-22 03:58:59 +0100 CET')).toBe(Date.parse('2026-11-22T02:58:59Z')));
});

describe('audit line', () => {
  test('tab separated, no newlines smuggled in', () => {
    const l = auditLine({ time: new Date('2026-01-02T03:04:05Z'), actor: 'alice\nx', app: 'shop', command: 'deploy', from: '', to: 'build-2', result: 'success', runId: '9.1' });
    expect(l).toBe('2026-01-02T03:04:05.000Z\talice x\tshop\tdeploy\t(none)->build-2\tsuccess\trun=9.1');
  });
});

// The state scripts run against a real sh with STATE_ROOT redirected to a temp dir.
describe('state scripts in a real shell', () => {
  let root: string;
  const runArgv = (argv: string[]) => {
    const line = shellQuote(argv).split('/var/lib/pallet/').join(`${root}/`);
    const r = spawnSync('sh', ['-c', line], { encoding: 'utf8' });
    return { code: r.status ?? -1, out: r.stdout };
  };
  beforeEach(() => { root = mkdtempSync(path.join(os.tmpdir(), 'pallet-state-')); });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  test('lock: one holder, owner shown to the second, released only by its token, breakable', () => {
    const a = runArgv(acquireLockArgv('shop', 'tokA', 'run 1 by alice since T', false));
    expect(parseLockAttempt(a.code, a.out)).toEqual({ acquired: true });
    const b = runArgv(acquireLockArgv('shop', 'tokB', 'run 2 by bob since U', false));
    expect(parseLockAttempt(b.code, b.out)).toEqual({ acquired: false, holder: 'run 1 by alice since T' });
    runArgv(releaseLockArgv('shop', 'tokB'));
    expect(existsSync(`${root}/shop/lock`)).toBe(true);
    const c = runArgv(acquireLockArgv('shop', 'tokC', 'run 3', true));
    expect(parseLockAttempt(c.code, c.out)).toEqual({ acquired: true, broke: 'run 1 by alice since T' });
    runArgv(releaseLockArgv('shop', 'tokC'));
    expect(existsSync(`${root}/shop/lock`)).toBe(false);
    expect(runArgv(releaseLockArgv('shop', 'tokC')).code).toBe(0);
  });

  test('TAG, REVERT and audit through record and finish', () => {
    runArgv(acquireLockArgv('shop', 't', 'o', false));
    expect(parseState(runArgv(readStateArgv('shop')).out)).toEqual({ tag: '', revert: '' });
    runArgv(recordRevertArgv('shop', 'build-1'));
    runArgv(finishArgv('shop', 'build-1', '', 'line1'));
    runArgv(recordRevertArgv('shop', 'build-2'));
    runArgv(finishArgv('shop', 'build-2', '', 'line2'));
    expect(parseState(runArgv(readStateArgv('shop')).out)).toEqual({ tag: 'build-2', revert: 'build-1' });
    // A failed deploy of build-3 restores REVERT and leaves TAG.
    runArgv(recordRevertArgv('shop', 'build-3'));
    expect(parseState(runArgv(readStateArgv('shop')).out).revert).toBe('build-2');
    runArgv(finishArgv('shop', '', 'build-1', "line3 $(touch /tmp/nope) ';"));
    expect(parseState(runArgv(readStateArgv('shop')).out)).toEqual({ tag: 'build-2', revert: 'build-1' });
    expect(readFileSync(`${root}/shop/audit.log`, 'utf8')).toBe("line1\nline2\nline3 $(touch /tmp/nope) ';\n");
    runArgv(finishArgv('shop', '', '-', 'x'));
    expect(parseState(runArgv(readStateArgv('shop')).out).revert).toBe('');
  });

  test('sh is available', () => expect(execFileSync('sh', ['-c', 'echo ok']).toString().trim()).toBe('ok'));
});

// The health loops run in a real sh with curl and docker replaced by stubs on PATH: curl answers
// a scripted sequence of status codes, docker says the container runs.
describe('health loops stop at a steady redirect or client error', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'pallet-health-'));
    writeFileSync(path.join(dir, 'curl'), `#!/bin/sh\nn=$(cat "${'$'}{0%/*}/n" 2>/dev/null || echo 0); n=$((n+1)); echo $n > "${'$'}{0%/*}/n"\nfor a in "$@"; do echo "$a"; done >> "${'$'}{0%/*}/args"\nsed -n "${'$'}{n}p" "${'$'}{0%/*}/codes" | tr -d '\\n'\n`, { mode: 0o755 });
    writeFileSync(path.join(dir, 'docker'), '#!/bin/sh\necho "true 0"\n', { mode: 0o755 });
    writeFileSync(path.join(dir, 'sleep'), '#!/bin/sh\n', { mode: 0o755 });
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));
  const run = (codes: string[], host = '') => {
    writeFileSync(path.join(dir, 'codes'), codes.join('\n') + '\n');
    const argv = webHealthArgv('shop', 'web', 8000, '/health/', 60, host);
    const r = spawnSync(argv[0], argv.slice(1), { encoding: 'utf8', env: { PATH: `${dir}:${process.env.PATH}` } });
    return { code: r.status, out: r.stdout.trim(), tries: Number(readFileSync(path.join(dir, 'n'), 'utf8')), args: readFileSync(path.join(dir, 'args'), 'utf8') };
  };
  test.each([
    ['400 from the start', Array(20).fill('400'), 1, STEADY_ANSWERS],
    ['502 while starting, then 404', ['000', '502', '502', ...Array(20).fill('404')], 1, 3 + STEADY_ANSWERS],
    ['a 404 run broken by a 503 starts over', ['404', '404', '404', '503', ...Array(20).fill('404')], 1, 4 + STEADY_ANSWERS],
    ['301 steady', Array(20).fill('301'), 1, STEADY_ANSWERS],
    ['a few 404 then 200', ['404', '404', '200'], 0, 3],
  ])('%s', (_name, codes, exit, tries) => {
    const r = run(codes);
    expect({ code: r.code, tries: r.tries }).toEqual({ code: exit, tries });
    if (exit) expect(r.out).toMatch(/^steady HTTP \d{3}: the same answer 5 times in a row$/);
  });
  test('the Host header is sent only when health.host is set', () => {
    expect(run(['200']).args).not.toContain('Host:');
    rmSync(path.join(dir, 'n'));
    rmSync(path.join(dir, 'args'));
    expect(run(['200'], 'shop.example.com').args).toContain('-H\nHost: shop.example.com\n');
  });
});

describe('what a steady answer tells the user', () => {
  const role = { role: 'web', healthPath: '/health/' };
  test.each<[string, string | undefined, RegExp[]]>([
    ['400', undefined, [/\/health\/ answered HTTP 400/, /ALLOWED_HOSTS/, /deploy\.roles\.web\.health\.host/, /Host header/]],
    ['400', 'shop.example.com', [/Host: shop\.example\.com \(deploy\.roles\.web\.health\.host\)/]],
    ['404', undefined, [/answered HTTP 404/, /no URL pattern matches \/health\//, /set deploy\.roles\.web\.health\.path/]],
    ['403', undefined, [/make \/health\/ public/]],
    ['301', undefined, [/SECURE_SSL_REDIRECT/, /SECURE_REDIRECT_EXEMPT/]],
    ['418', undefined, [/answer 200 to a plain GET/]],
  ])('HTTP %s (health.host %s)', (code, host, want) => {
    const text = explainSteadyAnswer(`steady HTTP ${code}: the same answer 5 times in a row`, { ...role, healthHost: host })!;
    for (const w of want) expect(text).toMatch(w);
  });
  test('other failures are left as they are', () => {
    expect(explainSteadyAnswer('no HTTP 200 from /health/ within 60s (last status 503)', role)).toBeUndefined();
  });
});
