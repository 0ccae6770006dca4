// Broken project trees are refused as clearly as a broken pallet.yml. Every case of
// test/fixtures/broken-trees/cases.ts is written out and run through the `pallet` CLI (`build`)
// and the action (`ci`, the way the runner runs it) against the real engine, as an unprivileged
// user in the docker group (like a GitHub runner's user; root could read the mode-000 files).
// Docker is reached through a counting proxy socket in front of the real one: each case must exit
// 1 with its message (position, key, path, what to do), no "unexpected error", no stack trace,
// and not one request may reach the engine; no container, image or network of the run's app or
// image exists afterwards. A control build of a sound tree goes through the same proxy and user.
import Docker from 'dockerode';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import pLimit from 'p-limit';
import { describeLab } from '../helpers/lab.js';
import { runLikeRunner } from '../helpers/runner.js';
import { BROKEN_TREES, type BrokenTree } from '../fixtures/broken-trees/cases.js';
import { ACTION_COMMAND, CLI_COMMAND } from '../helpers/entry.js';

const STACK = /\n\s+at \S.*(:\d+:\d+\)?|\(native\))$/m;
const UNEXPECTED = /unexpected error/i;
const ENGINE_SOCKET = '/var/run/docker.sock';

/** The uid/gid to run as: nobody, with the docker group; undefined when not root (already unprivileged). */
function unprivileged(): string[] {
  if (process.getuid?.() !== 0) return [];
  const docker = execFileSync('getent', ['group', 'docker'], { encoding: 'utf8' }).split(':')[2];
  return ['setpriv', '--reuid=65534', '--regid=65534', `--groups=${docker}`, '--'];
}

/** A unix socket in front of the engine's: forwards everything, remembers each request line. */
class CountingProxy {
  readonly requests: string[] = [];
  private server?: net.Server;
  constructor(readonly socket: string) {}

  async start(): Promise<void> {
    this.server = net.createServer((client) => {
      const engine = net.connect(ENGINE_SOCKET);
      // Every request line, also of requests that reuse a kept-alive connection.
      client.on('data', (d) => { for (const m of d.toString('latin1').matchAll(/^(?:GET|POST|PUT|DELETE|HEAD) \S+ HTTP\/1\.[01]\r?$/gm)) this.requests.push(m[0].trim()); });
      client.pipe(engine).pipe(client);
      const end = () => { client.destroy(); engine.destroy(); };
      client.on('error', end);
      engine.on('error', end);
    });
    await new Promise<void>((r) => this.server!.listen(this.socket, r));
    chmodSync(this.socket, 0o666);
  }

  async stop(): Promise<void> {
    await new Promise((r) => this.server?.close(r));
  }
}

interface Outcome { code: number | null; output: string }

class Corpus {
  readonly root = mkdtempSync(path.join(os.tmpdir(), 'pallet-broken-'));
  readonly app = `er-broken-${randomBytes(3).toString('hex')}`;
  readonly image = `127.0.0.1:5000/er/${this.app}`;
  readonly proxy = new CountingProxy(path.join(this.root, 'docker.sock'));
  readonly as = unprivileged();

  constructor() {
    chmodSync(this.root, 0o777);
  }

  /** Writes a case's tree into a fresh directory readable (and writable) by the unprivileged user. */
  write(c: Pick<BrokenTree, 'id' | 'config' | 'tree'>, via: string): string {
    const dir = path.join(this.root, `${c.id}-${via}`);
    mkdirSync(dir, { mode: 0o777 });
    writeFileSync(path.join(dir, 'pallet.yml'), c.config.replaceAll('{app}', this.app).replaceAll('{image}', this.image));
    const modes: [string, number][] = [];
    for (const [rel, entry] of Object.entries(c.tree)) {
      const abs = path.join(dir, rel);
      mkdirSync(path.dirname(abs), { recursive: true });
      if (typeof entry === 'string') writeFileSync(abs, entry);
      else if ('symlink' in entry) symlinkSync(entry.symlink, abs);
      else if ('dir' in entry) mkdirSync(abs, { recursive: true });
      else { writeFileSync(abs, entry.text); modes.push([abs, entry.mode]); }
    }
    execFileSync('chmod', ['-R', 'a+rwX', dir]);
    for (const [abs, mode] of modes) chmodSync(abs, mode);
    return dir;
  }

  env(): Record<string, string> {
    return { DOCKER_HOST: `unix://${this.proxy.socket}`, PALLET_DEFAULT_BRANCH: 'main' };
  }

  async cli(dir: string, args: string[]): Promise<Outcome> {
    const r = await runLikeRunner('', {
      cwd: dir,
      env: { ...this.env(), GITHUB_ACTIONS: '', HOME: dir },
      command: [...this.as, ...CLI_COMMAND, ...args],
    });
    return { code: r.code, output: r.stdout + r.stderr };
  }

  async action(dir: string, inputs: Record<string, string>): Promise<Outcome> {
    // The runner's file commands live where the unprivileged user may write them.
    const files = path.join(dir, '.runner');
    mkdirSync(files, { mode: 0o777 });
    const env: Record<string, string> = { ...this.env(), HOME: dir, RUNNER_TEMP: files };
    for (const f of ['GITHUB_OUTPUT', 'GITHUB_STATE', 'GITHUB_STEP_SUMMARY']) {
      env[f] = path.join(files, f.toLowerCase());
      writeFileSync(env[f], '', { mode: 0o666 });
      chmodSync(env[f], 0o666);
    }
    const r = await runLikeRunner('', {
      cwd: dir, inputs, env,
      command: [...this.as, ...ACTION_COMMAND],
    }).catch((e: Error) => ({ code: -1, stdout: '', stderr: String(e) }));
    const output = (r.stdout + r.stderr).replace(/%0A/g, '\n').replace(/%25/g, '%');
    return { code: r.code, output };
  }
}

/** Everything of this run on the engine: containers, networks, volumes by app label; images by repository. */
async function leftovers(docker: Docker, app: string, image: string): Promise<string[]> {
  const filters = JSON.stringify({ label: [`pallet.app=${app}`] });
  const [containers, networks, volumes, images] = await Promise.all([
    docker.listContainers({ all: true, filters }), docker.listNetworks({ filters }), docker.listVolumes({ filters }),
    docker.listImages({ filters: JSON.stringify({ reference: [image] }) }),
  ]);
  return [
    ...containers.map((c) => `container ${c.Id.slice(0, 12)}`), ...networks.map((n) => `network ${n.Name}`),
    ...(volumes.Volumes ?? []).map((v) => `volume ${v.Name}`), ...images.map((i) => `image ${i.RepoTags?.join(',') ?? i.Id}`),
  ];
}

describeLab('broken project trees refused', () => {
  const corpus = new Corpus();
  const docker = new Docker();
  const results = new Map<string, Outcome>();
  const requests = new Map<string, string[]>();
  let before: string[] = [];
  let after: string[] = [];

  beforeAll(async () => {
    await corpus.proxy.start();
    before = await leftovers(docker, corpus.app, corpus.image);
    const limit = pLimit(3);
    await Promise.all(BROKEN_TREES.flatMap((c) => [
      limit(async () => results.set(`${c.id} via cli`, await corpus.cli(corpus.write(c, 'cli'), ['build', '--tag', 'er-broken']))),
      limit(async () => results.set(`${c.id} via action`, await corpus.action(corpus.write(c, 'action'), { command: 'ci', tag: 'er-broken' }))),
    ]));
    requests.set('cases', [...corpus.proxy.requests]);
    after = await leftovers(docker, corpus.app, corpus.image);
    // 18 runs of tsx: about a minute on 2 idle cores, much more on a busy machine.
  }, 1_200_000);

  afterAll(async () => {
    await corpus.proxy.stop();
    // Mode-000 files: root removes them anyway.
    rmSync(corpus.root, { recursive: true, force: true });
  });

  test('the corpus covers the trees a newcomer gets wrong', () => {
    const ids = BROKEN_TREES.map((c) => c.id);
    expect(ids).toEqual(expect.arrayContaining(['no-dockerfile', 'dockerfile-configured-missing', 'dockerfile-is-a-directory', 'requirements-unreadable', 'symlink-loop', 'empty-context']));
    expect(new Set(ids).size).toBe(ids.length);
  });

  test.each(BROKEN_TREES.flatMap((c) => (['cli', 'action'] as const).map((via) => [`${c.id} via ${via}`, c] as const)))(
    '%s: exit 1, path and what to do named, no stack trace, nothing sent to the engine',
    (name, c) => {
      const r = results.get(name)!;
      const shown = `${name} output:\n${r.output}`;
      expect({ shown, code: r.code }).toEqual({ shown, code: 1 });
      expect(r.output).toMatch(c.expect);
      expect(r.output).not.toMatch(UNEXPECTED);
      expect(r.output).not.toMatch(STACK);
    },
  );

  test('no request reached the engine and no container, image, network or volume of the run exists', () => {
    expect(requests.get('cases')).toEqual([]);
    expect({ before, after }).toEqual({ before: [], after: [] });
  });

  test('control: a sound tree builds through the same proxy as the same user (the harness sees engine traffic)', async () => {
    const dir = corpus.write({ id: 'control', config: 'app: {app}\nimage: {image}\n', tree: { Dockerfile: 'FROM scratch\nCOPY app.py /app.py\n', 'app.py': 'print(1)\n' } }, 'cli');
    const seen = corpus.proxy.requests.length;
    const r = await corpus.cli(dir, ['build', '--tag', 'er-control']);
    try {
      expect({ code: r.code, output: r.output }).toEqual({ code: 0, output: expect.stringContaining(`built ${corpus.image}:er-control`) });
      expect(corpus.proxy.requests.slice(seen).some((l) => /^POST \/[^ ]*build/.test(l))).toBe(true);
      // Without registry credentials a local build says once that the registry cache is off, and pulls nothing.
      expect(r.output.match(/registry cache .* is off: no registry credentials/g)).toHaveLength(1);
      expect(corpus.proxy.requests.slice(seen).filter((l) => /images\/create/.test(l))).toEqual([]);
    } finally {
      await docker.getImage(`${corpus.image}:er-control`).remove({ force: true }).catch(() => undefined);
    }
  }, 300_000);
});
