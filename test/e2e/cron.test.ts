// deploy.cron against the real lab: the hosts' own cron daemon (Debian's) runs the jobs the
// deploy wrote, a minute at a time, in one-off containers of the example app. The waits are on
// what the product writes (the audit line of a finished or skipped run), bounded, and say what
// they saw. Jobs (all every minute, so every wait is at most a little over a minute):
//   stamp  writes a note "cron VERSION" into the app's PostgreSQL (on two hosts)
//   slow   sleeps 80 s: the next minute's run must be skipped, never run beside it
//   broken prints a line and exits 3
// Tests run in order; each starts from the state the previous one left.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { describeLab } from '../helpers/lab.js';
import { runCli } from '../helpers/entry.js';
import type { CronJobConfig, PalletConfig } from '../../src/config/types.js';
import { DeployFixture, sleep } from './deploy-fixture.js';

const APP = 'e2ecron';
const py = (code: string) => ['shell', '-c', code];
const STAMP = py("import os; from notes.models import Note; Note.objects.create(text='cron ' + os.environ['APP_VERSION'])");
const SLOW = py('import time; time.sleep(80)');
const BROKEN = py("import sys; print('broken on purpose: the import failed'); sys.exit(3)");

describeLab('scheduled jobs from the hosts\' cron (lab)', () => {
  const fx = new DeployFixture(APP);
  const [h1, h2] = fx.addresses;
  const dir = mkdtempSync('/tmp/pcr-');
  const jobs = (names: string[]): Record<string, CronJobConfig> => {
    const all: Record<string, CronJobConfig> = {
      stamp: { schedule: '* * * * *', command: STAMP, hosts: [h1, h2], timezone: 'UTC' },
      slow: { schedule: '* * * * *', command: SLOW, hosts: [h1], timezone: 'Europe/Berlin' },
      broken: { schedule: '* * * * *', command: BROKEN, hosts: [h1], timezone: 'UTC' },
    };
    return Object.fromEntries(names.map((n) => [n, all[n]]));
  };
  const config = (names: string[]): PalletConfig => {
    const c = fx.config({ workers: [], web: [h1, h2] });
    return { ...c, deploy: { ...c.deploy!, cron: jobs(names) } };
  };
  /** audit.log lines of the app on a host that match `re`. */
  const audit = async (address: string, re: RegExp) => (await fx.ssh(address, `cat /var/lib/pallet/${APP}/audit.log 2>/dev/null; true`)).split('\n').filter((l) => re.test(l));
  /**
   * Waits until a host's audit log has a line matching `re` that was not there at `since` (its
   * count), at most 150 s (a cron minute and a run); fails saying what the log and crontab held.
   */
  const awaitAudit = async (address: string, re: RegExp, since: number): Promise<string> => {
    for (let i = 0; i < 150; i++) {
      const lines = await audit(address, re);
      if (lines.length > since) return lines[lines.length - 1];
      await sleep(1000);
    }
    const seen = await fx.ssh(address, `tail -n 8 /var/lib/pallet/${APP}/audit.log; crontab -l; ls -R /var/lib/pallet/${APP}/cron | head -30; true`);
    throw new Error(`no audit line matching ${re} on ${address} within 150 s; the host holds:\n${seen}`);
  };
  const notes = async () => (await fx.ssh(h1, `curl -s http://127.0.0.1:8000/notes/`));
  const cli = async (args: string[]) => {
    const r = await runCli([...args, '--ssh-private-key-file', fx.lab.ssh.privateKeyPath, '--ssh-known-hosts-file', fx.lab.ssh.knownHostsPath], { cwd: dir, env: { USER: 'e2e-cron', RUNNER_TEMP: dir } });
    return { code: r.code, out: r.stdout, all: r.output };
  };
  const writeConfig = (cron: Record<string, unknown>) => writeFileSync(path.join(dir, 'pallet.yml'), YAML.stringify({
    app: APP, image: fx.repo,
    deploy: { ssh: { user: 'root' }, env_file: '/etc/pallet/example.env', proxy: false, roles: { web: { hosts: [h1, h2] } }, cron },
  }));

  /** The CLI's pallet.yml: the same jobs as the in-process deploys. */
  const goodConfig = () => writeConfig({ stamp: { schedule: '* * * * *', command: STAMP, hosts: [h1, h2] }, slow: { schedule: '* * * * *', command: SLOW, hosts: [h1], timezone: 'Europe/Berlin' }, broken: { schedule: '* * * * *', command: BROKEN, hosts: [h1] } });

  beforeAll(async () => {
    await fx.setup(['v1', 'v2']);
  }, 900_000);

  afterAll(async () => {
    // The crontab line goes first (then no tick starts anything), then the app's containers and state.
    for (const a of fx.addresses) await fx.ssh(a, `c=$(crontab -l 2>/dev/null | grep -v ' # pallet-cron ${APP}$'); if [ -n "$c" ]; then printf '%s\\n' "$c" | crontab -; else crontab -r 2>/dev/null; fi; true`).catch(() => undefined);
    await fx.teardown();
    rmSync(dir, { recursive: true, force: true });
  }, 300_000);

  test('an invalid schedule is refused at load, naming the job and the field; no host is touched', async () => {
    writeConfig({ stamp: { schedule: '61 * * * *', command: STAMP } });
    const before = await fx.ssh(h1, `ls /var/lib/pallet/${APP} 2>/dev/null; crontab -l 2>/dev/null | grep -c 'pallet-cron ${APP}'; true`);
    const r = await cli(['deploy', '--tag', fx.tags.v1]);
    expect(r.code).toBe(1);
    expect(r.all).toMatch(/pallet\.yml:\d+:\d+ deploy\.cron\.stamp\.schedule: minute field '61': Constraint error, got value 61 expected range 0-59/);
    expect(await fx.ssh(h1, `ls /var/lib/pallet/${APP} 2>/dev/null; crontab -l 2>/dev/null | grep -c 'pallet-cron ${APP}'; true`)).toBe(before);
  });

  test('after a deploy the jobs run from cron with that release; a slow run makes the next one skip; a failing one shows its exit code and output', async () => {
    goodConfig();
    const r = await fx.deploy('deploy', { tag: fx.tags.v1, config: config(['stamp', 'slow', 'broken']) });
    expect(r.error).toBeUndefined();
    expect(r.result?.exitCode).toBe(0);
    expect(r.lines.join('\n')).toMatch(/cron: (broken|slow|stamp) \(/);
    const v1 = new RegExp(`\\tcron\\t${APP}\\tcron\\tstamp@${fx.tags.v1}\\texit 0 `);
    // Both hosts of the job run it, each from its own cron.
    await Promise.all([h1, h2].map((a) => awaitAudit(a, v1, 0)));
    expect(await notes()).toContain(`cron ${fx.tags.v1}`);

    // The slow run started a minute ago still runs: this minute's is skipped, with one container.
    const skipped = await awaitAudit(h1, new RegExp(`\\tcron\\tslow@${fx.tags.v1}\\tskipped: the run that started \\S+ still runs\\t`), 0);
    expect(skipped).toBeTruthy();
    const slowContainers = (await fx.ssh(h1, `docker ps -q --filter label=pallet.app=${APP} --filter label=pallet.cron=slow`)).split('\n').filter(Boolean);
    expect(slowContainers.length).toBeLessThanOrEqual(1);
    const started = (await audit(h1, /\tcron\tslow@/)).filter((l) => /\texit \d+ /.test(l));
    expect(started.length).toBeLessThanOrEqual(1);

    await awaitAudit(h1, /\tcron\tbroken@\S+\texit 3 /, 0);
    const status = await cli(['cron', 'status', '--host', h1]);
    expect({ code: status.code, out: status.all }).toMatchObject({ code: 0 });
    expect(status.all).toMatch(new RegExp(`broken\\s+\\* \\* \\* \\* \\* \\(UTC\\)\\s+\\S+\\s+\\S+ \\(${fx.tags.v1}\\)\\s+3\\s`));
    expect(status.all).toContain('broken on purpose: the import failed');
    expect(status.all).toMatch(/slow .*\(Europe\/Berlin\)/);
    const json = await cli(['cron', 'status', '--json']);
    const rows = JSON.parse(json.out).jobs as { host: string; job: string; last?: { exit: number } }[];
    expect(rows.filter((x) => x.job === 'stamp').map((x) => x.host).sort()).toEqual([h1, h2].sort());
    const logs = await cli(['logs', '--cron', 'broken']);
    expect(logs.code).toBe(0);
    expect(logs.out).toMatch(new RegExp(`^--- the last run: started \\S+Z \\(${fx.tags.v1}\\), exit 3 after \\d+ ms ---\\nbroken on purpose: the import failed\\n`));
  });

  test('after a deploy the next runs write the new version; after a rollback, the old one', async () => {
    const r = await fx.deploy('deploy', { tag: fx.tags.v2, config: config(['stamp', 'slow', 'broken']) });
    expect(r.result?.exitCode).toBe(0);
    await awaitAudit(h1, new RegExp(`\\tcron\\tstamp@${fx.tags.v2}\\texit 0 `), 0);
    expect(await notes()).toContain(`cron ${fx.tags.v2}`);

    const back = await fx.deploy('rollback', { config: config(['stamp', 'slow', 'broken']) });
    expect(back.result?.exitCode).toBe(0);
    const v1Runs = (await audit(h1, new RegExp(`\\tcron\\tstamp@${fx.tags.v1}\\texit 0 `))).length;
    await awaitAudit(h1, new RegExp(`\\tcron\\tstamp@${fx.tags.v1}\\texit 0 `), v1Runs);
  });

  test('jobs deleted from pallet.yml no longer run on any host after the next deploy', async () => {
    const r = await fx.deploy('deploy', { tag: fx.tags.v2, config: config(['stamp']) });
    expect(r.result?.exitCode).toBe(0);
    const count = async (a: string, job: string) => (await audit(a, new RegExp(`\\tcron\\t${job}@`))).length;
    const before = { slow: await count(h1, 'slow'), broken: await count(h1, 'broken') };
    // Two ticks after the deploy (stamp ran twice more on h1, once more on h2): the others did not.
    const stamps = (await audit(h1, /\tcron\tstamp@/)).length;
    await awaitAudit(h1, /\tcron\tstamp@/, stamps);
    await awaitAudit(h1, /\tcron\tstamp@/, stamps + 1);
    expect(await count(h1, 'broken')).toBe(before.broken);
    // A slow run that started before the deploy may still finish (its exit is recorded); no new one starts.
    expect(await count(h1, 'slow')).toBeLessThanOrEqual(before.slow + 1);
    expect((await fx.ssh(h1, `ls /var/lib/pallet/${APP}/cron/jobs/`)).split('\n').filter(Boolean)).toEqual(['stamp']);

    // And with no job left, the crontab line goes with that deploy (the host's other lines stay).
    await fx.ssh(h2, 'c=$(crontab -l 2>/dev/null); printf "%s\\n" "$c" "17 4 * * * true # the host\'s own" | grep -v "^$" | crontab -');
    expect((await fx.deploy('deploy', { tag: fx.tags.v2, config: config([]) })).result?.exitCode).toBe(0);
    for (const a of [h1, h2]) expect((await fx.ssh(a, `crontab -l 2>/dev/null | grep -c 'pallet-cron ${APP}'; true`)).trim()).toBe('0');
    expect(await fx.ssh(h2, 'crontab -l')).toContain("17 4 * * * true # the host's own");
    await fx.ssh(h2, `crontab -l | grep -v "# the host's own" | crontab -`);
  });
});
