// The `test` command as the runner runs the action (INPUT_*, GITHUB_OUTPUT/STATE/STEP_SUMMARY
// files, a post step fed from the saved state): the example Django app against lab PostgreSQL,
// a deliberately failing suite, and a runner killed mid-test whose post step cleans up.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { buildExampleImage, EXAMPLE_APP_DIR } from '../helpers/example-image.js';
import { REPO_ROOT } from '../helpers/lab.js';
import { runLikeRunner, type RunnerOptions, type RunnerResult } from '../helpers/runner.js';
import { docker, labMissing, labServiceImages, leftovers, sweep, uniqueApp, writeConfigDir } from '../helpers/cleanroom-lab.js';
import { ACTION_COMMAND } from '../helpers/entry.js';

const images = labServiceImages();
const missing = await labMissing([images.postgres, 'pallet-lab/django:bookworm', 'pallet-lab/builder:bookworm']);
if (missing) console.warn(`skipping cleanroom action e2e: ${missing}`);
const d = missing ? describe.skip : describe;
const T = 600_000;

const ACTION = ACTION_COMMAND;

function runAction(inputs: Record<string, string>, opts: Omit<RunnerOptions, 'command' | 'inputs'> = {}): Promise<RunnerResult> {
  return runLikeRunner('', { command: ACTION, cwd: REPO_ROOT, inputs, ...opts });
}

/** The post step: the saved state handed back as STATE_*, as the runner does. */
function runPost(main: RunnerResult): Promise<RunnerResult> {
  return runLikeRunner('', { command: ACTION, cwd: REPO_ROOT, state: main.state });
}

async function waitForTestContainer(app: string, timeoutMs = 120_000): Promise<string> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    const found = await docker.listContainers({ filters: JSON.stringify({ label: [`pallet.app=${app}`, 'pallet.role=test'], status: ['running'] }) });
    if (found.length) return found[0].Labels['pallet.run'];
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`no running test container for ${app} within ${timeoutMs}ms`);
}

d('pallet test as the action runs it', () => {
  const apps: string[] = [];
  afterAll(async () => {
    for (const app of apps) await sweep([`pallet.app=${app}`]);
  });

  test('the example app\'s database tests pass against lab PostgreSQL; junit artifact copied; nothing left', async () => {
    const tag = 'pallet-e2e/example:cleanroom';
    await buildExampleImage({ tag });
    const work = writeConfigDir({});
    const res = await runAction({
      command: 'test', config: path.join(EXAMPLE_APP_DIR, 'pallet.yml'), 'working-directory': work,
      image: 'pallet-e2e/example', tag: 'cleanroom',
    });
    if (res.code !== 0) console.log(res.stdout, res.stderr);
    expect(res.code).toBe(0);
    expect(res.outputs['test-exit-code']).toBe('0');
    expect(res.stdout).toMatch(/postgres \(pallet-lab\/postgres:15\) ready in/);
    expect(res.stdout).toMatch(/Ran \d+ tests/);
    expect(res.stdout).toMatch(/^OK/m);
    // The app's output is streamed with workflow commands switched off (it could print `::add-mask::`...).
    expect(res.stdout).toMatch(/::stop-commands::([0-9a-f]{32})\n[\s\S]*Ran \d+ tests[\s\S]*\n::\1::\n/);
    expect(res.summary).toContain('Cleanroom tests: passed');
    const junit = path.join(work, 'pallet-artifacts', '0', 'junit.xml');
    expect(existsSync(junit)).toBe(true);
    expect(readFileSync(junit, 'utf8')).toContain('<testsuite');
    const runId = /cleanroom run ([0-9a-f]{8})/.exec(res.stdout)?.[1];
    expect(runId).toBeDefined();
    expect(await leftovers([`pallet.run=${runId}`])).toEqual({ containers: [], networks: [] });
    expect(JSON.parse(res.state['pallet-cleanup'])).toEqual([]);
  }, T);

  test('FAULT=test: the step fails, the failing test\'s output is visible, test-exit-code is set', async () => {
    const tag = 'pallet-e2e/example:cleanroom-fault-test';
    await buildExampleImage({ tag, fault: 'test' });
    const work = writeConfigDir({});
    const res = await runAction({
      command: 'test', config: path.join(EXAMPLE_APP_DIR, 'pallet.yml'), 'working-directory': work,
      image: 'pallet-e2e/example', tag: 'cleanroom-fault-test',
    });
    expect(res.code).not.toBe(0);
    expect(res.outputs['test-exit-code']).toBeDefined();
    expect(res.outputs['test-exit-code']).not.toBe('0');
    expect(res.stdout).toContain('test_no_test_fault_baked_in');
    expect(res.stdout).toContain('deliberate failure: image built with FAULT=test');
    expect(res.stdout).toMatch(/FAILED \(failures=1\)/);
    expect(res.stdout).toContain('::error title=cleanroom tests failed::cleanroom tests failed: shard 0: exit 1');
    expect(res.summary).toContain('Cleanroom tests: FAILED');
    const runId = /cleanroom run ([0-9a-f]{8})/.exec(res.stdout)?.[1];
    expect(await leftovers([`pallet.run=${runId}`])).toEqual({ containers: [], networks: [] });
  }, T);

  /** A config whose "test" keeps running until killed: the lab PostgreSQL image as the app. */
  function slowTestConfig(app: string): string {
    const [repo, tag] = images.postgres.split(/:(?=[^/:]+$)/);
    const dir = writeConfigDir({
      app,
      image: repo,
      build: { context: '.' },
      test: {
        command: ['sh', '-c', 'echo test started; exec sleep 300'],
        services: [{ name: 'postgres', image: images.postgres }, { name: 'redis', image: images.redis }],
        timeout: 600,
      },
    });
    return JSON.stringify({ dir, tag });
  }

  test.each(['SIGTERM', 'SIGKILL'] as const)('%s to the runner mid-test, then the post step: no container or network of the run remains', async (sig) => {
    const app = uniqueApp(`sig-${sig.toLowerCase()}`);
    apps.push(app);
    const { dir, tag } = JSON.parse(slowTestConfig(app)) as { dir: string; tag: string };
    let pid = 0;
    const main = runAction({ command: 'test', config: 'pallet.yml', 'working-directory': dir, tag }, { onStart: (p) => { pid = p; } });
    const runId = await waitForTestContainer(app);
    const during = await leftovers([`pallet.run=${runId}`]);
    expect(during.containers.length).toBe(3); // postgres, redis, test
    expect(during.networks.length).toBe(1);
    process.kill(pid, sig);
    const res = await main;
    expect(res.code === 0).toBe(false);
    if (sig === 'SIGKILL') {
      // No chance to clean up: the post step is all that stands between us and leftovers, and the
      // ledger entry reached the saved state before anything was created.
      expect((await leftovers([`pallet.run=${runId}`])).containers.length).toBe(3);
      expect(JSON.parse(res.state['pallet-cleanup'])).toEqual([{ kind: 'docker-label', label: 'pallet.run', value: runId }]);
    } else {
      expect(res.stdout).toContain('received SIGTERM: stopping and cleaning up');
    }
    const post = await runPost(res);
    expect(post.code).toBe(0);
    expect(await leftovers([`pallet.run=${runId}`])).toEqual({ containers: [], networks: [] });
    expect(await leftovers([`pallet.app=${app}`])).toEqual({ containers: [], networks: [] });
  }, T);
});
