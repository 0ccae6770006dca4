// Bad input is refused before anything happens. Every case in test/fixtures/bad-input/cases.ts
// runs as a real process (the action the way the runner runs it, or the `pallet` CLI) with
// DOCKER_HOST at a socket that does not exist and the config's only host on a local listener that
// counts connections: the case must exit 1 with a message naming the field, print no Docker or SSH
// connection error, and the listener must see nothing. Cases whose command uses Docker are run a
// second time against the real engine, counting containers labelled with this run's app name.
import Docker from 'dockerode';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import pLimit from 'p-limit';
import { describeLab, readLab, REPO_ROOT } from '../helpers/lab.js';
import { runLikeRunner } from '../helpers/runner.js';
import { BAD_INPUT_CASES, type BadInputCase } from '../fixtures/bad-input/cases.js';
import { ACTION_COMMAND, runCli } from '../helpers/entry.js';
import { pushToLab } from '../helpers/lab-registry.js';

const NO_DOCKER = 'unix:///nonexistent.sock';
// What the output would show had the product tried Docker or SSH (or crashed).
const CONTACT = /nonexistent\.sock|ECONNREFUSED|connect to host|Connection refused|kex_exchange|Connection closed by|Permission denied \(publickey|Host key verification failed|unexpected error|docker engine/i;
const USES_DOCKER = new Set(['build', 'test', 'push', 'ci']);

interface Outcome { code: number | null; output: string }

class Fixture {
  readonly root = mkdtempSync(path.join(os.tmpdir(), 'pallet-badinput-'));
  readonly app = `hxbad-${randomBytes(3).toString('hex')}`;
  readonly server = net.createServer((s) => { this.connections++; s.destroy(); });
  connections = 0;
  port = 0;
  key = '';
  known = '';

  async start(): Promise<void> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.port = (this.server.address() as net.AddressInfo).port;
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'badinput', '-f', path.join(this.root, 'id')]);
    this.key = readFileSync(path.join(this.root, 'id'), 'utf8');
    const pub = readFileSync(path.join(this.root, 'id.pub'), 'utf8').trim().split(' ').slice(0, 2).join(' ');
    this.known = `[127.0.0.1]:${this.port} ${pub}`;
    const base = `app: ${this.app}\nimage: 127.0.0.1:5000/hardening/${this.app}\n`;
    mkdirSync(path.join(this.root, 'deploy'));
    mkdirSync(path.join(this.root, 'nodeploy'));
    writeFileSync(path.join(this.root, 'deploy/pallet.yml'), `${base}deploy:\n  roles:\n    web:\n      hosts: ["root@127.0.0.1:${this.port}"]\n`);
    writeFileSync(path.join(this.root, 'nodeploy/pallet.yml'), base);
  }

  async stop(): Promise<void> {
    await new Promise((r) => this.server.close(r));
    rmSync(this.root, { recursive: true, force: true });
  }

  fill(s: string, dir: string): string {
    return s.replaceAll('{deploy}', path.join(this.root, 'deploy/pallet.yml')).replaceAll('{nodeploy}', path.join(this.root, 'nodeploy/pallet.yml'))
      .replaceAll('{dir}', dir).replaceAll('{keyfile}', path.join(this.root, 'id')).replaceAll('{key}', this.key).replaceAll('{known}', this.known);
  }

  async run(c: BadInputCase, dockerHost: string | undefined): Promise<Outcome> {
    const dir = mkdtempSync(path.join(this.root, `${c.id}-`));
    const env: Record<string, string> = Object.fromEntries(Object.entries(c.env ?? {}).map(([k, v]) => [k, this.fill(v, dir)]));
    if (dockerHost) env.DOCKER_HOST = dockerHost;
    if (c.via === 'action') {
      const inputs = Object.fromEntries(Object.entries(c.inputs ?? {}).map(([k, v]) => [k, this.fill(v, dir)]));
      const r = await runLikeRunner('', { inputs, env, cwd: dir, command: ACTION_COMMAND });
      // The runner consumes ::add-mask:: lines; they are not part of the log anyone sees.
      const output = (r.stdout + r.stderr).split('\n').filter((l) => !l.startsWith('::add-mask::')).join('\n').replace(/%0A/g, '\n').replace(/%0D/g, '\r').replace(/%25/g, '%');
      return { code: r.code, output };
    }
    const args = (c.args ?? []).map((a) => this.fill(a, dir));
    const { code, output } = await runCli(args, { cwd: dir, env, timeoutMs: 60_000 });
    return { code, output };
  }
}

function commandOf(c: BadInputCase): string {
  return c.via === 'cli' ? (c.args?.[0] ?? '') : (c.inputs?.command ?? '');
}

async function countLabelled(docker: Docker, app: string): Promise<number> {
  const filters = JSON.stringify({ label: [`pallet.app=${app}`] });
  const [containers, networks, volumes] = await Promise.all([
    docker.listContainers({ all: true, filters }), docker.listNetworks({ filters }), docker.listVolumes({ filters }),
  ]);
  return containers.length + networks.length + (volumes.Volumes?.length ?? 0);
}

describeLab('bad input refused', () => {
  const fx = new Fixture();
  const docker = new Docker();
  const results = new Map<string, Outcome>();
  const realEngine = new Map<string, Outcome>();
  let before = 0;
  let after = 0;

  beforeAll(async () => {
    await fx.start();
    before = await countLabelled(docker, fx.app);
    const limit = pLimit(3);
    await Promise.all(BAD_INPUT_CASES.map((c) => limit(async () => results.set(c.id, await fx.run(c, NO_DOCKER)))));
    // The same Docker-using cases against the real engine: nothing may appear there either.
    await Promise.all(BAD_INPUT_CASES.filter((c) => USES_DOCKER.has(commandOf(c))).map((c) => limit(async () => realEngine.set(c.id, await fx.run(c, undefined)))));
    after = await countLabelled(docker, fx.app);
  }, 600_000);

  afterAll(async () => {
    await fx.stop();
  });

  test('the corpus has at least 40 cases across action inputs and CLI flags, plus the pallet.yml corpus', () => {
    expect(BAD_INPUT_CASES.length).toBeGreaterThanOrEqual(40);
    expect(new Set(BAD_INPUT_CASES.map((c) => c.id)).size).toBe(BAD_INPUT_CASES.length);
    expect(BAD_INPUT_CASES.filter((c) => c.via === 'action').length).toBeGreaterThanOrEqual(15);
    expect(BAD_INPUT_CASES.filter((c) => c.via === 'cli').length).toBeGreaterThanOrEqual(15);
    expect(readdirSync(path.join(REPO_ROOT, 'test/fixtures/config/bad')).filter((f) => f.endsWith('.yml')).length).toBeGreaterThanOrEqual(100);
  });

  test.each(BAD_INPUT_CASES.map((c) => [c.id, c] as const))('%s: exit 1, field named, no container, no host contacted', (_id, c) => {
    const r = results.get(c.id)!;
    const shown = `${c.id} output:\n${r.output}`;
    expect({ shown, code: r.code }).toEqual({ shown, code: 1 });
    if (typeof c.expect === 'string') expect(r.output).toContain(c.expect);
    else expect(r.output).toMatch(c.expect);
    expect(r.output).not.toMatch(CONTACT);
    for (const f of c.forbid ?? []) expect(r.output).not.toContain(f);
    const real = realEngine.get(c.id);
    if (real) {
      expect(real.code).toBe(1);
      expect(real.output).not.toMatch(CONTACT);
    }
  });

  test('nothing reached the host listener and no container, network or volume of this app exists on the real engine', () => {
    expect(fx.connections).toBe(0);
    expect(realEngine.size).toBeGreaterThanOrEqual(10);
    expect({ before, after }).toEqual({ before: 0, after: 0 });
  });

  test('controls: a valid deploy does reach the listener, and a valid test run does report the missing engine', async () => {
    // Without these, "no connection error" and "0 connections" could be true of a harness that sees nothing.
    // A deploy resolves its tag on the registry before any host: the control's image is in the lab's.
    const lab = readLab();
    const repo = `${lab.registry.address}/hardening/badinput-control`;
    await pushToLab(docker, lab, lab.images.base, repo, 'v1');
    const control = path.join(fx.root, 'control.yml');
    writeFileSync(control, readFileSync(path.join(fx.root, 'deploy/pallet.yml'), 'utf8').replace(/^image: .*$/m, `image: ${repo}`));
    const deploy = await fx.run({ id: 'control-deploy', field: '-', via: 'action', expect: '', inputs: {
      command: 'deploy', config: control, tag: 'v1', 'allow-untested': 'true', 'registry-username': lab.registry.username, 'registry-password': lab.registry.password,
      'ssh-private-key': '{key}', 'ssh-known-hosts': '{known}',
    } }, NO_DOCKER);
    await docker.getImage(`${repo}:v1`).remove().catch(() => undefined);
    expect(deploy.code).toBe(1);
    expect(fx.connections).toBeGreaterThan(0);
    const test = await fx.run({ id: 'control-test', field: '-', via: 'cli', expect: '', args: ['test', '--config', '{nodeploy}'] }, NO_DOCKER);
    expect(test.code).toBe(1);
    expect(test.output).toMatch(CONTACT);
  });
});
