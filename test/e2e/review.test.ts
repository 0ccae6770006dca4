// Review apps against the real lab: the main app and pull requests' review apps side by side on
// one host behind its proxy (Caddy), each review app with its own PostgreSQL and Redis (the lab's
// images pushed to the lab registry), driven through the shipped CLI and the action (as the
// runner runs it, against a local stand-in for the GitHub API).
// - two review apps, each at its own host name with its own database, while the main app serves
//   a request loop with 0 failures; a second push to one replaces it with 0 failed requests to it;
// - the cap (review.max: 2) refuses a third, naming the app idle longest, with nothing made; once
//   GitHub says that pull request is closed, the next review deploy removes it and goes ahead;
// - destroy (twice) leaves the host as it was: containers, volumes, networks, routes and images
//   counted before the first review app and after the last is gone; the GitHub deployments of the
//   environment are marked inactive;
// - a review app whose first deploy fails leaves nothing behind;
// - a pull_request event from a fork: the action refuses the review deploy, touching nothing.
import http from 'node:http';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { describeLab, REPO_ROOT } from '../helpers/lab.js';
import { ACTION_COMMAND, runCli, type CliRun } from '../helpers/entry.js';
import { runLikeRunner, type RunnerResult } from '../helpers/runner.js';
import { pushToLab } from '../helpers/lab-registry.js';
import { startLoad, fetchVersion } from '../helpers/load.js';
import { startFakeGitHubApi, type FakeGitHubApi } from '../helpers/github-api.js';
import { DeployFixture } from './deploy-fixture.js';

const APP = 'e2ereview';
const MAIN_HOST = 'main.review-e2e.test';
const reviewHost = (n: number) => `pr-${n}.review-e2e.test`;
const T = 900_000;

/** Fails with the command's whole output unless it exited 0. */
function succeeded(r: { code: number | null; output?: string; stdout?: string; stderr?: string }): void {
  if (r.code !== 0) throw new Error(`exit ${r.code}:\n${r.output ?? `${r.stdout}\n${r.stderr}`}`);
}

function request(base: string, host: string, method: string, p: string, body?: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${base}${p}`, { method, agent: false, headers: { Host: host, Connection: 'close', ...(body ? { 'Content-Type': 'application/json' } : {}) }, timeout: 10_000 }, (res) => {
      let b = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { b += d; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: b }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${host}${p}: no answer within 10 s`)));
    req.on('error', reject);
    req.end(body);
  });
}

describeLab('review apps on a lab host', () => {
  const fx = new DeployFixture(APP, { envFile: `/etc/pallet/${APP}.env`, repository: `pallet-e2e/${APP}` });
  const dir = mkdtempSync('/tmp/prv-');
  let api: FakeGitHubApi;
  const base = () => `http://${fx.lab.hosts[0].ip}:80`;
  const host = () => fx.addresses[0];
  let baseline = '';
  const outputs: string[] = [];
  /** The review services' generated passwords, read on the host. */
  const passwords: string[] = [];

  const cli = async (args: string[]): Promise<CliRun> => {
    const r = await runCli([...args, '--ssh-private-key-file', fx.lab.ssh.privateKeyPath, '--ssh-known-hosts-file', fx.lab.ssh.knownHostsPath, '--registry-username', fx.lab.registry.username],
      { cwd: dir, env: { USER: 'e2e-review', RUNNER_TEMP: dir, PALLET_REGISTRY_PASSWORD: fx.lab.registry.password }, timeoutMs: 400_000 });
    outputs.push(r.output);
    return r;
  };
  /** The action as the runner runs it, for pull request `n` (a pull_request event of this repository unless `fork`). */
  const action = async (command: string, n: number, extra: { tag?: string; fork?: boolean; action?: string } = {}): Promise<RunnerResult> => {
    const event = path.join(dir, `event-${n}-${extra.action ?? 'opened'}.json`);
    writeFileSync(event, JSON.stringify({
      action: extra.action ?? 'opened', number: n,
      pull_request: { number: n, head: { repo: { full_name: extra.fork ? 'mallory/shop' : 'acme/shop' } }, base: { repo: { full_name: 'acme/shop' } } },
    }));
    const r = await runLikeRunner('', {
      command: ACTION_COMMAND, cwd: REPO_ROOT,
      inputs: {
        command, 'working-directory': dir, ...(extra.tag ? { tag: extra.tag } : {}), 'github-token': 'ghs_review_e2e_token',
        'ssh-private-key': readFileSync(fx.lab.ssh.privateKeyPath, 'utf8'), 'ssh-known-hosts': readFileSync(fx.lab.ssh.knownHostsPath, 'utf8'),
        'registry-username': fx.lab.registry.username, 'registry-password': fx.lab.registry.password,
      },
      env: {
        GITHUB_EVENT_NAME: 'pull_request', GITHUB_EVENT_PATH: event, GITHUB_REPOSITORY: 'acme/shop', GITHUB_SHA: 'c0ffee', GITHUB_API_URL: api.url,
        GITHUB_RUN_ID: '77', GITHUB_ACTOR: 'octocat',
      },
    });
    outputs.push(r.stdout, r.stderr, r.summary);
    return r;
  };
  /**
   * What the host holds, by kind: one line each, the names sorted (a review app's are named APP-pr-N).
   * Taken once no deploy still stops its previous containers (lock/retiring gone; bounded: 45 s).
   */
  const inventory = async (): Promise<string> => fx.ssh(host(), `i=0; while ls /var/lib/pallet/*/lock/retiring >/dev/null 2>&1 && [ $i -lt 450 ]; do i=$((i+1)); sleep 0.1; done
if ls /var/lib/pallet/*/lock/retiring >/dev/null 2>&1; then echo "still retiring after 45 s: $(ls /var/lib/pallet/*/lock/retiring)" >&2; exit 3; fi
echo "containers: $(docker ps -a --format '{{.Names}}' | sort | tr '\\n' ' ')"
echo "volumes: $(docker volume ls -q | sort | tr '\\n' ' ')"
echo "networks: $(docker network ls --format '{{.Name}}' | sort | tr '\\n' ' ')"
echo "routes: $(ls /var/lib/pallet/proxy/routes | sort | tr '\\n' ' ')"
echo "images: $(docker image ls --format '{{.Repository}}:{{.Tag}}' | sort | tr '\\n' ' ')"
echo "state: $(ls -A /var/lib/pallet | sort | tr '\\n' ' ')"`);
  const notes = async (n: number) => request(base(), reviewHost(n), 'GET', '/notes/');

  beforeAll(async () => {
    if (!fx.lab.images.proxy) throw new Error('the lab has no proxy image: run `npm run lab:up` again');
    api = await startFakeGitHubApi();
    await fx.setup(['v1', 'v2', 'migrate'], { ALLOWED_HOSTS: '*' });
    const reg = `${fx.lab.registry.address}/pallet-e2e`;
    await pushToLab(fx.docker, fx.lab, fx.lab.images.postgres, `${reg}/review-pg`, '15');
    await pushToLab(fx.docker, fx.lab, fx.lab.images.redis, `${reg}/review-redis`, '7');
    await fx.ssh(host(), `docker image rm ${reg}/review-pg:15 ${reg}/review-redis:7 >/dev/null 2>&1; true`);
    writeFileSync(path.join(dir, 'pallet.yml'), YAML.stringify(fx.reviewConfigFile(host(), {
      mainHost: MAIN_HOST, reviewPattern: 'pr-{number}.review-e2e.test', services: [`${reg}/review-pg:15`, `${reg}/review-redis:7`], secretKey: 'review-e2e-not-secret',
    })));
    succeeded(await cli(['deploy', '--tag', fx.tags.v1]));
    baseline = await inventory();
  }, T);

  afterAll(async () => {
    for (const n of [11, 12, 13]) await cli(['review', 'destroy', String(n)]).catch(() => undefined);
    await cli(['remove', '--yes', '--delete-data']).catch(() => undefined);
    await fx.teardown();
    await api?.close();
    rmSync(dir, { recursive: true, force: true });
  }, 600_000);

  test('two review apps answer at their own names with their own databases while the main app serves with 0 failed requests', async () => {
    const load = startLoad({ url: `${base()}/health/`, host: MAIN_HOST, concurrency: 4, maxMs: 600_000 });
    let stats;
    try {
      const first = await action('review-deploy', 11, { tag: fx.tags.v1 });
      succeeded(first);
      expect(first.outputs['review-url']).toBe(`http://${reviewHost(11)}`);
      expect(first.outputs['review-app']).toBe(`${APP}-pr-11`);
      succeeded(await cli(['review', 'deploy', '12', '--tag', fx.tags.v1]));
    } finally {
      stats = await load.stop();
    }
    expect({ failed: stats.failed, failures: stats.failures }).toEqual({ failed: 0, failures: [] });
    expect(stats.ok).toBeGreaterThan(20);

    const credentials = await fx.ssh(host(), `stat -c '%a' /var/lib/pallet/${APP}-pr-11/services/credentials; cat /var/lib/pallet/${APP}-pr-11/services/credentials`);
    expect(credentials.split('\n')[0]).toBe('600');
    passwords.push(...[...credentials.matchAll(/^postgres=([0-9a-f]{24})$/gm)].map((m) => m[1]));

    // Each review app has a database of its own: a note written through one is absent from the other and from the main app.
    const written = await request(base(), reviewHost(11), 'POST', '/notes/', JSON.stringify({ text: 'only-in-pr-11' }));
    expect(written.status).toBe(201);
    expect((await notes(11)).body).toContain('only-in-pr-11');
    const other = await notes(12);
    expect(other.status).toBe(200);
    expect(other.body).not.toContain('only-in-pr-11');
    expect((await request(base(), MAIN_HOST, 'GET', '/notes/')).body).not.toContain('only-in-pr-11');

    // The GitHub deployment is the pull request's environment, with the review app's address.
    const created = api.calls.filter((c) => c.method === 'POST' && /\/deployments$/.test(c.path));
    expect(created.map((c) => c.body.environment)).toContain('review/pr-11');
    const statuses = api.calls.filter((c) => c.method === 'POST' && /\/statuses$/.test(c.path)).map((c) => [c.body.state, c.body.environment_url]);
    expect(statuses).toContainEqual(['success', `http://${reviewHost(11)}`]);

    const list = await cli(['review', 'list', '--json']);
    succeeded(list);
    const apps = JSON.parse(list.stdout).reviewApps as { app: string; pullRequest: number; url: string; tag: string }[];
    expect(apps.map((a) => [a.app, a.pullRequest, a.url, a.tag]).sort()).toEqual([
      [`${APP}-pr-11`, 11, `http://${reviewHost(11)}`, fx.tags.v1], [`${APP}-pr-12`, 12, `http://${reviewHost(12)}`, fx.tags.v1],
    ]);
  }, T);

  test('a second push to a pull request replaces its review app with 0 failed requests to it, its data kept', async () => {
    const note = await request(base(), reviewHost(12), 'POST', '/notes/', JSON.stringify({ text: 'kept-across-pushes' }));
    expect(note.status).toBe(201);
    const load = startLoad({ url: `${base()}/health/`, host: reviewHost(12), concurrency: 4, maxMs: 600_000 });
    let stats;
    try {
      succeeded(await cli(['review', 'deploy', '12', '--tag', fx.tags.v2]));
    } finally {
      stats = await load.stop();
    }
    expect({ failed: stats.failed, failures: stats.failures }).toEqual({ failed: 0, failures: [] });
    expect((await fetchVersion(`${base()}/health/`, reviewHost(12))).version).toBe(fx.tags.v2);
    expect((await notes(12)).body).toContain('kept-across-pushes');
    // The main app and the other review app still run v1.
    expect((await fetchVersion(`${base()}/health/`, MAIN_HOST)).version).toBe(fx.tags.v1);
    expect((await fetchVersion(`${base()}/health/`, reviewHost(11))).version).toBe(fx.tags.v1);
  }, T);

  test('at review.max a new review app is refused naming the one idle longest, with nothing made; a closed pull request\'s app is reaped by the next deploy', async () => {
    const before = await inventory();
    const refused = await cli(['review', 'deploy', '13', '--tag', fx.tags.v1]);
    expect(refused.code).not.toBe(0);
    expect(refused.output).toContain('review.max is 2 and 2 review apps are live');
    expect(refused.output).toContain(`${APP}-pr-11 (pull request #11`);
    expect(refused.output).toContain('pallet review destroy 11');
    expect(await inventory()).toBe(before);

    // GitHub says #11 was closed (its closing run never came): the next review deploy removes it first.
    api.pulls = { 11: 'closed', 12: 'open' };
    const third = await action('review-deploy', 13, { tag: fx.tags.v1 });
    succeeded(third);
    expect(third.stdout).toContain(`removing the stale review app ${APP}-pr-11 on ${host()}: pull request #11 is closed`);
    expect((await notes(13)).status).toBe(200);
    expect((await notes(13)).body).not.toContain('only-in-pr-11');
    expect((await notes(11)).status).not.toBe(200);
    const listed = JSON.parse((await cli(['review', 'list', '--json'])).stdout).reviewApps.map((a: { app: string }) => a.app).sort();
    expect(listed).toEqual([`${APP}-pr-12`, `${APP}-pr-13`]);
  }, T);

  test('destroy, run twice, leaves the host as it was before the first review app and marks the deployments inactive', async () => {
    succeeded(await cli(['review', 'destroy', '12']));
    const closing = await action('review-destroy', 13, { action: 'closed' });
    succeeded(closing);
    const again = await action('review-destroy', 13, { action: 'closed' });
    succeeded(again);
    expect(again.stdout).toContain(`no review app ${APP}-pr-13`);
    expect(await inventory()).toBe(baseline);
    expect((await request(base(), MAIN_HOST, 'GET', '/health/')).status).toBe(200);
    const inactive = api.calls.filter((c) => c.method === 'POST' && /\/statuses$/.test(c.path) && c.body.state === 'inactive');
    expect(inactive.length).toBeGreaterThan(0);
    expect(api.calls.filter((c) => c.method === 'GET' && c.path.includes('/deployments?')).map((c) => decodeURIComponent(c.path))).toContainEqual(expect.stringContaining('environment=review/pr-13'));
  }, T);

  test('a review app whose first deploy fails (its migration) leaves nothing behind', async () => {
    const before = await inventory();
    expect(before).toBe(baseline);
    const r = await cli(['review', 'deploy', '15', '--tag', fx.tags.migrate]);
    expect(r.code).not.toBe(0);
    expect(r.output).toContain("deploy task 'deploy' failed");
    expect(r.output).toContain(`removed what the failed first deploy of ${APP}-pr-15 made`);
    expect(await inventory()).toBe(baseline);
    expect(JSON.parse((await cli(['review', 'list', '--json'])).stdout).reviewApps).toEqual([]);
  }, T);

  test('a pull request from a fork: the action refuses the review deploy and touches nothing', async () => {
    const before = await inventory();
    const r = await action('review-deploy', 14, { tag: fx.tags.v1, fork: true });
    expect(r.code).not.toBe(0);
    expect(r.stdout + r.stderr).toContain('pull request #14 comes from the fork mallory/shop');
    expect(await inventory()).toBe(before);
    // The password the review services got never reached a log or summary (only the runner's mask command names it).
    const shown = outputs.join('\n').split('\n').filter((l) => !l.includes('::add-mask::')).join('\n');
    expect(shown).not.toMatch(/postgres:\/\/app:[0-9a-f]{24}@/);
    expect(passwords.length).toBeGreaterThan(0);
    for (const p of passwords) expect(shown).not.toContain(p);
  }, T);
});
