// The example app keeps the pallet contract on real Docker: its wheelhouse builds in the lab builder
// image, `test` passes against a real PostgreSQL (and fails with FAULT=test), `deploy` migrates,
// `serve` answers /health/ with its version and stops cleanly on SIGTERM, and every fault the
// action's own tests rely on (migrate, health, crash) does what it says.
import Docker from 'dockerode';
import { randomBytes } from 'node:crypto';
import { describeLab } from '../helpers/lab.js';
import { buildExampleImage, exampleLabImages, type ExampleFault } from '../helpers/example-image.js';

const runId = randomBytes(4).toString('hex');
const version = `e2e-${runId}`;
const docker = new Docker();
const created = { containers: [] as string[], images: [] as string[], network: '' };
const images: Partial<Record<'ok' | ExampleFault, string>> = {};
let postgresId = '';
let serveUrl = '';
let serveId = '';

const DB_URL = 'postgres://app:example-pw@db:5432/app';
const appEnv = (extra: Record<string, string> = {}): string[] =>
  Object.entries({
    ENVIRONMENT: 'test',
    SECRET_KEY: 'dummy',
    DATABASE_URL: DB_URL,
    DB_DEFAULT_URL: DB_URL,
    ...extra,
  }).map(([k, v]) => `${k}=${v}`);

// Per test: jest's testTimeout is a global option, not a project one.
const STEP_TIMEOUT = 180_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function createOnNetwork(opts: Docker.ContainerCreateOptions, aliases: string[] = []): Promise<Docker.Container> {
  const c = await docker.createContainer({
    ...opts,
    Labels: { 'pallet.test': 'example-app', 'pallet.run': runId },
    HostConfig: { ...opts.HostConfig, NetworkMode: created.network },
    NetworkingConfig: { EndpointsConfig: { [created.network]: { Aliases: aliases } } },
  });
  created.containers.push(c.id);
  return c;
}

async function logsOf(c: Docker.Container): Promise<string> {
  // Not a TTY: the stream is multiplexed with 8-byte frame headers; strip them for matching.
  const raw = await c.logs({ stdout: true, stderr: true });
  const out: string[] = [];
  for (let i = 0; i + 8 <= raw.length; ) {
    const size = raw.readUInt32BE(i + 4);
    out.push(raw.subarray(i + 8, i + 8 + size).toString('utf8'));
    i += 8 + size;
  }
  return out.join('');
}

/** Runs IMAGE ARGS to completion (bounded), returns exit code, logs and wall time; removes the container. */
async function runOnce(image: string, cmd: string[], timeoutMs = 300_000): Promise<{ code: number; logs: string; ms: number; junit?: string }> {
  const c = await createOnNetwork({ Image: image, Cmd: cmd, Env: appEnv() });
  const started = Date.now();
  await c.start();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${cmd.join(' ')} still running after ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    const { StatusCode } = (await Promise.race([c.wait(), timeout])) as { StatusCode: number };
    const ms = Date.now() - started;
    const logs = await logsOf(c);
    let junit: string | undefined;
    if (cmd[0] === 'test') {
      const archive = await c.getArchive({ path: '/app/test-results/junit.xml' }).catch(() => undefined);
      if (archive) junit = await streamToString(archive);
    }
    return { code: StatusCode, logs, ms, junit };
  } finally {
    clearTimeout(timer);
    await c.remove({ force: true, v: true });
    created.containers.splice(created.containers.indexOf(c.id), 1);
  }
}

async function streamToString(s: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of s) chunks.push(Buffer.from(chunk as Buffer));
  return Buffer.concat(chunks).toString('utf8');
}

/** Starts IMAGE serve with 8000 published on a random loopback port; returns its id and base URL. */
async function startServe(image: string): Promise<{ id: string; url: string }> {
  const c = await createOnNetwork({
    Image: image,
    Cmd: ['serve'],
    // Not ENVIRONMENT=test: the production settings path (SECRET_KEY required) is what hosts run.
    Env: appEnv({ ENVIRONMENT: 'staging', SECRET_KEY: `key-${runId}`, WEB_CONCURRENCY: '2' }),
    ExposedPorts: { '8000/tcp': {} },
    HostConfig: { PortBindings: { '8000/tcp': [{ HostIp: '127.0.0.1', HostPort: '' }] } },
  });
  await c.start();
  const info = await c.inspect();
  const port = info.NetworkSettings.Ports['8000/tcp']?.[0]?.HostPort;
  if (!port) throw new Error('serve container has no published port');
  return { id: c.id, url: `http://127.0.0.1:${port}` };
}

/** Polls GET url until it answers with any HTTP status (bounded: 60 tries, ~1 s apart). */
async function firstAnswer(url: string, accept: (status: number) => boolean = () => true): Promise<Response> {
  let last = '';
  for (let i = 0; i < 60; i++) {
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
      if (accept(res.status)) return res;
      last = `HTTP ${res.status}`;
    } catch (e) {
      last = (e as Error).message;
    }
    await sleep(1000);
  }
  throw new Error(`${url} gave no acceptable answer in 60 tries (last: ${last})`);
}

async function stopAndInspect(id: string): Promise<{ exitCode: number; ms: number; logs: string }> {
  const c = docker.getContainer(id);
  const started = Date.now();
  await c.stop({ t: 20 });
  const ms = Date.now() - started;
  const info = await c.inspect();
  return { exitCode: info.State.ExitCode, ms, logs: await logsOf(c) };
}

describeLab('example Django app (examples/django-app) on real Docker', () => {
  beforeAll(async () => {
    const variants: Array<'ok' | ExampleFault> = ['ok', 'test', 'migrate', 'health', 'crash'];
    for (const v of variants) {
      const tag = `pallet-example-e2e:${runId}-${v}`;
      await buildExampleImage({ tag, version, fault: v === 'ok' ? undefined : v });
      created.images.push((await docker.getImage(tag).inspect()).Id);
      images[v] = tag;
    }
    const net = await docker.createNetwork({ Name: `pallet-example-${runId}`, Labels: { 'pallet.run': runId } });
    created.network = net.id;

    const pg = await createOnNetwork(
      {
        Image: exampleLabImages().postgres,
        Env: ['POSTGRES_USER=app', 'POSTGRES_PASSWORD=example-pw', 'POSTGRES_DB=app'],
      },
      ['db'],
    );
    await pg.start();
    postgresId = pg.id;
    for (let i = 0; ; i++) {
      const exec = await pg.exec({ Cmd: ['pg_isready', '-h', '127.0.0.1', '-U', 'app', '-d', 'app'], AttachStdout: true });
      await new Promise<void>((resolve, reject) => exec.start({}, (err, stream) => (err ? reject(err) : stream!.on('end', resolve).resume())));
      if ((await exec.inspect()).ExitCode === 0) break;
      if (i >= 60) throw new Error(`postgres not ready after 60 s:\n${await logsOf(pg)}`);
      await sleep(1000);
    }
  }, 900_000);

  afterAll(async () => {
    for (const id of [...created.containers].reverse()) {
      await docker.getContainer(id).remove({ force: true, v: true }).catch(() => undefined);
    }
    if (created.network) await docker.getNetwork(created.network).remove().catch(() => undefined);
    for (const id of created.images) await docker.getImage(id).remove({ force: true }).catch(() => undefined);
  }, STEP_TIMEOUT);

  test('`test` passes against PostgreSQL, writes a JUnit report, and exits 0', async () => {
    const r = await runOnce(images.ok!, ['test', '-v', '2']);
    expect(r.logs).toMatch(/Creating test database for alias 'default'/);
    expect(r.logs).toMatch(/test_create_and_read \(notes\.tests\.NoteModelTests[.\w]*\) \.\.\. ok/);
    expect(r.logs).toMatch(/Ran \d+ tests/);
    expect(r.logs).toMatch(/\nOK\n/);
    expect(r.code).toBe(0);
    expect(r.junit).toMatch(/<testsuite name="example" tests="\d+" failures="0" errors="0"/);
  }, STEP_TIMEOUT);

  test('`test` in an image built with FAULT=test fails with a non-zero exit code', async () => {
    const r = await runOnce(images.test!, ['test']);
    expect(r.logs).toMatch(/deliberate failure: image built with FAULT=test/);
    expect(r.logs).toMatch(/FAILED \(failures=1\)/);
    expect(r.code).not.toBe(0);
  }, STEP_TIMEOUT);

  test('`deploy` in an image built with FAULT=migrate exits non-zero and leaves the schema alone', async () => {
    const r = await runOnce(images.migrate!, ['deploy']);
    expect(r.logs).toMatch(/PALLET_FAULT=migrate: this build's migration fails on purpose/);
    expect(r.code).not.toBe(0);
    const check = await runOnce(images.ok!, ['showmigrations', 'notes']);
    expect(check.code).toBe(0);
    expect(check.logs).toMatch(/\[ \] 0001_initial/);
  }, STEP_TIMEOUT);

  test('`deploy` migrates (static files were collected at build time); `serve` answers /, /home/ and /health/ with the version', async () => {
    const d = await runOnce(images.ok!, ['deploy']);
    expect(d.logs).toMatch(/Applying notes\.0001_initial\.\.\. OK/);
    expect(d.logs).not.toMatch(/static files? copied/);
    expect(d.code).toBe(0);

    const s = await startServe(images.ok!);
    serveId = s.id;
    serveUrl = s.url;
    const health = await firstAnswer(`${serveUrl}/health/`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: 'ok', version, notes: 0 });

    const index = await fetch(`${serveUrl}/`, { signal: AbortSignal.timeout(5000) });
    expect(index.headers.get('x-app-version')).toBe(version);
    expect(await index.json()).toMatchObject({ app: 'example', version, environment: 'staging' });

    // The production settings path links the hashed names the image build collected into /static.
    const home = await fetch(`${serveUrl}/home/`, { signal: AbortSignal.timeout(5000) });
    expect(home.status).toBe(200);
    expect(home.headers.get('x-app-version')).toBe(version);
    const html = await home.text();
    expect(html).toMatch(/\/static\/notes\/notes\.[0-9a-f]{12}\.css/);
    expect(html).toMatch(/\/static\/notes\/notes\.[0-9a-f]{12}\.js/);

    const note = await fetch(`${serveUrl}/notes/`, {
      method: 'POST',
      body: JSON.stringify({ text: 'Deployed by pallet!' }),
      headers: { 'content-type': 'application/json' },
      signal: AbortSignal.timeout(5000),
    });
    expect(note.status).toBe(201);
    expect(await note.json()).toMatchObject({ slug: 'deployed-by-pallet', words: 3 });
    const after = await (await fetch(`${serveUrl}/health/`, { signal: AbortSignal.timeout(5000) })).json();
    expect(after).toMatchObject({ status: 'ok', notes: 1 });
  }, STEP_TIMEOUT);

  test('`worker` heartbeats against the database and exits 0 promptly on SIGTERM', async () => {
    const c = await createOnNetwork({ Image: images.ok!, Cmd: ['worker', '--interval', '1'], Env: appEnv() });
    await c.start();
    let logs = '';
    for (let i = 0; i < 30 && !/heartbeat 2 \(notes: 1\)/.test(logs); i++) {
      await sleep(1000);
      logs = await logsOf(c);
    }
    expect(logs).toMatch(/worker: heartbeat 2 \(notes: 1\)/);
    const stopped = await stopAndInspect(c.id);
    expect(stopped.logs).toMatch(/worker: got SIGTERM, finishing/);
    expect(stopped.exitCode).toBe(0);
    expect(stopped.ms).toBeLessThan(10_000);
  }, STEP_TIMEOUT);

  test('FAULT=health: the server runs but /health/ answers 500', async () => {
    const s = await startServe(images.health!);
    const res = await firstAnswer(`${s.url}/health/`);
    expect(res.status).toBe(500);
    expect(await res.json()).toMatchObject({ status: 'fault', version });
    await docker.getContainer(s.id).remove({ force: true });
    created.containers.splice(created.containers.indexOf(s.id), 1);
  }, STEP_TIMEOUT);

  test('FAULT=crash: `serve` exits 1 after about 2 seconds', async () => {
    const r = await runOnce(images.crash!, ['serve'], 60_000);
    expect(r.logs).toMatch(/PALLET_FAULT=crash: serve exits 1 in 2 seconds/);
    expect(r.code).toBe(1);
    expect(r.ms).toBeGreaterThanOrEqual(1500);
    expect(r.ms).toBeLessThan(30_000);
  }, STEP_TIMEOUT);

  test('/health/ answers 503 while the database is down; `serve` stops gracefully on SIGTERM', async () => {
    expect(serveId).not.toBe('');
    await docker.getContainer(postgresId).stop({ t: 10 });
    const res = await firstAnswer(`${serveUrl}/health/`, (status) => status !== 200);
    expect(res.status).toBe(503);
    expect(await res.json()).toMatchObject({ status: 'error', database: 'down', version });

    const stopped = await stopAndInspect(serveId);
    expect(stopped.logs).toMatch(/Handling signal: term/);
    expect(stopped.exitCode).toBe(0);
    expect(stopped.ms).toBeLessThan(15_000);
  }, STEP_TIMEOUT);
});
