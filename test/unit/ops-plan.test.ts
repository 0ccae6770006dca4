import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
// Day-2 operations, the pure parts: which roles and hosts a command works on (errors name what
// exists), the remote argument vectors of status, exec, logs and lock, and their parsers.
import { planDeploy } from '../../src/deploy/plan.js';
import type { PalletConfig } from '../../src/config/types.js';
import { selectForExec, selectForView } from '../../src/ops/select.js';
import { containerRows, formatUptime, healthCell, parseDockerDate, parseStatus, statusArgv, statusProblems } from '../../src/ops/status.js';
import { managePyHint, combinedExitCode, execArgv, execAuditLine } from '../../src/ops/exec.js';
import { liveContainersArgv, parseLiveContainer } from '../../src/ops/live.js';
import { hostPrefix, logsArgv, mergeByTime } from '../../src/ops/logs.js';
import { isOwnLock, lockRetiring, lockStatusArgv, parseLockOwner, parseLockStatus, parseRelease, releaseIfOwnerArgv } from '../../src/ops/lock.js';
import { untilHangupArgv } from '../../src/ops/hangup.js';

function config(): PalletConfig {
  return {
    app: 'shop', image: 'r.example.com/shop',
    build: { context: '.', dockerfile: 'Dockerfile', args: {}, tags: [] },
    test: { command: ['test'], services: [], environment: {}, shards: 1, artifacts: [], timeout: 60 },
    deploy: {
      ssh: { user: 'deploy', port: 22 }, env_file: '/etc/pallet/shop.env',
      roles: { worker: { hosts: ['app3'] }, web: { hosts: ['app1', 'app2:2222'] } },
    },
    source: { file: '/x/pallet.yml', dir: '/x' },
  } as unknown as PalletConfig;
}
const plan = planDeploy(config());
const messageOf = (fn: () => unknown) => { try { fn(); } catch (e) { return (e as Error).message; } throw new Error('no error'); };

describe('selection', () => {
  test.each<[string, Parameters<typeof selectForView>[1], string[], string[]]>([
    ['everything', {}, ['web', 'worker'], ['app1', 'app2:2222', 'app3']],
    ['one role', { role: 'web' }, ['web'], ['app1', 'app2:2222']],
    ['one host by label', { host: 'app3' }, ['worker'], ['app3']],
    ['one host by name and port', { host: 'app2:2222' }, ['web'], ['app2:2222']],
    ['one host by user@host:port', { host: 'deploy@app2:2222' }, ['web'], ['app2:2222']],
    ['one host by bare name', { host: 'app2' }, ['web'], ['app2:2222']],
  ])('view: %s', (_n, flags, roles, hosts) => {
    const s = selectForView(plan, flags);
    expect([s.roles.map((r) => r.role), s.hosts.map((h) => h.label)]).toEqual([roles, hosts]);
  });

  test.each<[string, Parameters<typeof selectForExec>[1], string, string[]]>([
    ['defaults to web on its first host', {}, 'web', ['app1']],
    ['--all-hosts: every host of the role', { allHosts: true }, 'web', ['app1', 'app2:2222']],
    ['--role worker', { role: 'worker' }, 'worker', ['app3']],
    ['--host', { host: 'app2:2222' }, 'web', ['app2:2222']],
  ])('exec: %s', (_n, flags, role, hosts) => {
    const s = selectForExec(plan, flags);
    expect([s.role.role, s.hosts.map((h) => h.label)]).toEqual([role, hosts]);
  });

  test.each<[string, () => unknown, string]>([
    ['unknown role, with a suggestion', () => selectForView(plan, { role: 'wbe' }), "--role: unknown role 'wbe'; did you mean 'web'? (this app's roles: web, worker)"],
    ['unknown role in the action', () => selectForExec(plan, { role: 'scheduler', where: 'input' }), "input 'role': unknown role 'scheduler' (this app's roles: web, worker)"],
    ['unknown host', () => selectForView(plan, { host: 'db1' }), "--host: unknown host 'db1' (this app's hosts: app1, app2:2222, app3)"],
    ['host not in the role', () => selectForExec(plan, { host: 'app3' }), "--host: host 'app3' does not run role web (its hosts: app1, app2:2222)"],
    ['--host with --all-hosts', () => selectForExec(plan, { host: 'app1', allHosts: true }), '--host and --all-hosts exclude each other'],
  ])('%s', (_n, fn, msg) => {
    expect(messageOf(fn)).toBe(msg);
  });
});

describe('status', () => {
  const out = [
    'now=1764455196',
    'tag=build-7', 'revert=build-6', 'lock=run 77.1 by octo since 2026-11-29T22:00:00.000Z',
    'container=/shop-web\tabcdef1234567890\tweb\tbuild-7\t0\tsha256:img7\t{"Status":"running","Running":true,"StartedAt":"2025-11-29T22:06:36.123456789Z","Health":{"Status":"healthy","FailingStreak":0}}',
    'container=/shop-web-candidate\t1111111111112222\tweb-candidate\tbuild-8\t0\tsha256:img8\t{"Status":"exited","Running":false,"StartedAt":"2025-11-29T22:00:00Z"}',
    'image=sha256:img7 ["other/repo@sha256:2e2e2e2e2e2e2e2e2e2e2e2e2e2e2e2e2e2e2e2e2e2e2e2e2e2e2e2e2e2e2e2e","registry.example.com/team/shop@sha256:1f1f1f1f1f1f1f1f1f1f1f1f1f1f1f1f1f1f1f1f1f1f1f1f1f1f1f1f1f1f1f1f"]',
    'image=sha256:img8 []',
    'audit=2026-11-29T22:00:00.000Z\tocto\tshop\tdeploy\tbuild-6->build-7\tsuccess\trun=77.1',
  ].join('\n');

  test('the remote script gets app, state dir and template as arguments', () => {
    const a = statusArgv('shop', 3);
    expect(a.slice(0, 2)).toEqual(['sh', '-c']);
    expect(a.slice(3, 7)).toEqual(['sh', '/var/lib/pallet/shop', 'shop', '3']);
    expect(a[7]).toContain('{{index .Config.Labels "pallet.tag"}}');
  });

  test('parses state, lock, containers by label, audit', () => {
    const s = parseStatus('app1', ['web'], out, 'registry.example.com/team/shop');
    expect(s).toMatchObject({ host: 'app1', tag: 'build-7', revert: 'build-6', lock: 'run 77.1 by octo since 2026-11-29T22:00:00.000Z' });
    expect(s.containers[0]).toEqual({ name: 'shop-web', id: 'abcdef123456', role: 'web', tag: 'build-7', digest: 'sha256:1f1f1f1f1f1f1f1f1f1f1f1f1f1f1f1f1f1f1f1f1f1f1f1f1f1f1f1f1f1f1f1f', state: 'running', health: 'healthy', restarts: 0, startedAt: '2025-11-29T22:06:36.123456789Z', uptime: 1200 });
    expect([s.containers[1].digest, s.containers[1].uptime]).toEqual(['', undefined]);
    expect(s.audit).toHaveLength(1);
    expect(parseStatus('app1', ['web'], 'now=1\ntag=\nrevert=\n').lock).toBeUndefined();
  });

  test('rows: each role of the host, missing roles, then other app containers', () => {
    const hosts = [parseStatus('app1', ['web'], out, 'registry.example.com/team/shop'), parseStatus('app3', ['worker'], 'now=1\ntag=build-7\nrevert=\n')];
    expect(containerRows(hosts)).toEqual([
      ['app1', 'web', 'shop-web', 'build-7', 'sha256:1f1f1f1f1f1f', 'running', 'healthy', '0', '20m00s'],
      ['app1', 'web-candidate', 'shop-web-candidate', 'build-8', '-', 'exited', '-', '0', '-'],
      ['app3', 'worker', '-', '-', '-', 'missing', '-', '-', '-'],
    ]);
    expect(containerRows(hosts, ['web'])).toHaveLength(1);
    expect(statusProblems(hosts)).toEqual(['app3: no running worker container']);
    // A host where the app was never deployed (or was removed) says so once.
    expect(statusProblems([parseStatus('app4', ['web', 'worker'], 'now=1\ntag=\nrevert=\n')])).toEqual(['app4: the app is not deployed here (no TAG, no container)']);
  });

  test('rows: without a HEALTHCHECK the health column says none and what the deploy checked', () => {
    const noCheck = 'container=/shop-web-1a2b\tabcdef1234567890\tweb\tbuild-7\t0\tsha256:img\t{"Status":"running","Running":true,"StartedAt":"2025-11-29T22:06:36Z"}\n'
      + 'container=/shop-worker\t2222222222223333\tworker\tbuild-7\t1\tsha256:img\t{"Status":"running","Running":true,"StartedAt":"2025-11-29T22:06:36Z"}\n'
      + 'container=/shop-exec-web-x1\t3333333333334444\texec\tbuild-7\t0\tsha256:img\t{"Status":"running","Running":true,"StartedAt":"2025-11-29T22:06:36Z"}\n';
    const hosts = [parseStatus('app1', ['web', 'worker'], `now=1764455196\ntag=build-7\nrevert=\n${noCheck}`)];
    expect(containerRows(hosts, undefined, { web: '/health/', worker: '' })).toEqual([
      ['app1', 'web', 'shop-web-1a2b', 'build-7', '-', 'running', 'none (no HEALTHCHECK; the deploy checked /health/)', '0', '20m00s'],
      ['app1', 'worker', 'shop-worker', 'build-7', '-', 'running', 'none (no HEALTHCHECK; the deploy checked it stays up)', '1', '20m00s'],
      ['app1', 'exec', 'shop-exec-web-x1', 'build-7', '-', 'running', 'none (no HEALTHCHECK)', '0', '20m00s'],
    ]);
  });

  test.each<[string, { health: string; state: string }, string | undefined, string]>([
    ['a HEALTHCHECK\'s state wins', { health: 'unhealthy', state: 'running' }, '/health/', 'unhealthy'],
    ['web role', { health: '', state: 'running' }, '/up', 'none (no HEALTHCHECK; the deploy checked /up)'],
    ['role without a health path', { health: '', state: 'running' }, '', 'none (no HEALTHCHECK; the deploy checked it stays up)'],
    ['no role known', { health: '', state: 'running' }, undefined, 'none (no HEALTHCHECK)'],
    ['not running', { health: '', state: 'exited' }, '/health/', '-'],
  ])('health cell: %s', (_n, c, check, want) => {
    expect(healthCell(c, check)).toBe(want);
  });

  test.each([[59, '59s'], [252, '4m12s'], [11100, '3h05m'], [187200, '2d04h'], [undefined, '-']])('uptime %p -> %s', (s, want) => {
    expect(formatUptime(s)).toBe(want);
  });

  test('docker dates with nanoseconds', () => {
    expect(parseDockerDate('2026-11-29T22:26:36.123456789Z')).toBe(Date.parse('2026-11-29T22:26:36.123Z') / 1000);
    expect(parseDockerDate('0001-01-01T00:00:00Z')).toBe(Date.parse('0001-01-01T00:00:00.000Z') / 1000);
    expect(parseDockerDate('garbage')).toBeNaN();
  });
});

describe('exec', () => {
  const spec = { app: 'shop', image: 'r/shop', role: 'web', tag: 'build-7', envFile: '/etc/pallet/shop.env', id: 'abc123' };
  test('interactive: docker run -it of the running tag with env file, labels and the storage volume', () => {
    expect(execArgv({ ...spec, args: ['manage.py', 'shell'], interactive: true })).toEqual([
      'docker', 'run', '--rm', '-i', '-t', '--name', 'shop-exec-web-abc123', '--env-file', '/etc/pallet/shop.env',
      '--label', 'pallet.app=shop', '--label', 'pallet.role=exec', '--label', 'pallet.tag=build-7',
      '-v', '/var/lib/pallet/shop/storage:/storage', 'r/shop:build-7', 'manage.py', 'shell',
    ]);
  });
  test('non-interactive: no terminal, wrapped to stop with the ssh session, arguments untouched', () => {
    const a = execArgv({ ...spec, args: ['shell', '-c', 'print("$(id)"); x=1'], interactive: false });
    expect(a.slice(0, 2)).toEqual(['sh', '-c']);
    expect(a.slice(3, 7)).toEqual(['sh', 'docker', 'run', '--rm']);
    expect(a).not.toContain('-t');
    expect(a.slice(-3)).toEqual(['shell', '-c', 'print("$(id)"); x=1']);
  });
  test.each([[[0, 0], 0], [[0, 3, 1], 3], [[2], 2], [[], 0]])('exit codes %j -> %p', (codes, want) => {
    expect(combinedExitCode(codes)).toBe(want);
  });
  test('audit line: role@tag, the quoted command, masked, and the exit code', () => {
    const l = execAuditLine({ time: new Date('2026-01-02T03:04:05Z'), actor: 'alice', app: 'shop', role: 'web', tag: 'build-7', args: ['manage.py', 'shell', '-c', 'pw="hunter2"'], exitCode: 3, runId: 'local-1', interactive: false }, (s) => s.replace('hunter2', '***'));
    expect(l).toBe("2026-01-02T03:04:05.000Z\talice\tshop\texec\tweb@build-7 $ manage.py shell -c 'pw=\"***\"'\texit=3\trun=local-1");
  });
  test('live container by labels, newest first', () => {
    expect(liveContainersArgv('shop', 'web')).toEqual(['docker', 'ps', '--filter', 'label=pallet.app=shop', '--filter', 'label=pallet.role=web', '--format', '{{.ID}}\t{{.Label "pallet.tag"}}\t{{.Names}}']);
    expect(parseLiveContainer('abc\tbuild-8\tshop-web-2\ndef\tbuild-7\tshop-web\n')).toEqual({ id: 'abc', tag: 'build-8', name: 'shop-web-2' });
    expect(parseLiveContainer('\n')).toBeUndefined();
  });
});

describe('logs', () => {
  test.each<[Parameters<typeof logsArgv>[1], string[]]>([
    [{ follow: false }, ['docker', 'logs', '--timestamps', 'c1']],
    [{ follow: true, since: '10m', tail: 5 }, ['docker', 'logs', '--timestamps', '--since', '10m', '--tail', '5', '--follow', 'c1']],
  ])('%j', (o, docker) => {
    const a = logsArgv({ container: 'c1' }, o);
    expect(a.slice(-docker.length)).toEqual(docker);
    expect(a[0]).toBe('sh');
  });
  test('merges hosts by docker timestamp, stable, untimed lines stay with the previous', () => {
    const merged = mergeByTime([
      { host: 'a', text: '2026-01-01T00:00:02.5Z two-and-a-half' },
      { host: 'a', text: '  continuation' },
      { host: 'b', text: '2026-01-01T00:00:01.000000001Z one' },
      { host: 'b', text: '2026-01-01T00:00:03Z three' },
    ]);
    expect(merged.map((l) => l.text.split(' ').pop())).toEqual(['one', 'two-and-a-half', 'continuation', 'three']);
    expect(hostPrefix('app1', 6)).toBe('app1   | ');
  });
});

describe('lock', () => {
  test('status and release scripts take the state dir and owner as arguments', () => {
    expect(lockStatusArgv('shop').slice(-1)).toEqual(['/var/lib/pallet/shop']);
    expect(releaseIfOwnerArgv('shop', 'run 1 by $(x) since t').slice(-2)).toEqual(['/var/lib/pallet/shop', 'run 1 by $(x) since t']);
  });
  test.each<[string, string | undefined]>([['FREE\n', undefined], ['HELD run 1 by a since t\n', 'run 1 by a since t'], ['HELD\n', ''], ['HELD run 1 by a since t\nRETIRING\n', 'run 1 by a since t']])('lock status %j', (out, want) => {
    expect(parseLockStatus(out)).toBe(want);
  });
  test('a lock the host holds while it stops the previous containers is told apart (same owner line, so release still matches it)', () => {
    const root = mkdtempSync(path.join(os.tmpdir(), 'pallet-lockstatus-'));
    try {
      const run = () => execFileSync('sh', ['-c', lockStatusArgv('shop')[2], 'sh', `${root}/shop`], { encoding: 'utf8' });
      expect([run(), lockRetiring(run())]).toEqual(['FREE\n', false]);
      mkdirSync(`${root}/shop/lock`, { recursive: true });
      writeFileSync(`${root}/shop/lock/owner`, 'run 1 by a since t\n');
      expect([parseLockStatus(run()), lockRetiring(run())]).toEqual(['run 1 by a since t', false]);
      writeFileSync(`${root}/shop/lock/retiring`, '');
      expect([parseLockStatus(run()), lockRetiring(run())]).toEqual(['run 1 by a since t', true]);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
  test('release outcomes', () => {
    expect(parseRelease(0, 'RELEASED\n')).toEqual({ kind: 'released' });
    expect(parseRelease(0, 'FREE\n')).toEqual({ kind: 'free' });
    expect(parseRelease(1, 'CHANGED run 2 by b since t\n')).toEqual({ kind: 'changed', owner: 'run 2 by b since t' });
    expect(() => parseRelease(2, '')).toThrow('could not release the lock (exit 2)');
  });
  test.each<[string, { runId: string; actor: string }, boolean]>([
    ['run 77.1 by octo since t', { runId: '77.2', actor: 'someone' }, true],
    ['run 77.1 by octo since t', { runId: '78.1', actor: 'octo' }, false],
    ['run local-ab by alice since t', { runId: 'local-cd', actor: 'alice' }, true],
    ['run local-ab by alice since t', { runId: 'local-cd', actor: 'bob' }, false],
    ['run 77.1 by alice since t', { runId: 'local-cd', actor: 'alice' }, false],
    ['garbage', { runId: 'local-cd', actor: 'alice' }, false],
  ])('own lock? %s for %j -> %p', (owner, me, want) => {
    expect(isOwnLock(owner, me)).toBe(want);
  });
  test('owner line parts', () => {
    expect(parseLockOwner('run 77.1 by octo cat since 2026-01-01T00:00:00.000Z')).toEqual({ runId: '77.1', actor: 'octo cat', since: '2026-01-01T00:00:00.000Z' });
  });
});

test('hangup wrapper passes the command as positional arguments', () => {
  const a = untilHangupArgv(['docker', 'logs', 'x; rm -rf /']);
  expect(a.slice(0, 2)).toEqual(['sh', '-c']);
  expect(a.slice(3)).toEqual(['sh', 'docker', 'logs', 'x; rm -rf /']);
});

describe('exec: the manage.py hint', () => {
  test.each<[string[], number | undefined, string | undefined]>([
    [['manage.py', 'createsuperuser'], 1, 'the image\'s entrypoint already runs manage.py: drop it, e.g. pallet exec -- createsuperuser'],
    [['./manage.py', 'shell', '-c', 'print(1)'], 1, "the image's entrypoint already runs manage.py: drop it, e.g. pallet exec -- shell -c 'print(1)'"],
    [['manage.py'], 2, "the image's entrypoint already runs manage.py: drop it, e.g. pallet exec -- check"],
    [['manage.py', 'check'], 0, undefined],
    [['check'], 1, undefined],
  ])('%j exit %s', (args, code, want) => {
    expect(managePyHint(args, code)).toBe(want);
  });
});
