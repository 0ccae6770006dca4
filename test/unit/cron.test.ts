// deploy.cron: schedules (cron-parser, the field named), the host commands as whole argument
// vectors, the scripts run for real in sh (crontab, date and docker stubbed: the crontab is a file,
// `date` answers a fixed instant in the asked time zone, docker records its argv), the status rows,
// and the deploy over fake hosts: definitions prepared on every host, live with TAG, dropped on failure.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expandSchedule, isTimeZone, nextRuns, scheduleProblem } from '../../src/cron/schedule.js';
import { cronOutputArgv, cronStatusArgv, parseCronStatus, prepareCronArgv, unscheduleCronArgv, type HostCronJob } from '../../src/cron/commands.js';
import { cronRows, cronTable } from '../../src/cron/status.js';
import { finishArgv } from '../../src/deploy/commands.js';
import { loadConfig } from '../../src/config/load.js';
import { executeDeploy } from '../../src/deploy/index.js';
import { planDeploy } from '../../src/deploy/plan.js';
import { CleanupLedger } from '../../src/util/cleanup.js';
import { CliReporter, setReporter } from '../../src/util/reporter.js';
import { FakeFleet } from '../helpers/fake-host.js';

let out: string[];
beforeEach(() => {
  out = [];
  setReporter(new CliReporter((l) => out.push(l), (l) => out.push(l)));
});

describe('schedules', () => {
  test.each([
    ['*/15 * * * *', ''],
    ['30 3 * * MON-FRI', ''],
    ['0 9 1 JAN,JUL *', ''],
    ['61 * * * *', "minute field '61': Constraint error, got value 61 expected range 0-59"],
    ['0 24 * * *', "hour field '24': Constraint error, got value 24 expected range 0-23"],
    ['0 0 0 * *', "day of month field '0': Constraint error, got value 0 expected range 1-31"],
    ['0 0 * 13 *', "month field '13': Constraint error, got value 13 expected range 1-12"],
    ['0 0 * * 8', "day of week field '8': Constraint error, got value 8 expected range 0-7"],
    ['0 0 * * FUN', 'day of week field \'FUN\': Validation error, cannot resolve alias "fun"'],
    ['0 0 L * *', "day of month field 'L': L, W, # and ? are not standard cron; write the days out (e.g. 28-31 and a check in the job)"],
    ['* * * *', "'* * * *' has 4 fields; a schedule has five: minute hour day-of-month month day-of-week, e.g. '*/15 * * * *' or '30 3 * * MON'"],
    ['0 * * * * *', "'0 * * * * *' has 6 fields; a schedule has five: minute hour day-of-month month day-of-week, e.g. '*/15 * * * *' or '30 3 * * MON'"],
    ['@daily', "'@daily': write it as five fields (@hourly is '0 * * * *', @daily '0 0 * * *'); @reboot has no place in a release"],
  ])('%s -> %s', (schedule, problem) => {
    expect(scheduleProblem(schedule)).toBe(problem);
  });

  test('expanded for the tick: values per field, Sunday as 0, days joined by OR only when both are restricted', () => {
    expect(expandSchedule('*/20 9-11 * * 7')).toEqual({ minute: [0, 20, 40], hour: [9, 10, 11], dayOfMonth: Array.from({ length: 31 }, (_, i) => i + 1), month: Array.from({ length: 12 }, (_, i) => i + 1), dayOfWeek: [0], days: 'and' });
    expect(expandSchedule('0 0 1,15 * MON').days).toBe('or');
    expect(expandSchedule('0 0 */2 * MON').days).toBe('and');
  });

  test('time zones: IANA names only; the next run is computed in the zone (09:00 in Berlin is 08:00 UTC in winter)', () => {
    expect([isTimeZone('Europe/Berlin'), isTimeZone('UTC'), isTimeZone('Mars/Olympus'), isTimeZone('')]).toEqual([true, true, false, false]);
    expect(nextRuns('0 9 * * *', 'Europe/Berlin', new Date('2026-12-03T10:00:00Z'), 2).map((d) => d.toISOString())).toEqual(['2026-12-04T08:00:00.000Z', '2026-12-05T08:00:00.000Z']);
    expect(nextRuns('0 9 * * *', 'Europe/Berlin', new Date('2026-07-03T10:00:00Z'))[0].toISOString()).toBe('2026-07-04T07:00:00.000Z');
  });
});

const JOB: HostCronJob = {
  name: 'digest', schedule: '*/5 9 * * *', when: expandSchedule('*/5 9 * * *'), timezone: 'Europe/Berlin', image: 'reg.test/shop', envFile: '/etc/pallet/shop.env',
  options: ['-v', '/var/lib/pallet/shop/storage:/storage'], command: ['send_digest', '--since', '1 day'],
};

describe('host commands', () => {
  test('prepare: each job as positional arguments, counts before the variable-length parts', () => {
    const argv = prepareCronArgv('/var/lib/pallet/shop', 'shop', [JOB]);
    expect(argv.slice(3, 6)).toEqual(['pallet-prepare-cron', '/var/lib/pallet/shop', 'shop']);
    expect(argv.slice(8)).toEqual([
      'digest', '*/5 9 * * *', '0 5 10 15 20 25 30 35 40 45 50 55', '9', Array.from({ length: 31 }, (_, i) => i + 1).join(' '), '1 2 3 4 5 6 7 8 9 10 11 12', '0 1 2 3 4 5 6', 'and', 'Europe/Berlin',
      'reg.test/shop', '/etc/pallet/shop.env', '2', '-v', '/var/lib/pallet/shop/storage:/storage', '3', 'send_digest', '--since', '1 day',
    ]);
    expect(unscheduleCronArgv('shop').slice(3)).toEqual(['pallet-unschedule-cron', 'shop']);
  });

  test('status lines parse into jobs with their last run, a run going on, a skip and the output', () => {
    expect(parseCronStatus([
      'scheduled=1', 'tag=build-7', 'job=digest', 'digest.last.start=2026-12-03T09:05:00Z', 'digest.last.end=2026-12-03T09:05:02Z', 'digest.last.tag=build-7',
      'digest.last.exit=2', 'digest.last.ms=2150', 'digest.skipped=2026-12-03T09:10:00Z', 'digest.output=Traceback (most recent call last):', 'digest.output=ValueError: x',
      'job=report', 'report.running.start=2026-12-03T09:10:00Z', 'report.running.tag=build-7',
    ].join('\n'))).toEqual({
      scheduled: true, tag: 'build-7', jobs: [
        { name: 'digest', last: { start: '2026-12-03T09:05:00Z', end: '2026-12-03T09:05:02Z', tag: 'build-7', exit: 2, ms: 2150 }, skipped: '2026-12-03T09:10:00Z', output: ['Traceback (most recent call last):', 'ValueError: x'] },
        { name: 'report', running: { start: '2026-12-03T09:10:00Z', tag: 'build-7' }, output: [] },
      ],
    });
  });
});

describe('the scripts in a real shell', () => {
  let root: string;
  let env: NodeJS.ProcessEnv;
  const d = () => path.join(root, 'shop');
  beforeEach(() => {
    root = mkdtempSync(path.join(os.tmpdir(), 'pallet-cron-'));
    const bin = path.join(root, 'bin');
    mkdirSync(bin);
    // crontab -l / crontab - / crontab -r on a file; date at FAKE_NOW for formats; docker records argv.
    writeFileSync(path.join(bin, 'crontab'), `#!/bin/sh
f="${root}/crontab"
case "$1" in -l) [ -f "$f" ] || { echo "no crontab for tester" >&2; exit 1; }; cat "$f" ;; -) cat > "$f" ;; -r) rm -f "$f" ;; esac
`, { mode: 0o755 });
    writeFileSync(path.join(bin, 'date'), `#!/bin/sh
case "$1" in +%M*) exec /bin/date -d "@$FAKE_NOW" "$@" ;; esac
exec /bin/date "$@"
`, { mode: 0o755 });
    writeFileSync(path.join(bin, 'docker'), `#!/bin/sh
printf '%s\\n' "$@" > "${root}/docker.argv"
echo "output of the job"; [ -e "${root}/hold" ] && while [ -e "${root}/hold" ]; do sleep 0.05; done
exit "\${FAKE_RC:-0}"
`, { mode: 0o755 });
    env = { ...process.env, PATH: `${bin}:${process.env.PATH}`, FAKE_NOW: String(Date.parse('2026-12-03T08:05:00Z') / 1000) };
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  const run = (argv: string[], extra: NodeJS.ProcessEnv = {}) => {
    const args = argv.slice(4).map((a) => a.split('/var/lib/pallet/shop').join(d()));
    const r = spawnSync(argv[0], [argv[1], argv[2], argv[3], ...args], { encoding: 'utf8', env: { ...env, ...extra } });
    return { code: r.status ?? -1, out: r.stdout + r.stderr };
  };
  const crontab = () => (existsSync(path.join(root, 'crontab')) ? readFileSync(path.join(root, 'crontab'), 'utf8') : '');
  /** Waits (at most 5 s) until a run is over (`last` written, `running` gone: its audit line is written then); says what it saw otherwise. */
  const lastRun = async (job: string) => {
    const f = path.join(d(), 'cron', 'state', job, 'last');
    const over = () => existsSync(f) && !existsSync(path.join(d(), 'cron', 'state', job, 'running'));
    for (let i = 0; i < 100 && !over(); i++) await new Promise((r) => setTimeout(r, 50));
    if (!over()) throw new Error(`no ${f} after 5 s; state: ${spawnSync('ls', ['-R', path.join(d(), 'cron')], { encoding: 'utf8' }).stdout}`);
    return Object.fromEntries(readFileSync(f, 'utf8').trim().split('\n').map((l) => l.split('=')));
  };

  test('prepare, swap with TAG at finish, tick at a due minute in the job\'s zone: the job runs with the live release, recorded and audited', async () => {
    writeFileSync(path.join(root, 'crontab'), 'MAILTO=ops@example.com\n0 1 * * * /usr/local/bin/backup # pallet-cron shop2\n');
    mkdirSync(d(), { recursive: true });
    expect(run(prepareCronArgv('/var/lib/pallet/shop', 'shop', [JOB]))).toEqual({ code: 0, out: 'jobs=1\n' });
    // The user's own lines stay, and another app's (shop2) is not taken for ours.
    expect(crontab()).toBe(`MAILTO=ops@example.com\n0 1 * * * /usr/local/bin/backup # pallet-cron shop2\n* * * * * sh ${d()}/cron/tick ${d()} shop # pallet-cron shop\n`);
    run(prepareCronArgv('/var/lib/pallet/shop', 'shop', [JOB]));
    expect(crontab().match(/# pallet-cron shop$/gm)).toHaveLength(1);
    // Not live until finish writes a TAG: a failed deploy's finish drops them.
    expect(existsSync(path.join(d(), 'cron', 'jobs'))).toBe(false);
    expect(run(finishArgv('shop', '', '', 'line 1')).code).toBe(0);
    expect(existsSync(path.join(d(), 'cron', 'next'))).toBe(false);
    run(prepareCronArgv('/var/lib/pallet/shop', 'shop', [JOB]));
    expect(run(finishArgv('shop', 'build-7', '', 'line 2')).code).toBe(0);
    expect(readlinkSync(path.join(d(), 'cron', 'jobs'))).toMatch(/^jobs\.\d+$/);

    // 08:05 UTC is 09:05 in Berlin: due (*/5 9 * * *). The tick reads TAG then.
    mkdirSync(path.join(d(), 'env'));
    writeFileSync(path.join(d(), 'env', 'build-7.env'), 'A=1\n');
    const tick = readFileSync(path.join(d(), 'cron', 'tick'), 'utf8');
    expect(spawnSync('sh', ['-c', tick, 'tick', d(), 'shop'], { env }).status).toBe(0);
    const last = await lastRun('digest');
    expect({ tag: last.tag, exit: last.exit }).toEqual({ tag: 'build-7', exit: '0' });
    const argv = readFileSync(path.join(root, 'docker.argv'), 'utf8').trim().split('\n');
    expect(argv.slice(0, 2)).toEqual(['run', '--rm']);
    expect(argv.slice(4)).toEqual([
      '--label', 'pallet.app=shop', '--label', 'pallet.role=cron', '--label', 'pallet.cron=digest', '--label', 'pallet.tag=build-7',
      '--env-file', `${d()}/env/build-7.env`, '-v', `${d()}/storage:/storage`, 'reg.test/shop:build-7', 'send_digest', '--since', '1 day',
    ]);
    expect(argv[3]).toMatch(/^shop-cron-digest-\d+$/);
    expect(readFileSync(path.join(d(), 'cron', 'state', 'digest', 'output.log'), 'utf8')).toBe('output of the job\n');
    expect(readFileSync(path.join(d(), 'audit.log'), 'utf8').trim().split('\n').pop()).toMatch(/^\S+Z\tcron\tshop\tcron\tdigest@build-7\texit 0 \(\d+\.\ds\)\trun=cron$/);

    // 08:06 is not due; neither is 09:05 UTC (10:05 in Berlin).
    rmSync(path.join(d(), 'cron', 'state', 'digest', 'last'));
    for (const t of ['2026-12-03T08:06:00Z', '2026-12-03T09:05:00Z']) {
      spawnSync('sh', ['-c', tick, 'tick', d(), 'shop'], { env: { ...env, FAKE_NOW: String(Date.parse(t) / 1000) } });
    }
    await new Promise((r) => setTimeout(r, 300));
    expect(existsSync(path.join(d(), 'cron', 'state', 'digest', 'last'))).toBe(false);
  });

  test('a run while the previous one still runs is skipped and audited; a failing run keeps its exit code and output', async () => {
    mkdirSync(d(), { recursive: true });
    run(prepareCronArgv('/var/lib/pallet/shop', 'shop', [JOB]));
    run(finishArgv('shop', 'build-7', '', 'line'));
    const runner = readFileSync(path.join(d(), 'cron', 'run'), 'utf8');
    writeFileSync(path.join(root, 'hold'), '');
    const first = spawn('sh', ['-c', runner, 'run', d(), 'shop', 'digest', 'build-7'], { env, stdio: 'ignore' });
    const firstDone = new Promise<number | null>((resolve) => first.on('exit', resolve));
    // The first run is inside docker once `running` exists (bounded wait on the file it writes).
    const running = path.join(d(), 'cron', 'state', 'digest', 'running');
    for (let i = 0; i < 100 && !existsSync(running); i++) await new Promise((r) => setTimeout(r, 50));
    expect(existsSync(running)).toBe(true);
    expect(spawnSync('sh', ['-c', runner, 'run', d(), 'shop', 'digest', 'build-7'], { env }).status).toBe(0);
    expect(readFileSync(path.join(d(), 'audit.log'), 'utf8')).toMatch(/\tcron\tshop\tcron\tdigest@build-7\tskipped: the run that started \S+Z still runs\trun=cron\n$/);
    expect(existsSync(path.join(d(), 'cron', 'state', 'digest', 'skipped'))).toBe(true);
    rmSync(path.join(root, 'hold'));
    expect(await firstDone).toBe(0);
    expect((await lastRun('digest')).exit).toBe('0');

    rmSync(path.join(d(), 'cron', 'state', 'digest', 'last'));
    spawnSync('sh', ['-c', runner, 'run', d(), 'shop', 'digest', 'build-7'], { env: { ...env, FAKE_RC: '3' } });
    expect((await lastRun('digest')).exit).toBe('3');
    const status = parseCronStatus(run(cronStatusArgv('/var/lib/pallet/shop', 'shop')).out);
    expect(status.jobs[0]).toMatchObject({ name: 'digest', schedule: '*/5 9 * * *', zone: 'Europe/Berlin', last: { exit: 3, tag: 'build-7' }, output: ['output of the job'] });
    // pallet logs --cron: the last run's output after a line naming it.
    expect(run(cronOutputArgv('/var/lib/pallet/shop', 'digest')).out).toMatch(/^--- the last run: started \S+Z \(build-7\), exit 3 after \d+ ms ---\noutput of the job\n$/);
    expect(run(cronOutputArgv('/var/lib/pallet/shop', 'nosuch'))).toEqual({ code: 3, out: 'no run of nosuch on this host yet\n' });
  });

  test('a job removed from pallet.yml: the next deploy swaps in an empty set; with none left, the line goes, other lines stay', () => {
    writeFileSync(path.join(root, 'crontab'), 'MAILTO=ops@example.com\n');
    mkdirSync(d(), { recursive: true });
    run(prepareCronArgv('/var/lib/pallet/shop', 'shop', [JOB]));
    run(finishArgv('shop', 'build-7', '', 'line'));
    expect(run(prepareCronArgv('/var/lib/pallet/shop', 'shop', [])).out).toBe('jobs=0\n');
    // Until finish, the line and the jobs stay (a failed deploy would leave them as they were).
    expect(crontab()).toContain('# pallet-cron shop');
    expect(run(finishArgv('shop', 'build-8', '', 'line')).code).toBe(0);
    expect(spawnSync('ls', [path.join(d(), 'cron', 'jobs/')], { encoding: 'utf8' }).stdout).toBe('');
    expect(crontab()).toBe('MAILTO=ops@example.com\n');
    expect(run(prepareCronArgv('/var/lib/pallet/shop', 'shop', [])).out).toBe('jobs=0\n');
    // pallet remove on a host whose crontab has no line of the app.
    expect(run(unscheduleCronArgv('shop')).out).toBe('removed=0\n');
  });

  test('a host that never had jobs gets nothing written; one without cron is refused when a job would run there', () => {
    mkdirSync(d(), { recursive: true });
    expect(run(prepareCronArgv('/var/lib/pallet/shop', 'shop', []))).toEqual({ code: 0, out: 'jobs=0\n' });
    expect(existsSync(path.join(d(), 'cron'))).toBe(false);
    // A PATH with what the script needs but crontab.
    const nocron = path.join(root, 'nocron');
    mkdirSync(nocron);
    for (const tool of ['mkdir', 'rm', 'mv', 'ls', 'cat', 'awk', 'id']) {
      const at = spawnSync('sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' }).stdout.trim();
      symlinkSync(at, path.join(nocron, tool));
    }
    const argv = prepareCronArgv(d(), 'shop', [JOB]);
    const r = spawnSync('/bin/sh', argv.slice(1), { encoding: 'utf8', env: { PATH: nocron } });
    expect({ code: r.status, out: r.stdout }).toEqual({ code: 5, out: 'cron is not installed on this host (deploy.cron runs the jobs from it): apt-get install cron\n' });
  });
});

describe('pallet cron status rows', () => {
  test('a job per host: next run from pallet.yml, the last run from the host; notes for what a person must do', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'pallet-cron-cfg-'));
    try {
      writeFileSync(path.join(dir, 'pallet.yml'), 'app: shop\nimage: reg.test/shop\ndeploy:\n  roles: { web: { hosts: [a, b] } }\n  cron:\n    digest: { schedule: "0 9 * * *", command: send_digest, timezone: Europe/Berlin }\n    sweep: { schedule: "*/10 * * * *", command: [clearsessions], hosts: [a, b] }\n');
      const plan = planDeploy(loadConfig(path.join(dir, 'pallet.yml')));
      expect(plan.cron.map((j) => [j.name, j.hosts])).toEqual([['digest', ['a']], ['sweep', ['a', 'b']]]);
      const rows = cronRows(plan.cron, [
        { host: 'a', scheduled: true, tag: 'build-7', jobs: [{ name: 'digest', schedule: '0 9 * * *', zone: 'Europe/Berlin', last: { start: '2026-12-03T08:00:00Z', end: '2026-12-03T08:00:03Z', tag: 'build-7', exit: 1, ms: 3100 }, output: ['boom'] }, { name: 'old', schedule: '0 0 * * *', zone: 'UTC', output: [] }] },
        { host: 'b', scheduled: false, tag: 'build-7', jobs: [{ name: 'sweep', schedule: '*/10 * * * *', zone: 'UTC', output: [] }] },
        { host: 'c', error: 'ssh: connect refused' },
      ], new Date('2026-12-03T10:00:00Z'));
      expect(cronTable(rows)).toEqual([
        ['a', 'digest', '0 9 * * * (Europe/Berlin)', '2026-12-04T08:00:00Z', '2026-12-03T08:00:00Z (build-7)', '1', '3.1s', '-'],
        ['a', 'old', '0 0 * * * (UTC)', '2026-12-04T00:00:00Z', '-', '-', '-', 'not in pallet.yml (here): the next deploy removes it'],
        ['a', 'sweep', '*/10 * * * * (UTC)', '-', '-', '-', '-', 'not on this host yet: deploy'],
        ['b', 'sweep', '*/10 * * * * (UTC)', '2026-12-03T10:10:00Z', '-', '-', '-', "the host's crontab has no line for this app: deploy again"],
      ]);
      // A host whose job runs on a schedule pallet.yml no longer says: the host's is shown, and the change named.
      const changed = cronRows(plan.cron, [{ host: 'b', scheduled: true, tag: 'build-7', jobs: [{ name: 'sweep', schedule: '*/30 * * * *', zone: 'UTC', output: [] }] }], new Date('2026-12-03T10:00:00Z'));
      expect(cronTable(changed)).toEqual([['b', 'sweep', '*/30 * * * * (UTC)', '2026-12-03T10:30:00Z', '-', '-', '-', 'pallet.yml says */10 * * * * (UTC): the next deploy changes it']]);
      expect(rows[0].output).toEqual(['boom']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('a deploy with deploy.cron over fake hosts', () => {
  const IMAGE = 'reg.test/shop';
  let dir: string;
  beforeAll(() => { dir = mkdtempSync(path.join(os.tmpdir(), 'pallet-cron-engine-')); });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const config = (cron: string) => {
    const file = path.join(dir, 'pallet.yml');
    writeFileSync(file, `app: shop\nimage: ${IMAGE}\ndeploy:\n  ssh: { user: deploy }\n  env_file: /etc/pallet/shop.env\n  proxy: false\n  roles:\n    web: { hosts: [a, b], health: { timeout: 2 }, stop_timeout: 1 }\n${cron}`);
    return loadConfig(file);
  };
  const deploy = (f: FakeFleet, tag: string, cron: string) => executeDeploy({
    mode: 'deploy', config: config(cron), tag, runTasks: true, ssh: { insecure: true }, lockTimeout: 0, breakLock: false,
    ledger: new CleanupLedger(), env: { GITHUB_RUN_ID: '7', GITHUB_ACTOR: 'octo' }, signal: new AbortController().signal, connect: f.connect,
  });
  const jobs = (f: FakeFleet) => Object.fromEntries(['a', 'b'].map((l) => [l, f.host(l).cron.get('/var/lib/pallet/shop') ?? null]));
  const TWO = '  cron:\n    digest: { schedule: "0 9 * * *", command: send_digest }\n    sweep: { schedule: "*/10 * * * *", command: clearsessions, hosts: [a, b] }\n';

  test('every host gets its jobs in the pull phase, live with TAG at finish; a job deleted from pallet.yml is gone after the next deploy', async () => {
    const f = new FakeFleet();
    for (const t of ['build-1', 'build-2']) f.push(IMAGE, t);
    expect((await deploy(f, 'build-1', TWO)).ok).toBe(true);
    expect(jobs(f)).toEqual({ a: { jobs: ['digest', 'sweep'], scheduled: true }, b: { jobs: ['sweep'], scheduled: true } });
    const trace = f.trace;
    expect(trace.indexOf('a prepare-cron end')).toBeLessThan(trace.indexOf('a docker run --rm start'));
    expect(out.join('\n')).toMatch(/a: cron: digest \(0 9 \* \* \*, UTC\), sweep \(\*\/10 \* \* \* \*, UTC\), with the release that goes live/);
    expect((await deploy(f, 'build-2', '  cron:\n    sweep: { schedule: "*/10 * * * *", command: clearsessions }\n')).ok).toBe(true);
    // b runs no job any more: its crontab line went with that deploy.
    expect(jobs(f)).toEqual({ a: { jobs: ['sweep'], scheduled: true }, b: { jobs: [], scheduled: false } });
  });

  test('a failed deploy leaves the jobs as they were; a host without cron stops the deploy in the pull phase, nothing changed', async () => {
    const f = new FakeFleet();
    f.push(IMAGE, 'build-1');
    f.push(IMAGE, 'build-2', { health: 'crash' });
    f.push(IMAGE, 'build-3');
    await deploy(f, 'build-1', TWO);
    const r = await deploy(f, 'build-2', '');
    expect({ ok: r.ok, phase: r.phase }).toEqual({ ok: false, phase: 'rolling' });
    expect(jobs(f)).toEqual({ a: { jobs: ['digest', 'sweep'], scheduled: true }, b: { jobs: ['sweep'], scheduled: true } });
    f.host('b').noCron = true;
    const r3 = await deploy(f, 'build-3', TWO);
    expect({ ok: r3.ok, phase: r3.phase, host: r3.failedHost, step: r3.failedStep }).toEqual({ ok: false, phase: 'pull', host: 'b', step: 'cron' });
    expect(r3.error).toMatch(/cron is not installed on this host .*apt-get install cron \(see docs\/cron\.md\)/);
    expect(f.host('a').state('shop', 'TAG')).toBe('build-1');
  });
});
