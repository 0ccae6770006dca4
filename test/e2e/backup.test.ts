// deploy.backup and `pallet db` against the real lab: three hosts behind their proxies (Caddy), the
// lab's PostgreSQL 15 with a password full of shell-special characters, and pg_dump/pg_restore
// from the lab's PostgreSQL image pushed to the lab registry as the client image.
// - a release whose migration drops a column holding data; `pallet db restore` brings the rows
//   back and the previous release serves them;
// - the database unreachable at backup time: the deploy stops before the tasks, nothing changes;
// - the password appears in no argv (runner or host, read while pg_dump waits on a lock the test
//   holds), log, summary or audit line.
import http from 'node:http';
import { spawn, execFileSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { describeLab } from '../helpers/lab.js';
import { runCli, type CliRun } from '../helpers/entry.js';
import { pushToLab } from '../helpers/lab-registry.js';
import type { PalletConfig, ProxyConfig } from '../../src/config/types.js';
import { DeployFixture, sleep } from './deploy-fixture.js';

const APP = 'e2ebackup';
const HOST = 'backup.test';
// Every character a shell, a URL or a quoting bug could trip on (no newline: initdb's pwfile is one line).
const PASSWORD = `p'a"s$(id)\`;&|\\ %x!*#?`;
const EXAMPLE = path.resolve('examples/django-app');

/** The example app with the slug column dropped: the model loses it and a migration removes it. */
function withoutSlug(): Record<string, string> {
  const models = readFileSync(path.join(EXAMPLE, 'notes/models.py'), 'utf8');
  const edited = models
    .replace(/ {4}# Filled from the text[^\n]*\n {4}slug = models\.SlugField\([^\n]*\n/, '')
    .replace(/ {4}def save\(self, \*args, \*\*kwargs\):\n(?: {8}[^\n]*\n)+\n/, '')
    .replace(/ {12}"slug": self\.slug,\n/, '');
  if (/\bslug\b/.test(edited)) throw new Error(`the example's notes/models.py changed: the test cannot drop slug from it:\n${edited}`);
  return {
    'notes/models.py': edited,
    'notes/migrations/0002_remove_note_slug.py': `from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("notes", "0001_initial")]
    operations = [migrations.RemoveField(model_name="note", name="slug")]
`,
  };
}

/** Fails with the command's whole output unless it exited 0. */
function succeeded(r: CliRun): void {
  if (r.code !== 0) throw new Error(`exit ${r.code}:\n${r.output}`);
}

interface Got { status: number; body: string; version?: string }

function request(base: string, method: string, p: string, body?: string): Promise<Got> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${base}${p}`, { method, agent: false, headers: { Host: HOST, Connection: 'close', ...(body ? { 'Content-Type': 'application/json' } : {}) }, timeout: 10_000 }, (res) => {
      let b = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { b += d; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: b, version: res.headers['x-app-version'] as string | undefined }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${p}: no answer within 10 s`)));
    req.on('error', reject);
    req.end(body);
  });
}

describeLab('deploy.backup and pallet db against the lab PostgreSQL', () => {
  const fx = new DeployFixture(APP, { envFile: `/etc/pallet/${APP}.env`, repository: `pallet-e2e/${APP}`, dbPassword: PASSWORD });
  const dir = mkdtempSync('/tmp/pbk-');
  const hostUrl = (i: number) => `http://${fx.lab.hosts[i].ip}:80`;
  let clientImage = '';
  const encoded = encodeURIComponent(PASSWORD);
  const config = (): PalletConfig => {
    const proxy: ProxyConfig = { hosts: [HOST], tls: 'off', image: fx.lab.images.proxy!, drain_timeout: 1, trusted_proxies: ['private_ranges'] };
    const c = fx.config({ workers: [], proxy });
    return { ...c, deploy: { ...c.deploy!, backup: { keep: 3, image: clientImage, url_env: ['DATABASE_URL'] } } };
  };
  const cliOutputs: string[] = [];
  const cli = async (args: string[]): Promise<CliRun> => {
    const r = await runCli([...args, '--ssh-private-key-file', fx.lab.ssh.privateKeyPath, '--ssh-known-hosts-file', fx.lab.ssh.knownHostsPath],
      { cwd: dir, env: { USER: 'e2e-backup', RUNNER_TEMP: dir } });
    cliOutputs.push(r.output);
    return r;
  };
  const psql = (sql: string) => execFileSync('docker', ['exec', fx.pgId, 'psql', '-U', 'app', '-d', 'app', '-At', '-c', sql], { encoding: 'utf8', timeout: 30_000 }).trim();
  const columns = () => psql("SELECT string_agg(column_name, ',' ORDER BY column_name) FROM information_schema.columns WHERE table_name = 'notes_note'");
  const backupsOnHost = async () => (await fx.ssh(fx.addresses[0], `ls -1a /var/lib/pallet/${APP}/backups 2>/dev/null; true`)).split('\n').filter((l) => l && l !== '.' && l !== '..');
  const deployLines: string[] = [];

  beforeAll(async () => {
    if (!fx.lab.images.proxy) throw new Error('the lab has no proxy image: run `npm run lab:up` again');
    await fx.setup(['v1', 'v2'], { ALLOWED_HOSTS: HOST }, (v) => (v === 'v2' ? withoutSlug() : {}));
    clientImage = `${fx.lab.registry.address}/pallet-e2e/pg-client:15`;
    await pushToLab(fx.docker, fx.lab, fx.lab.images.postgres, `${fx.lab.registry.address}/pallet-e2e/pg-client`, '15');
    writeFileSync(path.join(dir, 'pallet.yml'), YAML.stringify({
      app: APP, image: fx.repo,
      deploy: {
        ssh: { user: 'root' }, env_file: fx.envFile, roles: { web: { hosts: fx.addresses } },
        proxy: { hosts: [HOST], tls: 'off', image: fx.lab.images.proxy }, backup: { keep: 3, image: clientImage },
      },
    }));
    const r = await fx.deploy('deploy', { tag: fx.tags.v1, config: config() });
    deployLines.push(...r.lines);
    if (r.result?.exitCode !== 0) throw new Error(`the first deploy failed: ${r.lines.slice(-15).join('\n')}`);
  }, 900_000);

  afterAll(async () => {
    const removed = await cli(['remove', '--yes', '--delete-data']).catch((e: unknown) => ({ code: -1, output: String(e) }));
    if (removed.code !== 0) console.log(`pallet remove: ${removed.output}`);
    await fx.ssh(fx.addresses[0], 'rm -rf /var/lib/pallet/e2ebackup-other').catch(() => undefined);
    await fx.teardown();
    rmSync(dir, { recursive: true, force: true });
  }, 300_000);

  test('the first deploy took a backup before its tasks, though the database was empty', async () => {
    expect(deployLines.join('\n')).toMatch(new RegExp(`backup \\d{8}T\\d{6}Z-${fx.tags.v1} \\(`));
    const files = await backupsOnHost();
    expect(files.filter((f) => f.endsWith('.dump'))).toHaveLength(1);
    expect(files.filter((f) => f.startsWith('.'))).toEqual([]);
    const mode = (await fx.ssh(fx.addresses[0], `stat -c '%a' /var/lib/pallet/${APP}/backups /var/lib/pallet/${APP}/backups/*.dump`)).trim().split('\n');
    expect(mode).toEqual(['700', '600']);
  });

  test('a password with shell-special characters: the dump works and the password is in no process list, log, summary or audit line', async () => {
    // pg_dump waits for a lock the test holds, so both process lists are read while it runs.
    psql('CREATE TABLE IF NOT EXISTS pallet_e2e_gate (id int)');
    const gate: ChildProcessWithoutNullStreams = spawn('docker', ['exec', '-i', fx.pgId, 'psql', '-U', 'app', '-d', 'app', '-v', 'ON_ERROR_STOP=1']);
    let gateOut = '';
    gate.stdout.on('data', (d: Buffer) => { gateOut += d; });
    gate.stderr.on('data', (d: Buffer) => { gateOut += d; });
    gate.stdin.write("BEGIN;\nLOCK TABLE pallet_e2e_gate IN ACCESS EXCLUSIVE MODE;\nSELECT 'gate-locked';\n");
    try {
      for (let i = 0; !gateOut.includes('gate-locked'); i++) {
        if (i > 150) throw new Error(`the test's lock was not taken within 30 s: ${gateOut}`);
        await sleep(200);
      }
      const backup = cli(['db', 'backup']);
      let waiting = '';
      for (let i = 0; !waiting; i++) {
        waiting = psql("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND application_name = 'pg_dump'") === '1' ? 'yes' : '';
        if (i > 300) throw new Error(`pg_dump never waited on the test's lock within 60 s; sessions: ${psql('SELECT application_name, state, wait_event_type FROM pg_stat_activity')}`);
        if (!waiting) await sleep(200);
      }
      const hostPs = await fx.ssh(fx.addresses[0], 'ps -eo args');
      const runnerPs = execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8' });
      expect(hostPs).toContain('pg_dump --format=custom');
      for (const ps of [hostPs, runnerPs]) {
        expect(ps.includes(PASSWORD) || ps.includes(encoded)).toBe(false);
      }
      gate.stdin.end('COMMIT;\n');
      const r = await backup;
      succeeded(r);
    } finally {
      if (!gate.stdin.writableEnded) gate.stdin.end('ROLLBACK;\n');
      await new Promise((res) => (gate.exitCode !== null ? res(undefined) : gate.on('close', res)));
    }
    const list = await cli(['db', 'backups', '--json']);
    expect(list.code).toBe(0);
    const { backups } = JSON.parse(list.stdout) as { backups: { id: string; size: number; meta: Record<string, string> }[] };
    expect(backups).toHaveLength(2);
    expect(backups[0].meta).toMatchObject({ app: APP, tag: fx.tags.v1, actor: 'e2e-backup' });
    expect(backups[0].size).toBeGreaterThan(100);

    const audit = (await fx.view(fx.addresses[0])).audit.join('\n');
    expect(audit).toMatch(new RegExp(`\\tbackup\\t${backups[0].id}\\tsuccess \\d+ bytes in \\d+ ms\\t`));
    // The CLI prints its summary tables; the in-process deploys' summaries are in fx.logs.
    const everything = [audit, ...cliOutputs, ...fx.logs].join('\n');
    expect(everything.includes(PASSWORD) || everything.includes(encoded)).toBe(false);
  }, 180_000);

  test('a release whose migration drops a column holding data: db restore brings the data back and the previous release serves it', async () => {
    const made = await request(hostUrl(0), 'POST', '/notes/', JSON.stringify({ text: 'Keep this note safe' }));
    expect(made.status).toBe(201);
    const slug = (JSON.parse(made.body) as { slug: string }).slug;
    expect(slug).toBe('keep-this-note-safe');

    const v2 = await fx.deploy('deploy', { tag: fx.tags.v2, config: config() });
    expect({ code: v2.result?.exitCode, tail: v2.lines.slice(-8) }).toMatchObject({ code: 0 });
    const taken = v2.report!.backup!;
    expect(taken.id).toMatch(new RegExp(`^\\d{8}T\\d{6}Z-${fx.tags.v2}$`));
    expect(columns()).toBe('created,id,text');

    const list = JSON.parse((await cli(['db', 'backups', '--json'])).stdout) as { backups: { id: string; meta: Record<string, string> }[] };
    expect(list.backups[0]).toMatchObject({ id: taken.id, meta: { tag: fx.tags.v2, previous: fx.tags.v1 } });

    // Without --yes (and no terminal): refused, nothing changed.
    const refused = await cli(['db', 'restore', taken.id]);
    expect({ code: refused.code, output: refused.output }).toMatchObject({ code: 1, output: expect.stringContaining('run it again with --yes to confirm') });
    expect(columns()).toBe('created,id,text');

    // A backup of another app on the same host is refused, naming that app.
    await fx.ssh(fx.addresses[0], `mkdir -p /var/lib/pallet/e2ebackup-other/backups && printf 'PGDMP' > /var/lib/pallet/e2ebackup-other/backups/20260101T000000Z-x.dump`);
    const other = await cli(['db', 'restore', '20260101T000000Z-x', '--yes']);
    expect({ code: other.code, output: other.output }).toMatchObject({ code: 1, output: expect.stringContaining('belongs to app e2ebackup-other') });

    const restored = await cli(['db', 'restore', taken.id, '--yes']);
    expect({ code: restored.code, output: restored.output }).toMatchObject({ code: 0, output: expect.stringContaining(`pallet rollback --tag ${fx.tags.v1}`) });
    expect(columns()).toBe('created,id,slug,text');
    expect(psql("SELECT slug FROM notes_note WHERE text = 'Keep this note safe'")).toBe('keep-this-note-safe');
    expect((await fx.view(fx.addresses[0])).audit.join('\n')).toMatch(new RegExp(`\\trestore\\t${taken.id}\\tsuccess in \\d+ ms\\t`));

    const back = await cli(['rollback', '--tag', fx.tags.v1]);
    succeeded(back);
    for (const i of [0, 1, 2]) {
      expect((await request(hostUrl(i), 'GET', '/')).version).toBe(fx.tags.v1);
      const g = await request(hostUrl(i), 'GET', '/notes/');
      expect(g.status).toBe(200);
      expect((JSON.parse(g.body) as { notes: { text: string; slug: string }[] }).notes).toContainEqual(expect.objectContaining({ text: 'Keep this note safe', slug: 'keep-this-note-safe' }));
    }

    // The archive can be fetched to the runner, byte for byte, 0600.
    const out = path.join(dir, 'fetched.dump');
    const dl = await cli(['db', 'download', taken.id, '--output', out]);
    succeeded(dl);
    const remoteSize = Number((await fx.ssh(fx.addresses[0], `wc -c < /var/lib/pallet/${APP}/backups/${taken.id}.dump`)).trim());
    expect({ size: statSync(out).size, mode: (statSync(out).mode & 0o777).toString(8), magic: readFileSync(out).subarray(0, 5).toString() })
      .toEqual({ size: remoteSize, mode: '600', magic: 'PGDMP' });
  }, 600_000);

  test('the database unreachable at backup time: the deploy stops before the tasks and every host still runs the old release', async () => {
    const before = await fx.views();
    const dumps = (await backupsOnHost()).filter((f) => f.endsWith('.dump'));
    // Port 1 of the database's address: nothing listens there. The file travels on stdin (it holds the password).
    const envFile = await fx.ssh(fx.addresses[0], `cat ${fx.envFile}`);
    const unreachable = envFile.replace(/^DATABASE_URL=(.*):5432\//m, 'DATABASE_URL=$1:1/');
    expect(unreachable).not.toBe(envFile);
    await fx.ssh(fx.addresses[0], `cat > ${fx.envFile}`, unreachable);
    try {
      const r = await fx.deploy('deploy', { tag: fx.tags.v2, config: config() });
      expect(r.result?.exitCode).toBe(1);
      expect(r.report!.phase).toBe('tasks');
      expect(r.lines.join('\n')).toMatch(/backup failed on .*cannot be reached from the host.* no host was restarted; every host still runs its previous tag/);
      expect(r.lines.join('\n')).not.toMatch(/task 'deploy' done/);
    } finally {
      await fx.ssh(fx.addresses[0], `cat > ${fx.envFile}`, envFile);
    }
    const after = await fx.views();
    expect(after.map((v) => ({ tag: v.tag, lock: v.lock, ids: v.containers.filter((c) => c.running).map((c) => c.id).sort() })))
      .toEqual(before.map((v) => ({ tag: v.tag, lock: false, ids: v.containers.filter((c) => c.running).map((c) => c.id).sort() })));
    expect(after.map((v) => v.tag)).toEqual([fx.tags.v1, fx.tags.v1, fx.tags.v1]);
    expect(columns()).toBe('created,id,slug,text');
    expect((await backupsOnHost()).filter((f) => f.endsWith('.dump'))).toEqual(dumps);
    expect((await backupsOnHost()).filter((f) => f.startsWith('.'))).toEqual([]);
    expect((await fx.view(fx.addresses[0])).audit.join('\n')).toMatch(/\tbackup\t\S+\tfailed: exit 3: .*Connection refused/);
  }, 300_000);
});
