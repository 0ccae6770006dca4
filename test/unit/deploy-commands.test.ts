import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, existsSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  acquireLockArgv, auditLine, finishArgv, parseLockAttempt, parseState, readStateArgv, recordRevertArgv, releaseLockArgv,
  runContainerArgv, stateDir, stopRemoveArgv, tagsToPrune, taskArgv, startCandidateArgv, removeContainerArgv, parseDockerTime, loginArgv, wasKilled,
} from '../../src/deploy/commands.js';
import { shellQuote } from '../../src/ssh/quote.js';
import { retireLaterArgv } from '../../src/deploy/proxy/commands.js';

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
    expect(a.slice(3)).toEqual(['pallet-stop-remove', 'shop-worker', '7', 'SIGQUIT']);
    expect(stopRemoveArgv('shop', 'web', 7, 'SIGTERM').slice(-1)).toEqual(['SIGTERM']);
    expect(wasKilled('KILLED\n')).toBe(true);
    expect(wasKilled('')).toBe(false);
  });
  test('the container records its stop signal and timeout', () => {
    const a = runContainerArgv({ app: 'shop', role: 'worker', tag: 't', image: 'i', command: ['worker'], stopSignal: 'SIGQUIT', stopTimeout: 90 });
    expect(a.slice(a.indexOf('--stop-signal'), a.indexOf('--stop-signal') + 4)).toEqual(['--stop-signal', 'SIGQUIT', '--stop-timeout', '90']);
  });
  test('candidate: same image and env, no published port, no restart policy, own name', () => {
    const a = startCandidateArgv({ app: 'shop', role: 'web', tag: 't', image: 'i', command: ['serve'], envFile: '/e', port: 8000, hostPort: 8080 });
    expect(a.slice(3)).toEqual(['pallet-start-candidate', 'shop-web-candidate', '--env-file', '/e', '--label', 'pallet.app=shop', '--label', 'pallet.role=web-candidate',
      '--label', 'pallet.tag=t', '-v', '/var/lib/pallet/shop/storage:/storage', 'i:t', 'serve']);
    expect(removeContainerArgv('shop-web-candidate').slice(3)).toEqual(['pallet-remove-container', 'shop-web-candidate']);
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
  test("another app's TAG and REVERT are never removed, nor counted towards keep", () => {
    // staging runs build-8 and would roll back to build-6; production keeps its own 2.
    expect(tagsToPrune(listing, 2, ['build-9', 'build-7'], ['build-8', 'build-6'])).toEqual(['build-5']);
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

  test('lock handed to a background retire: a deploy without a wait sees why it is held, one with a wait gets it once the containers are gone', () => {
    // A stub docker: logs each call; `stop` returns once the test creates "go" (bounded).
    const bin = path.join(root, 'bin');
    execFileSync('mkdir', ['-p', bin]);
    writeFileSync(path.join(bin, 'docker'), `#!/bin/sh
echo "$*" >> "${root}/docker.log"
if [ "$1" = stop ]; then i=0; while [ ! -e "${root}/go" ] && [ $i -lt 300 ]; do i=$((i+1)); sleep 0.1; done; fi
[ "$1" = container ] && exit 1
exit 0
`, { mode: 0o755 });
    const env = { ...process.env, PATH: `${bin}:${process.env.PATH}` };
    const run = (argv: string[]) => {
      const r = spawnSync('sh', ['-c', shellQuote(argv).split('/var/lib/pallet/').join(`${root}/`)], { encoding: 'utf8', env });
      return { code: r.status ?? -1, out: r.stdout };
    };
    expect(run(acquireLockArgv('shop', 'tokA', 'run 1 by alice', false)).code).toBe(0);
    const started = run(retireLaterArgv(stateDir('shop'), 'tokA', { tag: 'build-2', revert: '', auditLine: 'line 2' }, [
      { names: ['shop-web-1'], stopTimeout: 30, drain: { seconds: 0, port: 8000 } },
      { names: ['shop-api-1', 'shop-api-2'], stopTimeout: 5, drain: { seconds: 0, port: 9000 } },
    ]));
    expect(started).toEqual({ code: 0, out: expect.stringMatching(/^RETIRING \d+\n$/) });
    // The host was finished first, in the same command.
    expect([readFileSync(`${root}/shop/TAG`, 'utf8'), readFileSync(`${root}/shop/audit.log`, 'utf8')]).toEqual(['build-2\n', 'line 2\n']);
    const held = run(acquireLockArgv('shop', 'tokB', 'run 2 by bob', false, 0));
    expect(parseLockAttempt(held.code, held.out)).toEqual({ acquired: false, holder: 'run 1 by alice (stopping its previous containers)' });
    writeFileSync(path.join(root, 'go'), '');
    const next = run(acquireLockArgv('shop', 'tokC', 'run 3 by carol', false, 60));
    expect(parseLockAttempt(next.code, next.out)).toEqual({ acquired: true });
    expect(next.out).toMatch(/^WAITED \d+\.\d\n/m);
    // The state comes with the lock, read under it: what the previous deploy finished.
    expect(parseState(next.out)).toEqual({ tag: 'build-2', revert: '' });
    expect(readFileSync(`${root}/docker.log`, 'utf8').split('\n').filter((l) => /^(stop|rm)/.test(l))).toEqual([
      'stop -t 30 shop-web-1', 'rm -f shop-web-1', 'stop -t 5 shop-api-1 shop-api-2', 'rm -f shop-api-1 shop-api-2',
    ]);
    expect(readFileSync(`${root}/shop/retire.log`, 'utf8')).toBe('retired shop-web-1 shop-api-1 shop-api-2: exit 0\n');
    // Handing over a lock this deploy does not hold starts nothing.
    expect(run(retireLaterArgv(stateDir('shop'), 'tokA', { tag: 'build-3', revert: '', auditLine: 'line 3' }, [{ names: ['x'], stopTimeout: 1, drain: { seconds: 0, port: 1 } }])))
      .toEqual({ code: 3, out: "the deploy lock is not this deploy's\n" });
    expect(readFileSync(`${root}/shop/TAG`, 'utf8')).toBe('build-2\n');
  });

  test('a retire whose process is gone (host restarted) leaves a lock the next deploy removes, saying so', () => {
    const dead = spawnSync('true').pid;
    execFileSync('mkdir', ['-p', `${root}/shop/lock`]);
    for (const [f, v] of [['token', 'tokA'], ['owner', 'run 1'], ['retiring', ''], ['retire-pid', String(dead)]]) writeFileSync(`${root}/shop/lock/${f}`, `${v}\n`);
    const r = runArgv(acquireLockArgv('shop', 'tokB', 'run 2', false, 60));
    expect(parseLockAttempt(r.code, r.out)).toEqual({ acquired: true });
    expect(r.out).toMatch(new RegExp(`^RETIRE-GONE ${dead}$`, 'm'));
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

