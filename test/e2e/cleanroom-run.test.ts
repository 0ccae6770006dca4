// Cleanroom runs on the real engine, with the lab's PostgreSQL/Redis/memcached images and the
// PostgreSQL image itself as a tiny "app" (its entrypoint execs any command, psql included).
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runCleanroom } from '../../src/cleanroom/run.js';
import { CleanupLedger } from '../../src/util/cleanup.js';
import { UserError } from '../../src/errors.js';
import { captureReporter, labMissing, labServiceImages, leftovers, sweep, testConfig, uniqueApp } from '../helpers/cleanroom-lab.js';

const images = labServiceImages();
const missing = await labMissing([images.postgres, images.redis, images.memcached]);
if (missing) console.warn(`skipping cleanroom e2e: ${missing}`);
const d = missing ? describe.skip : describe;
const T = 300_000;

/** Shell run by the "app": writes its own mark, then asserts the table holds exactly that one row. */
const ISOLATION_SCRIPT = [
  'set -eu',
  'echo "db host: $(echo "$DATABASE_URL" | sed "s/.*@//")"',
  'psql "$DATABASE_URL" -v ON_ERROR_STOP=1 -q -c "CREATE TABLE IF NOT EXISTS marks (run text)" -c "INSERT INTO marks VALUES (\'$RUN_MARK\')"',
  'sleep 3', // both runs have written by now
  'rows=$(psql "$DATABASE_URL" -tAc "SELECT string_agg(run, \',\') FROM marks")',
  'echo "rows: $rows"',
  'test "$rows" = "$RUN_MARK"',
].join('\n');

d('cleanroom runs on the lab engine', () => {
  const apps: string[] = [];
  afterAll(async () => {
    for (const app of apps) await sweep([`pallet.app=${app}`]);
  });
  const workdir = mkdtempSync(path.join(os.tmpdir(), 'pallet-cr-work-'));

  test('two runs at the same time do not see each other\'s data; nothing is left afterwards', async () => {
    const cap = captureReporter();
    const run = (mark: string) => {
      const app = uniqueApp('iso');
      apps.push(app);
      const config = testConfig(app, {
        services: [{ name: 'postgres', image: images.postgres, env: {} }],
        environment: { RUN_MARK: mark },
      });
      const ledger = new CleanupLedger();
      const lines: string[] = [];
      return runCleanroom(config, ledger, new AbortController().signal, {
        image: images.postgres, command: ['sh', '-c', ISOLATION_SCRIPT], workdir, shards: 1, onLine: (_s, l) => lines.push(l),
      }).then((result) => ({ app, result, lines, ledger }));
    };
    const [a, b] = await Promise.all([run('alpha'), run('beta')]);
    expect(a.lines).toContain('rows: alpha');
    expect(b.lines).toContain('rows: beta');
    expect(a.result).toMatchObject({ passed: true, exitCode: 0 });
    expect(b.result).toMatchObject({ passed: true, exitCode: 0 });
    expect(a.result.runId).not.toBe(b.result.runId);
    expect(a.lines.find((l) => l.startsWith('db host:'))).toBe(`db host: pg-${a.result.runId}:5432/app`);
    for (const r of [a, b]) {
      expect(await leftovers([`pallet.run=${r.result.runId}`])).toEqual({ containers: [], networks: [] });
      expect(r.ledger.list()).toEqual([]);
    }
    expect(cap.text()).toMatch(/postgres \(pallet-lab\/postgres:15\) ready in [\d.]+m?s: PostgreSQL startup exchange/);
  }, T);

  test('a failing test: exit code propagated, output visible, nothing left; the same isolation guard fails on shared data', async () => {
    const cap = captureReporter();
    const app = uniqueApp('fail');
    apps.push(app);
    const config = testConfig(app, {
      services: [{ name: 'postgres', image: images.postgres, env: {} }, { name: 'redis', image: images.redis, env: {} }],
      environment: { RUN_MARK: 'gamma' },
    });
    // Two inserts into one database: exactly the situation the isolation test rules out.
    const script = ISOLATION_SCRIPT.replace('sleep 3', 'psql "$DATABASE_URL" -q -c "INSERT INTO marks VALUES (\'intruder\')"');
    const result = await runCleanroom(config, new CleanupLedger(), new AbortController().signal, {
      image: images.postgres, command: ['sh', '-c', `echo "redis at $REDIS_URL"; ${script}`], workdir, shards: 1,
    });
    expect(result).toMatchObject({ passed: false, exitCode: 1 });
    expect(cap.text()).toContain('rows: gamma,intruder');
    expect(cap.text()).toContain(`redis at redis://redis-${result.runId}:6379/0`);
    expect(await leftovers([`pallet.run=${result.runId}`])).toEqual({ containers: [], networks: [] });
  }, T);

  test('shards: isolated service sets, SHARD_INDEX/SHARD_TOTAL, artifacts per shard, fail if one shard fails', async () => {
    captureReporter();
    const app = uniqueApp('shard');
    apps.push(app);
    const config = testConfig(app, {
      services: [{ name: 'redis', image: images.redis, env: {} }, { name: 'memcached', image: images.memcached, env: {} }],
      artifacts: ['/tmp/report', '/tmp/not-written.xml'],
    });
    const script = [
      'mkdir -p /tmp/report',
      'echo "shard $SHARD_INDEX of $SHARD_TOTAL via $REDIS_HOSTS and $MEMCACHE_HOSTS" | tee /tmp/report/result.txt',
      'test "$SHARD_INDEX" != 2',
    ].join('; ');
    const lines: string[] = [];
    const result = await runCleanroom(config, new CleanupLedger(), new AbortController().signal, {
      image: images.postgres, command: ['sh', '-c', script], workdir, shards: 3, onLine: (s, l) => lines.push(`${s}:${l}`),
    });
    expect(result.shards.map((s) => [s.shard, s.exitCode, s.passed])).toEqual([[0, 0, true], [1, 0, true], [2, 1, false]]);
    expect(result).toMatchObject({ passed: false, exitCode: 1 });
    for (const k of [0, 1, 2]) {
      expect(lines).toContain(`${k}:shard ${k} of 3 via redis-${result.runId}:6379 and mc-${result.runId}:11211`);
      const file = path.join(workdir, 'pallet-artifacts', String(k), 'report', 'result.txt');
      expect(readFileSync(file, 'utf8')).toBe(`shard ${k} of 3 via redis-${result.runId}:6379 and mc-${result.runId}:11211\n`);
      expect(existsSync(path.join(workdir, 'pallet-artifacts', String(k), 'not-written.xml'))).toBe(false);
    }
    expect(await leftovers([`pallet.run=${result.runId}`])).toEqual({ containers: [], networks: [] });
  }, T);

  test('a service that never gets ready fails with its name, the timeout and its last log lines; nothing left', async () => {
    const cap = captureReporter();
    const app = uniqueApp('never');
    apps.push(app);
    const config = testConfig(app, {
      services: [
        { name: 'postgres', image: images.postgres, env: {} },
        // Redis listens on 6379; a probe of 6399 never passes.
        { name: 'stuck', image: images.redis, env: {}, port: 6399, ready: { tcp: 6399 }, ready_timeout: 4 },
      ],
    });
    const ledger = new CleanupLedger();
    const t0 = Date.now();
    const err = await runCleanroom(config, ledger, new AbortController().signal, {
      image: images.postgres, command: ['true'], workdir, shards: 1, runId: `nv${Date.now().toString(36)}`.slice(0, 10),
    }).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(UserError);
    const msg = (err as Error).message;
    expect(msg).toContain("service 'stuck' (pallet-lab/redis:7) was not ready after 4s (TCP connect to port 6399: ECONNREFUSED)");
    expect(msg).toMatch(/last \d+ log lines of stuck:/);
    expect(msg).toMatch(/Ready to accept connections/);
    expect(Date.now() - t0).toBeLessThan(30_000);
    expect(await leftovers([`pallet.app=${app}`])).toEqual({ containers: [], networks: [] });
    expect(ledger.list()).toEqual([]);
    void cap;
  }, T);

  test('an unknown service fails before anything is created', async () => {
    captureReporter();
    const app = uniqueApp('unknown');
    const config = testConfig(app, { services: [{ name: 'mongo', env: {} }] });
    const ledger = new CleanupLedger();
    await expect(runCleanroom(config, ledger, new AbortController().signal, { image: images.postgres, command: ['true'], workdir, shards: 1 }))
      .rejects.toThrow("test.services[0]: unknown service 'mongo' (known: postgres, postgis, redis, memcached, elasticsearch, opensearch, rabbitmq, smtp)");
    expect(ledger.list()).toEqual([]);
    expect(await leftovers([`pallet.app=${app}`])).toEqual({ containers: [], networks: [] });
  }, T);

  test('an image that cannot be had is a clear error naming the service and image', async () => {
    captureReporter();
    const app = uniqueApp('noimg');
    apps.push(app);
    const config = testConfig(app, { services: [{ name: 'redis', image: '127.0.0.1:9/nope/redis:0', env: {} }] });
    const err = await runCleanroom(config, new CleanupLedger(), new AbortController().signal, { image: images.postgres, command: ['true'], workdir, shards: 1 })
      .then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(UserError);
    expect((err as Error).message).toMatch(/^service 'redis': image '127.0.0.1:9\/nope\/redis:0' is not on this Docker Engine and cannot be pulled/);
    expect(await leftovers([`pallet.app=${app}`])).toEqual({ containers: [], networks: [] });
  }, T);

  test('test.timeout stops the test container and fails the run', async () => {
    const cap = captureReporter();
    const app = uniqueApp('slow');
    apps.push(app);
    const config = testConfig(app, { services: [], timeout: 2 });
    const t0 = Date.now();
    const result = await runCleanroom(config, new CleanupLedger(), new AbortController().signal, {
      image: images.postgres, command: ['sh', '-c', 'echo started; exec sleep 60'], workdir, shards: 1,
    });
    expect(result).toMatchObject({ passed: false, exitCode: 124 });
    expect(result.shards[0].problem).toBe('test container was stopped: it ran longer than test.timeout (2s)');
    expect(cap.text()).toContain('started');
    expect(Date.now() - t0).toBeLessThan(20_000);
    expect(await leftovers([`pallet.run=${result.runId}`])).toEqual({ containers: [], networks: [] });
  }, T);

  test('an aborted signal stops waiting and removes everything', async () => {
    captureReporter();
    const app = uniqueApp('abort');
    apps.push(app);
    const config = testConfig(app, { services: [{ name: 'redis', image: images.redis, env: {} }] });
    const ac = new AbortController();
    const lines: string[] = [];
    const p = runCleanroom(config, new CleanupLedger(), ac.signal, {
      image: images.postgres, command: ['sh', '-c', 'echo running; exec sleep 120'], workdir, shards: 1, onLine: (_s, l) => lines.push(l),
    });
    for (let i = 0; i < 200 && !lines.includes('running'); i++) await new Promise((r) => setTimeout(r, 100));
    expect(lines).toContain('running');
    expect((await leftovers([`pallet.app=${app}`])).containers.length).toBe(2);
    const t0 = Date.now();
    ac.abort(new Error('cancelled (SIGTERM)'));
    await expect(p).rejects.toThrow('cancelled (SIGTERM)');
    expect(Date.now() - t0).toBeLessThan(15_000);
    expect(await leftovers([`pallet.app=${app}`])).toEqual({ containers: [], networks: [] });
  }, T);

  test('an OOM-killed test container is reported as such', async () => {
    const cap = captureReporter();
    const app = uniqueApp('oom');
    apps.push(app);
    const result = await runCleanroom(testConfig(app, {}), new CleanupLedger(), new AbortController().signal, {
      image: images.postgres,
      // Holds ~256 MB in one shell variable under a 48 MB limit.
      command: ['sh', '-c', 'echo allocating; x=$(head -c 268435456 /dev/zero | tr "\\0" a); echo survived ${#x}'],
      workdir, shards: 1, memoryBytes: 48 * 1024 * 1024,
    });
    // Whichever of the engine's OOM signals (State.OOMKilled, the `oom` event) comes first, or alone: same words.
    // Reported as the engine saw it (its flag or oom event), or, where the engine reports neither
    // (cgroup v2 with Docker 20.10), as a SIGKILL most likely from the memory limit.
    const words = result.shards[0].problem ?? '';
    expect({ passed: result.shards[0].passed, exitCode: result.shards[0].exitCode, words }).toEqual({ passed: false, exitCode: 137,
      words: expect.stringMatching(/^test container was killed(: out of memory \(exit 137\)| \(exit 137: SIGKILL\), most likely out of memory under its 48 MiB limit \(the engine reported no OOM\))$/) });
    expect(cap.text()).toContain(`error: ${words}`);
    expect(cap.text()).not.toContain('survived 268435456');
    expect(await leftovers([`pallet.run=${result.runId}`])).toEqual({ containers: [], networks: [] });
  }, T);
});

/**
 * The "app" for the messaging services: an AMQP round trip through BROKER_URL (python3-amqp:
 * declare a queue, publish, get the message back), a mail to EMAIL_HOST:EMAIL_PORT with smtplib,
 * then what the sink says it received (its JSON list on port 8025).
 */
const MESSAGING_SCRIPT = `
import json, os, smtplib, urllib.parse, urllib.request
from email.message import EmailMessage
import amqp
mark = os.environ["RUN_MARK"]
url = urllib.parse.urlsplit(os.environ["BROKER_URL"])
vhost = urllib.parse.unquote(url.path[1:]) or "/"
print(f"broker at {url.hostname}:{url.port}, vhost {vhost}, user {url.username}", flush=True)
with amqp.Connection(host=f"{url.hostname}:{url.port}", userid=urllib.parse.unquote(url.username),
                     password=urllib.parse.unquote(url.password), virtual_host=vhost, connect_timeout=10) as conn:
    ch = conn.channel()
    queue, _, _ = ch.queue_declare(exclusive=True)
    ch.basic_publish(amqp.Message(mark), exchange="", routing_key=queue)
    got = ch.basic_get(queue, no_ack=True)
    body = got.body.decode() if isinstance(got.body, bytes) else got.body
    print(f"amqp round trip: {body} via {conn.server_properties['product']}", flush=True)
print(f"mail to {os.environ['EMAIL_HOST']}:{os.environ['EMAIL_PORT']}", flush=True)
msg = EmailMessage()
msg["From"], msg["To"], msg["Subject"] = "app@example.test", "ops@example.test", f"cleanroom {mark}"
msg.set_content(f"sent by run {mark}")
with smtplib.SMTP(os.environ["EMAIL_HOST"], int(os.environ["EMAIL_PORT"]), timeout=10) as smtp:
    smtp.send_message(msg)
with urllib.request.urlopen(f"http://{os.environ['EMAIL_HOST']}:8025/api/v1/messages", timeout=10) as r:
    seen = json.load(r)
print("sink received: " + json.dumps([[m["From"]["Address"], [t["Address"] for t in m["To"]], m["Subject"], m["Snippet"]] for m in seen["messages"]], separators=(",", ":")), flush=True)
`;

const messagingMissing = await labMissing([images.rabbitmq, images.smtpSink]);
if (messagingMissing) console.warn(`skipping cleanroom messaging e2e: ${messagingMissing}`);

(messagingMissing ? describe.skip : describe)('cleanroom with the lab\'s RabbitMQ and SMTP sink', () => {
  const apps: string[] = [];
  afterAll(async () => {
    for (const app of apps) await sweep([`pallet.app=${app}`]);
  });

  test('the app gets a working BROKER_URL and EMAIL_HOST: an AMQP round trip, and the sink received its mail; nothing left', async () => {
    const cap = captureReporter();
    const app = uniqueApp('msg');
    apps.push(app);
    const mark = `mark-${app}`;
    // A password that needs percent-encoding in the URL: it must reach the broker's first user intact.
    const password = 'p@ss w/1:x';
    const config = testConfig(app, {
      services: [
        { name: 'rabbitmq', image: images.rabbitmq, credentials: { password }, env: {} },
        { name: 'smtp', image: images.smtpSink, env: {} },
      ],
      environment: { RUN_MARK: mark },
    });
    const lines: string[] = [];
    const result = await runCleanroom(config, new CleanupLedger(), new AbortController().signal, {
      image: images.smtpSink, command: ['python3', '-c', MESSAGING_SCRIPT], workdir: mkdtempSync(path.join(os.tmpdir(), 'pallet-cr-msg-')),
      shards: 1, onLine: (_s, l) => lines.push(l),
    });
    if (!result.passed) console.log(cap.text());
    expect(result).toMatchObject({ passed: true, exitCode: 0 });
    expect(lines).toContain(`broker at mq-${result.runId}:5672, vhost /, user guest`);
    expect(lines).toContain(`amqp round trip: ${mark} via RabbitMQ`);
    expect(lines).toContain(`mail to mail-${result.runId}:1025`);
    expect(lines).toContain(`sink received: ${JSON.stringify([['app@example.test', ['ops@example.test'], `cleanroom ${mark}`, `sent by run ${mark}`]])}`);
    // The catalog's readiness probes passed on the real protocols, not on an open port.
    expect(cap.text()).toMatch(/rabbitmq \(pallet-lab\/rabbitmq:3\) ready in [\d.]+m?s: AMQP handshake on port 5672/);
    expect(cap.text()).toMatch(/smtp \(pallet-lab\/smtp-sink:1\) ready in [\d.]+m?s: SMTP 220 banner on port 1025/);
    expect(cap.text()).not.toContain(password);
    expect(await leftovers([`pallet.run=${result.runId}`])).toEqual({ containers: [], networks: [] });
  }, T);
});
