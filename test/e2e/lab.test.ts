// Proves the lab works end to end: the registry with auth from the outer engine and from inside
// a host, SSH with strict host-key checking, and nginx balancing across the hosts' web ports.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { describeLab, labSshArgs, readLab, type LabDescriptor, type LabHost } from '../helpers/lab.js';
import { run, type RunResult } from '../lab/util.js';

// The e2e project's testTimeout is a global-only option in jest: give hooks and tests their own.
const LONG = 600_000;
const RUN_ID = `labtest-${randomBytes(4).toString('hex')}`;

describeLab('lab', () => {
  let lab: LabDescriptor;
  let dockerConfig: string;
  const outerTags: string[] = [];
  /** [host, container id] pairs started on hosts, removed by id afterwards. */
  const hostContainers: Array<[LabHost, string]> = [];
  const hostImages = new Set<LabHost>();
  let djangoRef: string;

  const docker = (args: string[], input?: string) =>
    run('docker', args, { input, allowFailure: true, env: { ...process.env, DOCKER_CONFIG: dockerConfig }, timeoutMs: 300_000 });
  const ssh = (host: LabHost, command: string, input?: string, knownHosts?: string): Promise<RunResult> =>
    run('ssh', [...labSshArgs(lab, host, knownHosts), command], { input, allowFailure: true, timeoutMs: 300_000 });
  /** Runs `command` on a host with a private docker config logged in to the lab registry (password on stdin). */
  const withLogin = (command: string) =>
    `set -e; export DOCKER_CONFIG=/tmp/${RUN_ID}; mkdir -p $DOCKER_CONFIG; ` +
    `docker login ${lab.registry.address} -u ${lab.registry.username} --password-stdin >/dev/null; ${command}; rm -rf $DOCKER_CONFIG`;

  beforeAll(async () => {
    lab = readLab();
    expect(lab.hosts.length).toBeGreaterThanOrEqual(2);
    dockerConfig = mkdtempSync(path.join(os.tmpdir(), `${RUN_ID}-`));
    djangoRef = `${lab.registry.address}/${RUN_ID}/django:t1`;
  }, LONG);

  afterAll(async () => {
    for (const [host, id] of hostContainers) await ssh(host, `docker rm -f ${id}`);
    // A `docker run` that failed half-way leaves a created container we have no id for: it carries our run label.
    for (const host of hostImages) await ssh(host, `docker ps -aq --filter label=${RUN_ID}=1 | xargs -r docker rm -f`);
    for (const host of hostImages) await ssh(host, `docker rmi ${djangoRef}; rm -rf /tmp/${RUN_ID}`);
    for (const tag of outerTags) await docker(['rmi', tag]);
    if (dockerConfig) rmSync(dockerConfig, { recursive: true, force: true });
  }, LONG);

  test('registry: authenticated push and pull from the outer engine, wrong password refused', async () => {
    const ctx = mkdtempSync(path.join(os.tmpdir(), `${RUN_ID}-ctx-`));
    const ref = `${lab.registry.address}/${RUN_ID}/hello:v1`;
    try {
      writeFileSync(path.join(ctx, 'hello.txt'), `${RUN_ID}\n`);
      writeFileSync(path.join(ctx, 'Dockerfile'), 'FROM scratch\nCOPY hello.txt /hello.txt\n');
      const build = await run('docker', ['build', '-q', '-t', ref, ctx], { allowFailure: true, env: { ...process.env, DOCKER_BUILDKIT: '0' } });
      expect({ code: build.code, stderr: build.stderr }).toMatchObject({ code: 0 });
      outerTags.push(ref);

      const anonymous = await docker(['push', ref]);
      expect(anonymous.code).not.toBe(0);
      expect(anonymous.stderr + anonymous.stdout).toMatch(/no basic auth credentials|unauthorized/i);

      const wrong = await docker(['login', lab.registry.address, '-u', lab.registry.username, '--password-stdin'], 'not-the-password\n');
      expect(wrong.code).not.toBe(0);
      expect(wrong.stderr).toMatch(/unauthorized|401/i);

      const login = await docker(['login', lab.registry.address, '-u', lab.registry.username, '--password-stdin'], lab.registry.password + '\n');
      expect(login.code).toBe(0);
      const push = await docker(['push', ref]);
      expect(push.code).toBe(0);
      const pushedDigest = push.stdout.match(/digest: (sha256:[0-9a-f]{64})/)?.[1];
      expect(pushedDigest).toBeDefined();

      expect((await docker(['rmi', ref])).code).toBe(0);
      const pull = await docker(['pull', ref]);
      expect(pull.code).toBe(0);
      expect(pull.stdout).toContain(pushedDigest!);

      // The registry's API itself refuses anonymous and accepts the lab credentials.
      const v2 = `http://${lab.registry.address}/v2/${RUN_ID}/hello/tags/list`;
      expect((await fetch(v2)).status).toBe(401);
      const auth = 'Basic ' + Buffer.from(`${lab.registry.username}:${lab.registry.password}`).toString('base64');
      const tags = await fetch(v2, { headers: { Authorization: auth } });
      expect(tags.status).toBe(200);
      expect(await tags.json()).toEqual({ name: `${RUN_ID}/hello`, tags: ['v1'] });
    } finally {
      rmSync(ctx, { recursive: true, force: true });
    }
  }, LONG);

  test('a host pulls from the lab registry at the same address and runs a container over SSH', async () => {
    expect((await docker(['tag', lab.images.django, djangoRef])).code).toBe(0);
    outerTags.push(djangoRef);
    const login = await docker(['login', lab.registry.address, '-u', lab.registry.username, '--password-stdin'], lab.registry.password + '\n');
    expect(login.code).toBe(0);
    const push = await docker(['push', djangoRef]);
    expect(push.code).toBe(0);

    const host = lab.hosts[0];
    // Without credentials the host is refused, like the outer engine.
    // (An empty client config: other tests may have left a login in root's own.)
    const anon = await ssh(host, `export DOCKER_CONFIG=/tmp/${RUN_ID}-anon; mkdir -p $DOCKER_CONFIG; docker pull ${djangoRef}; rc=$?; rm -rf $DOCKER_CONFIG; exit $rc`);
    expect(anon.code).not.toBe(0);
    expect(anon.stderr).toMatch(/no basic auth credentials|unauthorized/i);

    hostImages.add(host);
    const pulled = await ssh(host, withLogin(`docker pull -q ${djangoRef}`), lab.registry.password + '\n');
    expect({ code: pulled.code, stderr: pulled.stderr }).toMatchObject({ code: 0 });
    const ran = await ssh(host, `docker run --rm ${djangoRef} python3 -c "import django; print('${RUN_ID}', django.VERSION[0])"`);
    expect(ran.code).toBe(0);
    expect(ran.stdout.trim()).toMatch(new RegExp(`^${RUN_ID} \\d+$`));
    // Proof it ran on the host's own engine, not the outer one.
    const hostname = await ssh(host, 'hostname');
    expect(hostname.stdout.trim()).toBe(host.name);
  }, LONG);

  test('service images honour POSTGRES_* like the official ones; redis and memcached answer', async () => {
    const net = `${RUN_ID}-net`;
    const ids: string[] = [];
    const d = (args: string[]) => run('docker', args, { allowFailure: true, timeoutMs: 120_000 });
    const netId = (await d(['network', 'create', net])).stdout.trim();
    try {
      const start = async (alias: string, image: string, env: string[] = []) => {
        const r = await d(['run', '-d', '--network', net, '--network-alias', alias, ...env.flatMap((e) => ['-e', e]), image]);
        expect({ code: r.code, stderr: r.stderr }).toMatchObject({ code: 0 });
        ids.push(r.stdout.trim());
      };
      await start('pg', lab.images.postgres, ['POSTGRES_USER=app', 'POSTGRES_PASSWORD=s3cret', 'POSTGRES_DB=appdb']);
      await start('redis', lab.images.redis);
      await start('mc', lab.images.memcached);
      // One client container runs every probe (psql, pg_isready, redis-cli, bash /dev/tcp), bounded.
      const probe = [
        'for i in $(seq 1 60); do pg_isready -q -h pg -U app && break; sleep 0.5; done',
        'PGPASSWORD=s3cret psql -h pg -U app -d appdb -tAc "select current_user || \'@\' || current_database()"',
        'PGPASSWORD=wrong psql -h pg -U app -d appdb -tAc "select 1" >/dev/null 2>&1 && echo wrong-password-accepted',
        'for i in $(seq 1 20); do redis-cli -h redis ping 2>/dev/null | grep -q PONG && break; sleep 0.5; done; redis-cli -h redis ping',
        'for i in $(seq 1 20); do (exec 3<>/dev/tcp/mc/11211 && printf "version\\r\\n" >&3 && head -c 8 <&3) 2>/dev/null && break; sleep 0.5; done',
      ].join('; ');
      const r = await d(['run', '--rm', '--network', net, '--entrypoint', 'bash', lab.images.postgres, '-c', probe]);
      expect(r.stdout.split('\n').map((l) => l.trim()).filter(Boolean)).toEqual(['app@appdb', 'PONG', 'VERSION']);
    } finally {
      if (ids.length) await d(['rm', '-f', ...ids]);
      if (netId) await d(['network', 'rm', netId]);
    }
  }, LONG);

  test('an unknown host key is refused', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), `${RUN_ID}-kh-`));
    try {
      const empty = path.join(dir, 'known_hosts');
      writeFileSync(empty, '');
      const r = await ssh(lab.hosts[0], 'echo reached', undefined, empty);
      expect(r.code).toBe(255);
      expect(r.stdout).not.toContain('reached');
      expect(r.stderr).toMatch(/Host key verification failed/);
      // Control: the pinned known_hosts gets in.
      const ok = await ssh(lab.hosts[0], 'echo reached');
      expect(ok.stdout.trim()).toBe('reached');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, LONG);

  test('nginx balances over every host and skips a host that stops serving', async () => {
    // Port 8000 of a host belongs to whoever deploys there; while other suites share the lab
    // (developers run them side by side), wait a bounded time for it, then fail saying who holds it.
    const busy = async () => {
      const holders = await Promise.all(lab.hosts.map(async (h) => {
        const r = await ssh(h, "docker ps -q --filter publish=8000 --format '{{.Names}} {{.Image}}'");
        return r.stdout.trim() ? `${h.name}: ${r.stdout.trim()}` : '';
      }));
      return holders.filter(Boolean);
    };
    let holders = await busy();
    for (let i = 0; i < 36 && holders.length; i++) {
      await new Promise((r) => setTimeout(r, 5000));
      holders = await busy();
    }
    expect(holders).toEqual([]);
    // Each host serves its own name on port 8000 (image pulled from the lab registry).
    const started = await Promise.allSettled(
      lab.hosts.map(async (host) => {
        hostImages.add(host);
        const serve = `mkdir -p /srv && echo ${host.name} > /srv/index.html && exec python3 -m http.server -d /srv 8000`;
        const r = await ssh(
          host,
          withLogin(`docker pull -q ${djangoRef} >/dev/null && docker run -d -p 8000:8000 --label ${RUN_ID}=1 ${djangoRef} sh -c '${serve}'`),
          lab.registry.password + '\n',
        );
        if (r.code !== 0) throw new Error(`${host.name}: exit ${r.code}: ${r.stderr}`);
        hostContainers.push([host, r.stdout.trim().split('\n').pop()!]);
      }),
    );
    // Settle every host first so afterAll knows each container that was started.
    for (const s of started) if (s.status === 'rejected') throw s.reason;
    const get = async (url: string) => {
      for (let i = 0; i < 40; i++) {
        try {
          const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
          if (res.status === 200) return (await res.text()).trim();
        } catch {
          /* server still starting */
        }
        await new Promise((r) => setTimeout(r, 250));
      }
      throw new Error(`no 200 from ${url}`);
    };
    for (const host of lab.hosts) expect(await get(host.webUrl + '/')).toBe(host.name);

    const seen = new Set<string>();
    for (let i = 0; i < lab.hosts.length * 3; i++) seen.add(await get(lab.lb.url + '/'));
    expect([...seen].sort()).toEqual(lab.hosts.map((h) => h.name).sort());

    // Take the first host's server away: every request still succeeds, from the others.
    const [down, id] = hostContainers[0];
    expect((await ssh(down, `docker rm -f ${id}`)).code).toBe(0);
    const after: string[] = [];
    for (let i = 0; i < lab.hosts.length * 3; i++) {
      const res = await fetch(lab.lb.url + '/', { signal: AbortSignal.timeout(5000) });
      expect(res.status).toBe(200);
      after.push((await res.text()).trim());
    }
    expect(after).not.toContain(down.name);
    expect(new Set(after).size).toBe(lab.hosts.length - 1);
  }, LONG);
});
