// Secrets kept: a push and a deploy run through the action entry the way the runner runs it,
// with a registry password, an ssh private key and a GitHub token. While they run, the hosts'
// process lists (`ps -eo args`) and the local /proc/*/cmdline of ssh/docker children are polled
// (bounded). Afterwards: the raw log (before the runner's masking: the ::add-mask:: commands are
// the only place allowed to hold a value), the job summary, the outputs, the polled process
// lists and the hosts' audit logs must not contain any secret, nor its base64.
import Docker from 'dockerode';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { describeLab, readLab } from '../helpers/lab.js';
import { sampleProcesses } from '../helpers/processes.js';
import { runLikeRunner, type RunnerResult } from '../helpers/runner.js';
import { DeployFixture } from './deploy-fixture.js';
import { ACTION_COMMAND } from '../helpers/entry.js';

const ACTION = ACTION_COMMAND;

/** Every form of a secret we look for: the value, each long line of it, and their base64. */
function needles(secrets: string[]): string[] {
  const out = new Set<string>();
  for (const s of secrets) {
    for (const v of [s.trim(), ...s.split('\n').map((l) => l.trim()).filter((l) => l.length >= 16 && !/^-----/.test(l))]) {
      out.add(v);
      out.add(Buffer.from(v).toString('base64'));
    }
  }
  return [...out];
}

function found(text: string, secrets: string[]): string[] {
  return needles(secrets).filter((n) => text.includes(n)).map((n) => n.slice(0, 12) + '…');
}

/** The log as the runner receives it, minus the ::add-mask:: commands the runner consumes. */
const visibleLog = (r: RunnerResult) => (r.stdout + '\n' + r.stderr).split('\n').filter((l) => !l.startsWith('::add-mask::')).join('\n');

describeLab('secrets found', () => {
  const lab = readLab();
  const fx = new DeployFixture();
  const docker = new Docker();
  const run = randomBytes(3).toString('hex');
  const app = `hardening-sec-${run}`;
  const repo = `${lab.registry.address}/hardening/secrets`;
  const tag = `sec-${run}`;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pallet-secrets-'));
  const privateKey = readFileSync(lab.ssh.privateKeyPath, 'utf8');
  const githubToken = `ghp_HardeningDistinctToken${run}XyZ`;
  const SECRETS = [lab.registry.password, privateKey, githubToken];
  const hostPs: string[] = [];
  const localCmdlines: string[] = [];
  let push: RunnerResult;
  let deploy: RunnerResult;
  let audit = '';

  const inputs = (command: string) => ({
    command, config: path.join(dir, 'pallet.yml'), tag,
    'registry-username': lab.registry.username, 'registry-password': lab.registry.password,
    'ssh-private-key': privateKey, 'ssh-known-hosts': readFileSync(lab.ssh.knownHostsPath, 'utf8'), 'github-token': githubToken,
  });

  const pollProcesses = (until: Promise<unknown>) =>
    sampleProcesses(until, { addresses: fx.addresses, hostPs: (a) => fx.ssh(a, 'ps -eo args') }, { hostPs, localCmdlines }, 600);

  beforeAll(async () => {
    // A small image to push: the lab base image under this run's repo and tag.
    await docker.getImage(lab.images.base).tag({ repo, tag });
    writeFileSync(path.join(dir, 'pallet.yml'), [
      `app: ${app}`, `image: ${repo}`,
      'deploy:', '  ssh: { user: root }', '  proxy: false', '  require_tested: false', '  roles:', '    web:', `      hosts: [${fx.addresses.map((a) => `"${a}"`).join(', ')}]`,
      '      command: sleep 3600', '      port: 8000', '      health: { path: /health/, timeout: 5 }', '',
    ].join('\n'));
    // The deploy's preflight checks the app's env file on every host (default /etc/pallet/APP.env).
    for (const a of fx.addresses) await fx.ssh(a, `mkdir -p /etc/pallet && echo ROLE=web > /etc/pallet/${app}.env && chmod 600 /etc/pallet/${app}.env`);
    const env = { GITHUB_REPOSITORY: 'hardening/secrets', GITHUB_RUN_ID: `9${Date.now() % 1e6}`, GITHUB_API_URL: 'http://127.0.0.1:9' };
    const p1 = runLikeRunner('', { command: ACTION, cwd: dir, inputs: inputs('push'), env });
    await pollProcesses(p1);
    push = await p1;
    const p2 = runLikeRunner('', { command: ACTION, cwd: dir, inputs: inputs('deploy'), env });
    await pollProcesses(p2);
    deploy = await p2;
    audit = (await Promise.all(fx.addresses.map((a) => fx.ssh(a, `cat /var/lib/pallet/${app}/audit.log 2>/dev/null; true`)))).join('\n');
  }, 600_000);

  afterAll(async () => {
    for (const a of fx.addresses) {
      await fx.ssh(a, `ids=$(docker ps -aq --filter label=pallet.app=${app}); [ -z "$ids" ] || docker rm -f $ids >/dev/null; rm -rf /var/lib/pallet/${app} /etc/pallet/${app}.env; docker image rm ${repo}:${tag} >/dev/null 2>&1; true`).catch(() => undefined);
    }
    await docker.getImage(`${repo}:${tag}`).remove().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
    rmSync(fx.runnerTemp, { recursive: true, force: true });
  });

  test('the push and the deploy really used the secrets (else this proves nothing)', () => {
    expect({ code: push.code, log: push.code === 0 ? '' : visibleLog(push) }).toEqual({ code: 0, log: '' });
    expect(push.outputs.digest).toMatch(/^sha256:/);
    // The deploy logged the hosts in (password) over ssh (key) and pulled: it ran the whole way.
    expect(deploy.stdout).toMatch(/Pulling|pull/);
    expect(visibleLog(deploy)).toMatch(/deploy (succeeded|failed)|failed|succeeded/);
    expect(hostPs.length).toBeGreaterThan(3);
    expect(audit).toContain(app);
    // The runner would mask these: each secret was registered before anything printed.
    for (const r of [push, deploy]) expect(r.stdout).toContain(`::add-mask::${lab.registry.password}`);
  });

  test('the action logs (raw, before masking) hold no secret', () => {
    expect(found(visibleLog(push), SECRETS)).toEqual([]);
    expect(found(visibleLog(deploy), SECRETS)).toEqual([]);
  });

  test('the job summaries and the step outputs hold no secret', () => {
    expect(push.summary.length + deploy.summary.length).toBeGreaterThan(0);
    expect(found(push.summary + deploy.summary, SECRETS)).toEqual([]);
    expect(found(JSON.stringify([push.outputs, deploy.outputs, push.state, deploy.state]), SECRETS)).toEqual([]);
  });

  test("the hosts' process lists polled during the deploy hold no secret", () => {
    expect(found(hostPs.join('\n'), SECRETS)).toEqual([]);
  });

  test('local ssh/docker/node command lines polled during both runs hold no secret', () => {
    expect(localCmdlines.some((c) => /\bssh\b/.test(c))).toBe(true);
    expect(found(localCmdlines.join('\n'), SECRETS)).toEqual([]);
  });

  test("the hosts' audit logs hold no secret", () => {
    expect(found(audit, SECRETS)).toEqual([]);
  });
});
