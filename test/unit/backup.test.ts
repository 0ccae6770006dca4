// deploy.backup and pallet db: the command builders on whole argv, the URL-to-PG* program and the
// host scripts in a real sh (docker stubbed by a script that plays pg_dump / pg_restore), and the
// deploy over fake hosts: the dump before the tasks, a failed dump stopping it with nothing changed.
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { BACKUP_ID, CONNECT, PG_DUMP, backupArgv, backupId, backupMeta, listBackupsArgv, parseBackup, parseBackups, readBackupArgv, restoreArgv } from '../../src/backup/commands.js';
import { explainDumpFailure } from '../../src/backup/deploy.js';
import { executeDeploy } from '../../src/deploy/index.js';
import { loadConfig } from '../../src/config/load.js';
import { CleanupLedger } from '../../src/util/cleanup.js';
import { FakeFleet } from '../helpers/fake-host.js';

const B = { keep: 7, image: 'postgres:17', url_env: ['DB_DEFAULT_URL', 'DATABASE_URL'] };

/** Runs CONNECT with `url` in DBURL and prints the PG* variables it exported, sorted. */
function connect(url: string | undefined): { code: number | null; env: Record<string, string>; stderr: string } {
  const r = spawnSync('sh', ['-c', CONNECT, 'pallet-db-backup', 'DBURL', 'sh', '-c', 'env -0'], {
    env: { PATH: process.env.PATH, ...(url !== undefined ? { DBURL: url } : {}) }, encoding: 'utf8',
  });
  const env: Record<string, string> = {};
  for (const kv of r.stdout.split('\0')) if (kv.startsWith('PG')) env[kv.slice(0, kv.indexOf('='))] = kv.slice(kv.indexOf('=') + 1);
  return { code: r.status, env, stderr: r.stderr };
}

describe('the database URL becomes libpq variables inside the client container (CONNECT)', () => {
  test.each([
    ['postgres://app:s3cret@db:5433/shop', { PGUSER: 'app', PGPASSWORD: 's3cret', PGHOST: 'db', PGPORT: '5433', PGDATABASE: 'shop', PGCONNECT_TIMEOUT: '10' }],
    ['postgresql://app@db/shop', { PGUSER: 'app', PGHOST: 'db', PGDATABASE: 'shop', PGCONNECT_TIMEOUT: '10' }],
    // Percent-encoded (RFC 3986): every shell-special character survives, decoded once.
    [`postgres://app:${encodeURIComponent(`p'a"s$(id)\`;&|\\ %x!#?`)}@db/shop`, { PGUSER: 'app', PGPASSWORD: `p'a"s$(id)\`;&|\\ %x!#?`, PGHOST: 'db', PGDATABASE: 'shop', PGCONNECT_TIMEOUT: '10' }],
    ['postgres://u:p%40ss@[::1]:6432/my%20db?sslmode=require&connect_timeout=3', { PGUSER: 'u', PGPASSWORD: 'p@ss', PGHOST: '::1', PGPORT: '6432', PGDATABASE: 'my db', PGSSLMODE: 'require', PGCONNECT_TIMEOUT: '3' }],
    ['postgres://u:p@h1:5432,h2:5433/db?target_session_attrs=read-write', { PGUSER: 'u', PGPASSWORD: 'p', PGHOST: 'h1,h2', PGPORT: '5432,5433', PGDATABASE: 'db', PGTARGETSESSIONATTRS: 'read-write', PGCONNECT_TIMEOUT: '10' }],
    // The last @ ends the user info: an @ in a password written unencoded still works.
    ['postgres://u:a@b@db/x', { PGUSER: 'u', PGPASSWORD: 'a@b', PGHOST: 'db', PGDATABASE: 'x', PGCONNECT_TIMEOUT: '10' }],
  ])('%s', (url, env) => {
    const r = connect(url);
    expect({ code: r.code, env: r.env, stderr: r.stderr }).toEqual({ code: 0, env, stderr: '' });
  });

  test('an unknown URL parameter is named on stderr (not its value) and left out', () => {
    const r = connect('postgres://u:p@db/x?pool=5&sslmode=disable');
    expect({ code: r.code, mode: r.env.PGSSLMODE, stderr: r.stderr }).toEqual({ code: 0, mode: 'disable', stderr: 'pallet: DBURL: URL parameter pool is not passed on to the client\n' });
  });

  test.each([
    [undefined, 'pallet: DBURL is set in the app environment (deploy.env, deploy.env_file); deploy.backup.url_env names the variable that holds the database URL\n'],
    ['mysql://u:p@db/x', 'pallet: DBURL is not a postgres:// or postgresql:// URL\n'],
  ])('%s is refused before any client runs', (url, stderr) => {
    const r = connect(url);
    expect({ code: r.code, env: r.env, stderr: r.stderr }).toEqual({ code: 2, env: {}, stderr });
  });
});

test('the contract\'s order: DB_DEFAULT_URL when set, else DATABASE_URL; neither set names both', () => {
  const run = (env: Record<string, string>) => spawnSync('sh', ['-c', CONNECT, 'pallet-db-backup', 'DB_DEFAULT_URL DATABASE_URL', 'sh', '-c', 'echo "$PGDATABASE"'], { env: { PATH: process.env.PATH, ...env }, encoding: 'utf8' });
  expect(run({ DB_DEFAULT_URL: 'postgres://u@h/primary', DATABASE_URL: 'postgres://u@h/other' }).stdout).toBe('primary\n');
  expect(run({ DATABASE_URL: 'postgres://u@h/other' }).stdout).toBe('other\n');
  expect(run({}).stderr).toBe('pallet: none of DB_DEFAULT_URL DATABASE_URL is set in the app environment (deploy.env, deploy.env_file); deploy.backup.url_env names the variable that holds the database URL\n');
});

describe('command builders (whole argv)', () => {
  const spec = { app: 'shop', image: 'postgres:17', urlEnv: ['DB_DEFAULT_URL', 'DATABASE_URL'], envFiles: ['/var/lib/pallet/shop/env/build-8.env', '/etc/pallet/shop.env'] };

  test('backupArgv: the script, its data as arguments, and the client container', () => {
    const argv = backupArgv({ ...spec, id: '20261203T181500Z-build-8', keep: 7, meta: 'app=shop\ntag=build-8' });
    expect(argv.slice(0, 2)).toEqual(['sh', '-c']);
    expect(argv.slice(3)).toEqual([
      'pallet-db-backup', '/var/lib/pallet/shop/backups', '20261203T181500Z-build-8', '7', 'app=shop\ntag=build-8',
      '--name', 'shop-db-backup', '--label', 'pallet.app=shop', '--label', 'pallet.role=db-backup',
      '--env-file', '/var/lib/pallet/shop/env/build-8.env', '--env-file', '/etc/pallet/shop.env',
      '--entrypoint', 'sh', 'postgres:17', '-c', CONNECT, 'pallet-db-backup', 'DB_DEFAULT_URL DATABASE_URL', ...PG_DUMP,
    ]);
  });

  test('restoreArgv: stdin open for the archive, pg_restore in one transaction', () => {
    expect(restoreArgv({ ...spec, id: '20261203T181500Z-build-8' }).slice(3)).toEqual([
      'pallet-db-restore', '/var/lib/pallet/shop/backups', '20261203T181500Z-build-8', 'shop',
      '-i', '--name', 'shop-db-restore', '--label', 'pallet.app=shop', '--label', 'pallet.role=db-restore',
      '--env-file', '/var/lib/pallet/shop/env/build-8.env', '--env-file', '/etc/pallet/shop.env',
      '--entrypoint', 'sh', 'postgres:17', '-c', CONNECT, 'pallet-db-restore', 'DB_DEFAULT_URL DATABASE_URL',
      'pg_restore', '--clean', '--if-exists', '--no-owner', '--no-privileges', '--single-transaction', '--exit-on-error', '--no-password', '--dbname=postgres:///',
    ]);
  });

  test('ids, meta and parsers', () => {
    expect(backupId(new Date('2026-12-03T18:15:00.123Z'), 'build-8')).toBe('20261203T181500Z-build-8');
    expect(BACKUP_ID.test('20261203T181500Z-build-8')).toBe(true);
    for (const bad of ['../x', '20261203T181500Z-', '20261203T181500Z-a/b', 'build-8']) expect(BACKUP_ID.test(bad)).toBe(false);
    expect(backupMeta({ app: 'shop', actor: 'oc\tto\n' })).toBe('app=shop\nactor=oc to ');
    expect(parseBackup('PRUNED 20261201T000000Z-build-6\nBACKUP 20261203T181500Z-build-8 4096 120\n')).toEqual({ id: '20261203T181500Z-build-8', size: 4096, ms: 120, pruned: ['20261201T000000Z-build-6'] });
    expect(backupId(new Date('2026-12-03T18:15:00Z'), 'manual')).toBe('20261203T181500Z-manual');
    expect(() => parseBackup('')).toThrow('unexpected backup output: (none)');
    expect(parseBackups('b\t10\tapp=shop\ttag=build-2\na\t5\n')).toEqual([{ id: 'b', size: 10, meta: { app: 'shop', tag: 'build-2' } }, { id: 'a', size: 5, meta: {} }]);
    expect(listBackupsArgv('shop').slice(3)).toEqual(['pallet-db-backups', '/var/lib/pallet/shop/backups']);
    expect(readBackupArgv('shop', 'x').slice(3)).toEqual(['pallet-db-read', '/var/lib/pallet/shop/backups', 'x']);
  });

  test('a dump failure says what to do about the usual causes', () => {
    expect(explainDumpFailure('pg_dump: error: aborting because of server version mismatch', B)).toMatch(/deploy\.backup\.image must be a client of the server's major version or newer/);
    expect(explainDumpFailure('connection to server at "db" failed: Connection refused', B)).toMatch(/the database in DB_DEFAULT_URL or DATABASE_URL cannot be reached from the host: a container name resolves only on its own Docker network/);
    expect(explainDumpFailure('FATAL:  password authentication failed for user "app"', B)).toMatch(/check the user and password in DB_DEFAULT_URL or DATABASE_URL; characters like @ : \/ % # \? in the password must be percent-encoded/);
  });
});

describe('the host scripts in a real sh, with docker played by a stub', () => {
  let dir: string;
  let bin: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'pallet-backup-'));
    bin = path.join(dir, 'bin');
    mkdirSync(bin);
    // docker run ... : DUMP_OUT decides what "pg_dump" writes; restore reads stdin into restored.
    writeFileSync(path.join(bin, 'docker'), `#!/bin/sh
case "$*" in *pg_restore*) cat > "$STUB/restored"; exit "\${RESTORE_EXIT:-0}";; esac
printf '%s' "$DUMP_OUT"; [ -n "$DUMP_ERR" ] && echo "$DUMP_ERR" >&2; exit "\${DUMP_EXIT:-0}"
`);
    chmodSync(path.join(bin, 'docker'), 0o755);
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));
  const sh = (argv: string[], env: Record<string, string> = {}) => {
    // The scripts use /var/lib/pallet/APP/backups; here the state root is the temp dir.
    const fixed = argv.map((a) => a.replace('/var/lib/pallet', path.join(dir, 'state')));
    const r = spawnSync(fixed[0], fixed.slice(1), { env: { PATH: `${bin}:${process.env.PATH}`, STUB: dir, DUMP_OUT: '', DUMP_ERR: '', ...env }, encoding: 'utf8' });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
  };
  const spec = (id: string) => ({ app: 'shop', image: 'pg', urlEnv: ['DATABASE_URL'], envFiles: [], id, keep: 2, meta: 'app=shop\ntag=build-1' });
  const backups = () => path.join(dir, 'state/shop/backups');

  test('a dump lands 0600 in a 0700 directory with its meta; the newest `keep` stay', () => {
    for (const [i, id] of ['20261201T000000Z-build-1', '20261202T000000Z-build-2', '20261203T000000Z-build-3'].entries()) {
      const r = sh(backupArgv(spec(id)), { DUMP_OUT: `PGDMP-archive-${i}` });
      expect({ code: r.code, stdout: r.stdout.replace(/ \d+\n$/, ' MS\n') }).toEqual({ code: 0, stdout: `${i === 2 ? 'PRUNED 20261201T000000Z-build-1\n' : ''}BACKUP ${id} ${'PGDMP-archive-0'.length} MS\n` });
    }
    expect(readdirSync(backups()).sort()).toEqual(['20261202T000000Z-build-2.dump', '20261202T000000Z-build-2.meta', '20261203T000000Z-build-3.dump', '20261203T000000Z-build-3.meta']);
    // Backups taken by hand keep their own `keep`: they never push out the deploys' ones, nor the reverse.
    for (const id of ['20261204T000000Z-manual', '20261205T000000Z-manual', '20261206T000000Z-manual']) {
      const r = sh(backupArgv(spec(id)), { DUMP_OUT: 'PGDMP-manual' });
      expect(r.code).toBe(0);
    }
    const last = sh(backupArgv(spec('20261207T000000Z-build-4')), { DUMP_OUT: 'PGDMP-4' });
    expect(last.stdout).toMatch(/^PRUNED 20261202T000000Z-build-2\nBACKUP 20261207T000000Z-build-4 7 \d+\n$/);
    expect(readdirSync(backups()).filter((f) => f.endsWith('.dump')).sort()).toEqual(['20261203T000000Z-build-3.dump', '20261205T000000Z-manual.dump', '20261206T000000Z-manual.dump', '20261207T000000Z-build-4.dump']);
    expect((statSync(backups()).mode & 0o777).toString(8)).toBe('700');
    expect((statSync(path.join(backups(), '20261203T000000Z-build-3.dump')).mode & 0o777).toString(8)).toBe('600');
    expect(readFileSync(path.join(backups(), '20261203T000000Z-build-3.meta'), 'utf8')).toMatch(/^app=shop\ntag=build-1\nsize=15\nms=\d+\n$/);
    const list = sh(listBackupsArgv('shop'));
    expect(parseBackups(list.stdout).map((e) => e.id)).toEqual(['20261207T000000Z-build-4', '20261206T000000Z-manual', '20261205T000000Z-manual', '20261203T000000Z-build-3']);
  });

  test('a failed or empty dump leaves nothing: exit 3 with the client\'s error, exit 4 for what is not an archive', () => {
    const failed = sh(backupArgv(spec('20261201T000000Z-build-1')), { DUMP_EXIT: '1', DUMP_ERR: 'pg_dump: error: connection refused' });
    expect({ code: failed.code, stderr: failed.stderr }).toEqual({ code: 3, stderr: 'pg_dump: error: connection refused\n' });
    const empty = sh(backupArgv(spec('20261201T000000Z-build-1')));
    expect({ code: empty.code, stderr: empty.stderr }).toEqual({ code: 4, stderr: 'the dump is not a pg_dump custom-format archive (0 bytes): \n' });
    expect(readdirSync(backups())).toEqual([]);
  });

  test('restore: the archive on stdin; another app\'s backup and a missing one are refused', () => {
    sh(backupArgv(spec('20261201T000000Z-build-1')), { DUMP_OUT: 'PGDMP-1' });
    const r = sh(restoreArgv({ ...spec('20261201T000000Z-build-1') }));
    expect({ code: r.code, stdout: r.stdout, restored: readFileSync(path.join(dir, 'restored'), 'utf8') }).toEqual({ code: 0, stdout: 'RESTORED\n', restored: 'PGDMP-1' });
    mkdirSync(path.join(dir, 'state/blog/backups'), { recursive: true });
    writeFileSync(path.join(dir, 'state/blog/backups/20261109T000000Z-b.dump'), 'PGDMP');
    expect(sh(restoreArgv({ ...spec('20261109T000000Z-b') }))).toEqual({ code: 5, stdout: 'OTHER-APP blog\n', stderr: '' });
    expect(sh(restoreArgv({ ...spec('20261110T000000Z-none') }))).toEqual({ code: 6, stdout: 'NO-BACKUP\n', stderr: '' });
    // A file moved into this app's directory still names its app in its meta.
    writeFileSync(path.join(backups(), '20261109T000000Z-b.dump'), 'PGDMP');
    writeFileSync(path.join(backups(), '20261109T000000Z-b.meta'), 'app=blog\n');
    expect(sh(restoreArgv({ ...spec('20261109T000000Z-b') }))).toEqual({ code: 5, stdout: 'OTHER-APP blog\n', stderr: '' });
    const failed = sh(restoreArgv({ ...spec('20261201T000000Z-build-1') }), { RESTORE_EXIT: '1' });
    expect(failed.code).toBe(3);
    expect(existsSync(path.join(backups(), '20261201T000000Z-build-1.dump'))).toBe(true);
  });
});

describe('a deploy with deploy.backup over fake hosts', () => {
  const IMAGE = 'reg.test/shop';
  let dir: string;
  beforeAll(() => { dir = mkdtempSync(path.join(os.tmpdir(), 'pallet-backup-engine-')); });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const config = (extra = '  backup: { keep: 2, image: reg.test/pg:17 }\n') => {
    const file = path.join(dir, 'pallet.yml');
    writeFileSync(file, `app: shop\nimage: ${IMAGE}\ndeploy:\n  ssh: { user: deploy }\n  env_file: /etc/pallet/shop.env\n  proxy: false\n  roles:\n    web: { hosts: [a, b], health: { timeout: 2 }, stop_timeout: 1 }\n${extra}`);
    return loadConfig(file);
  };
  const deploy = (f: FakeFleet, tag: string, mode: 'deploy' | 'rollback' = 'deploy', extra?: string) => executeDeploy({
    mode, config: config(extra), tag, runTasks: false, ssh: { insecure: true }, lockTimeout: 0, breakLock: false,
    ledger: new CleanupLedger(), env: { GITHUB_RUN_ID: '7', GITHUB_ACTOR: 'octo' }, signal: new AbortController().signal, connect: f.connect,
  });
  const fleet = () => {
    const f = new FakeFleet();
    for (const t of ['build-1', 'build-2', 'build-3']) f.push(IMAGE, t);
    f.push('reg.test/pg', '17');
    return f;
  };

  test('the dump runs on the task host after the pull and before the first task, with the target release\'s env file; keep applies', async () => {
    const f = fleet();
    const r1 = await deploy(f, 'build-1');
    expect({ ok: r1.ok, backup: r1.backup?.id }).toEqual({ ok: true, backup: expect.stringMatching(/^\d{8}T\d{6}Z-build-1$/) });
    const trace = f.trace;
    expect(trace.indexOf('a docker pull end')).toBeLessThan(trace.indexOf('a db-backup start'));
    expect(trace.indexOf('a db-backup end')).toBeLessThan(trace.indexOf('a docker run --rm start'));
    expect(f.host('b').log).not.toContain('db-backup');
    const made = f.host('a').backups.get('/var/lib/pallet/shop/backups')!;
    expect(made[0].client).toContain('/etc/pallet/shop.env');
    expect(made[0].client.slice(made[0].client.indexOf('--entrypoint'), made[0].client.indexOf('--entrypoint') + 3)).toEqual(['--entrypoint', 'sh', 'reg.test/pg:17']);
    expect(f.host('a').state('shop', 'audit.log')).toMatch(new RegExp(`\\tbackup\\t${r1.backup!.id}\\tsuccess 2048 bytes in 15 ms\\trun=7\\.1`));
    await deploy(f, 'build-2');
    await deploy(f, 'build-3');
    expect(f.host('a').backups.get('/var/lib/pallet/shop/backups')!.map((b) => b.id.replace(/^\d{8}T\d{6}Z-/, ''))).toEqual(['build-2', 'build-3']);
  });

  test('a failed dump stops the deploy in the tasks phase: no task ran, no host restarted, TAG unchanged', async () => {
    const f = fleet();
    await deploy(f, 'build-1');
    f.host('a').databaseDown = true;
    const r = await deploy(f, 'build-2');
    expect({ ok: r.ok, phase: r.phase, host: r.failedHost, step: r.failedStep }).toEqual({ ok: false, phase: 'tasks', host: 'a', step: 'backup' });
    expect(r.error).toMatch(/Connection refused \(the database in DB_DEFAULT_URL or DATABASE_URL cannot be reached from the host/);
    for (const h of ['a', 'b']) expect(f.host(h).state('shop', 'TAG')).toBe('build-1');
    expect(f.host('a').log.filter((n) => n === 'docker run --rm')).toHaveLength(1);
    expect(f.host('a').state('shop', 'audit.log')).toMatch(/\tbackup\t\S+-build-2\tfailed: exit 3: pg_dump: error: connection to server at "db" \(10\.0\.0\.9\), port 5432 failed: Connection refused/);
  });

  test('a rollback without run-tasks takes no backup; the client image that cannot be pulled stops the deploy before anything changed', async () => {
    const f = fleet();
    await deploy(f, 'build-1');
    await deploy(f, 'build-2');
    const back = await deploy(f, 'build-1', 'rollback');
    expect({ ok: back.ok, backup: back.backup }).toEqual({ ok: true, backup: undefined });
    const r = await deploy(f, 'build-3', 'deploy', '  backup: { image: reg.test/missing:17 }\n');
    expect({ ok: r.ok, phase: r.phase, step: r.failedStep }).toEqual({ ok: false, phase: 'pull', step: 'pull of the backup client image reg.test/missing:17' });
    expect(f.host('a').state('shop', 'TAG')).toBe('build-1');
  });
});
