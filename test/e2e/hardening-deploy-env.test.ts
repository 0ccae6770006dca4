// deploy.env on the lab: the example app deployed with its settings in pallet.yml (clear) and its
// secrets mapped from the workflow into the step's environment, with no env file written on any
// host by hand. Run through the action entry the way the runner runs it, the hosts' process
// lists and local ssh/docker command lines polled meanwhile (as in hardening-secrets). Then: the
// app got its secret, the file is 0600 on every host, and no secret is in the raw log, summary,
// outputs, process lists or audit log. An unset or multi-line secret is refused before any host
// is contacted. A rollback starts the earlier release with the env it ran with; `exec` gets it too.
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describeLab } from '../helpers/lab.js';
import { sampleProcesses } from '../helpers/processes.js';
import { runLikeRunner, type RunnerResult } from '../helpers/runner.js';
import { DeployFixture } from './deploy-fixture.js';
import type { PalletConfig } from '../../src/config/types.js';
import { ACTION_COMMAND } from '../helpers/entry.js';

const ACTION = ACTION_COMMAND;

/** Every form of a secret we look for: the value and its base64. */
function found(text: string, secrets: string[]): string[] {
  const needles = secrets.flatMap((s) => [s, Buffer.from(s).toString('base64')]);
  return needles.filter((n) => text.includes(n)).map((n) => n.slice(0, 10) + '…');
}

const visibleLog = (r: RunnerResult) => (r.stdout + '\n' + r.stderr).split('\n').filter((l) => !l.startsWith('::add-mask::')).join('\n');
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

describeLab('deploy.env: secrets from the workflow', () => {
  const run = randomBytes(3).toString('hex');
  const fx = new DeployFixture(`hardening-env-${run}`);
  const app = fx.app;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pallet-deploy-env-'));
  // Shell metacharacters, quotes and spaces: it must arrive byte for byte, and never be run.
  const secretKey = `sk-${run}-Zq9 $(touch /tmp/pwned-${run}) "q" 'x' ;|& end`;
  const secondKey = `sk2-${run}-Rt7 second value`;
  const privateKey = readFileSync(fx.lab.ssh.privateKeyPath, 'utf8');
  const githubToken = `ghp_DeployEnvDistinctToken${run}XyZ`;
  const hostPs: string[] = [];
  const localCmdlines: string[] = [];
  let secrets: string[] = [];
  let deploy: RunnerResult;
  let audit = '';

  const inputs = (command: string) => ({
    command, config: path.join(dir, 'pallet.yml'), tag: fx.tags.v1,
    'registry-username': fx.lab.registry.username, 'registry-password': fx.lab.registry.password,
    'ssh-private-key': privateKey, 'ssh-known-hosts': readFileSync(fx.lab.ssh.knownHostsPath, 'utf8'), 'github-token': githubToken,
  });
  const runnerEnv = (over: Record<string, string>) => ({ GITHUB_REPOSITORY: 'hardening/deploy-env', GITHUB_RUN_ID: `8${Date.now() % 1e6}`, GITHUB_API_URL: 'http://127.0.0.1:9', ...over });

  const pollProcesses = (until: Promise<unknown>) =>
    sampleProcesses(until, { addresses: fx.addresses, hostPs: (a) => fx.ssh(a, 'ps -eo args') }, { hostPs, localCmdlines }, 1200);

  /** sha256 of settings.SECRET_KEY as Django sees it in the host's web container (the value never leaves the container). */
  const appSecretHash = (address: string) => fx.ssh(address, `docker exec ${app}-web python3 -c "import hashlib, os, django; os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'example.settings'); django.setup(); from django.conf import settings; print(hashlib.sha256(settings.SECRET_KEY.encode()).hexdigest())"`).then((s) => s.trim());

  const config = (): PalletConfig => {
    const c = fx.config({ web: fx.addresses, workers: [] });
    const roles = { web: c.deploy!.roles.web };
    return { ...c, deploy: { ...c.deploy!, roles, env_file: `/etc/pallet/${app}.env`, env: { clear: { ALLOWED_HOSTS: '*', ENVIRONMENT: 'production', WEB_CONCURRENCY: '2', GRACEFUL_TIMEOUT: '3' }, secret: ['SECRET_KEY', 'DATABASE_URL'] } } };
  };

  beforeAll(async () => {
    await fx.setup(['v1', 'v2']);
    secrets = [fx.lab.registry.password, githubToken, secretKey, secondKey, fx.dbUrl];
    for (const a of fx.addresses) await fx.ssh(a, `rm -f /etc/pallet/${app}.env`);
    writeFileSync(path.join(dir, 'pallet.yml'), [
      `app: ${app}`, `image: ${fx.repo}`,
      'deploy:', '  ssh: { user: root }', '  proxy: false', '  require_tested: false',
      '  env:',
      '    clear: { ALLOWED_HOSTS: "*", ENVIRONMENT: production, WEB_CONCURRENCY: 2, GRACEFUL_TIMEOUT: 3 }',
      '    secret: [SECRET_KEY, DATABASE_URL]',
      '  roles:', '    web:', `      hosts: [${fx.addresses.map((a) => `"${a}"`).join(', ')}]`,
      '      command: serve', '      port: 8000', '      stop_timeout: 5', '      health: { path: /health/, timeout: 30 }', '',
    ].join('\n'));
    const p = runLikeRunner('', { command: ACTION, cwd: dir, inputs: inputs('deploy'), env: runnerEnv({ SECRET_KEY: secretKey, DATABASE_URL: fx.dbUrl }) });
    await pollProcesses(p);
    deploy = await p;
    audit = (await Promise.all(fx.addresses.map((a) => fx.ssh(a, `cat /var/lib/pallet/${app}/audit.log 2>/dev/null; true`)))).join('\n');
  }, 900_000);

  afterAll(async () => {
    await fx.teardown();
    rmSync(dir, { recursive: true, force: true });
  });

  test('deployed with deploy.env only: no env file on any host but the one the deploy wrote', async () => {
    expect({ code: deploy.code, log: deploy.code === 0 ? '' : visibleLog(deploy).slice(-3000) }).toEqual({ code: 0, log: '' });
    expect(deploy.stdout).toMatch(/deploy\.env only \(no host env file\)/);
    for (const v of await fx.views()) {
      expect(v.tag).toBe(fx.tags.v1);
      expect(v.containers.map((c) => [c.name, c.tag, c.running])).toEqual([[`${app}-web`, fx.tags.v1, true]]);
    }
    for (const a of fx.addresses) {
      expect((await fx.ssh(a, `ls /etc/pallet/${app}.env 2>&1; true`)).trim()).toMatch(/No such file/);
      // 0600, in a 0700 directory, no temporary file beside it.
      expect((await fx.ssh(a, `cd /var/lib/pallet/${app}/env && stat -c '%a %n' . * .[!.]* 2>/dev/null; true`)).trim().split('\n').sort())
        .toEqual(['600 ' + `${fx.tags.v1}.env`, '700 .']);
    }
  });

  test('the secret reached the app (Django settings) and the migrations (database from deploy.env)', async () => {
    for (const a of fx.addresses) expect(await appSecretHash(a)).toBe(sha256(secretKey));
    expect(deploy.stdout).toMatch(/task 'deploy' done/);
    // Nothing the value held was run by a shell anywhere.
    for (const a of fx.addresses) expect((await fx.ssh(a, `ls /tmp/pwned-${run} 2>&1; true`)).trim()).toMatch(/No such file/);
  });

  test('each secret was masked before anything printed', () => {
    for (const s of [secretKey, fx.dbUrl]) expect(deploy.stdout).toContain(`::add-mask::${s}`);
  });

  test('the action log (raw, before masking) holds no secret', () => {
    expect(found(visibleLog(deploy), secrets)).toEqual([]);
  });

  test('the job summary and the step outputs hold no secret', () => {
    expect(deploy.summary.length).toBeGreaterThan(0);
    expect(found(deploy.summary + JSON.stringify([deploy.outputs, deploy.state]), secrets)).toEqual([]);
  });

  test("the hosts' process lists polled during the deploy hold no secret", () => {
    expect(hostPs.length).toBeGreaterThan(3);
    expect(hostPs.join('\n')).toContain('--env-file');
    expect(found(hostPs.join('\n'), secrets)).toEqual([]);
  });

  test('local ssh/docker/node command lines polled during the deploy hold no secret', () => {
    expect(localCmdlines.some((c) => /\bssh\b/.test(c))).toBe(true);
    expect(found(localCmdlines.join('\n'), secrets)).toEqual([]);
  });

  test("the hosts' audit logs hold no secret", () => {
    expect(audit).toContain(app);
    expect(found(audit, secrets)).toEqual([]);
  });

  test.each([
    ['unset', {}, /deploy\.env\.secret: SECRET_KEY is not set in the environment of this step/],
    ['empty (a GitHub secret that does not exist)', { SECRET_KEY: '' }, /deploy\.env\.secret: SECRET_KEY is not set/],
    ['holding a newline', { SECRET_KEY: `line-one-${run}\nline-two-${run}` }, /deploy\.env\.secret SECRET_KEY: the value holds a line break or NUL, which docker's --env-file cannot carry/],
  ])('refused: a secret %s, naming it, before any host is contacted (hosts unchanged)', async (_n, env, message) => {
    const before = await fx.views();
    const r = await runLikeRunner('', { command: ACTION, cwd: dir, inputs: { ...inputs('deploy'), tag: fx.tags.v2 }, env: runnerEnv({ DATABASE_URL: fx.dbUrl, ...env }) });
    const log = visibleLog(r);
    expect(r.code).toBe(1);
    expect(log).toMatch(message);
    if (/not set/.test(String(message))) expect(log).toContain('SECRET_KEY: ${{ secrets.SECRET_KEY }}');
    expect(log).not.toMatch(/Preflight|lock taken/);
    expect(found(log + r.summary, [...secrets, `line-one-${run}`, `line-two-${run}`])).toEqual([]);
    expect(await fx.views()).toEqual(before);
  }, 120_000);

  test('a rollback starts the earlier release with the env it ran with, not the one deployed since', async () => {
    const next = await fx.deploy('deploy', { tag: fx.tags.v2, config: config(), env: { SECRET_KEY: secondKey, DATABASE_URL: fx.dbUrl } });
    expect({ error: next.error?.message, ok: next.report?.ok }).toEqual({ error: undefined, ok: true });
    for (const a of fx.addresses) expect(await appSecretHash(a)).toBe(sha256(secondKey));
    const back = await fx.deploy('rollback', { config: config(), env: { SECRET_KEY: secondKey, DATABASE_URL: fx.dbUrl } });
    expect({ error: back.error?.message, ok: back.report?.ok }).toEqual({ error: undefined, ok: true });
    expect(back.lines.join('\n')).toContain(`${fx.tags.v1} starts with the env file it was deployed with`);
    for (const a of fx.addresses) {
      expect((await fx.view(a)).tag).toBe(fx.tags.v1);
      expect(await appSecretHash(a)).toBe(sha256(secretKey));
    }
    expect(found([...next.lines, ...back.lines].join('\n'), secrets)).toEqual([]);
  }, 600_000);

  test('exec (no secret in its step) runs with the release\'s env file: the app sees the secret, the log does not', async () => {
    const code = 'import hashlib, os; print("key", hashlib.sha256(os.environ["SECRET_KEY"].encode()).hexdigest(), os.environ["ALLOWED_HOSTS"])';
    const r = await runLikeRunner('', { command: ACTION, cwd: dir, inputs: { ...inputs('exec'), tag: '', args: `shell\n-c\n${code}`, 'all-hosts': 'true' }, env: runnerEnv({}) });
    const log = visibleLog(r);
    expect({ code: r.code, tail: r.code === 0 ? '' : log.slice(-2000) }).toEqual({ code: 0, tail: '' });
    expect(log.split(`key ${sha256(secretKey)} *`).length - 1).toBe(fx.addresses.length);
    expect(found(log + r.summary, secrets)).toEqual([]);
  }, 120_000);
});
