// The wheelhouse through the REAL @actions/cache against a local cache service
// (test/helpers/cache-server.ts, the v1 protocol the library uses by default): a fresh runner
// misses and saves, the next fresh runner hits and builds nothing, a changed local package is
// a partial hit that rebuilds only that package. The build command's output says which.
import { jest } from '@jest/globals';
import Docker from 'dockerode';
import { appendFileSync } from 'node:fs';
import path from 'node:path';
import { labAvailable, readLab } from '../helpers/lab.js';
import { startCacheServer, type CacheServer } from '../helpers/cache-server.js';
import { copyExampleApp, fixtureContext, removeDir, removeRepoImages, runId } from '../../bench/lib/build-fixture.js';
import { runBuildCommand } from '../../src/commands/build.js';
import { CliReporter, setReporter } from '../../src/util/reporter.js';

jest.setTimeout(600_000);
const describeLab = labAvailable() ? describe : describe.skip;
if (!labAvailable()) console.warn('cache e2e skipped: no lab descriptor (run `npm run lab:up`)');

const docker = new Docker();
const rid = runId();
const saved: Record<string, string | undefined> = {};
let server: CacheServer;
let appDir: string;
let image: string;
const log: string[] = [];

describeLab('wheelhouse through the Actions cache service', () => {
  beforeAll(async () => {
    const lab = readLab();
    image = `${lab.registry.address}/e2e/cache-${rid}`;
    server = await startCacheServer();
    appDir = await copyExampleApp();
    // @actions/cache reads process.env: point it at the local service (v1 protocol).
    const env = { ...server.env, GITHUB_WORKSPACE: appDir, ACTIONS_CACHE_SERVICE_V2: undefined, GITHUB_SERVER_URL: undefined, ACTIONS_RESULTS_URL: undefined };
    for (const [k, v] of Object.entries(env)) {
      saved[k] = process.env[k];
      if (v === undefined) delete process.env[k]; else process.env[k] = v;
    }
    setReporter(new CliReporter((l) => log.push(l), (l) => log.push(l)));
  });
  afterAll(async () => {
    for (const [k, v] of Object.entries(saved)) if (v === undefined) delete process.env[k]; else process.env[k] = v;
    await server?.close();
    if (image) await removeRepoImages(docker, image);
    if (appDir) await removeDir(appDir);
  });

  // No registry credentials: this is about the wheelhouse, not the layer-cache push.
  const build = (tag: string) => runBuildCommand(fixtureContext({ dir: appDir, image, tag, username: '', password: '', env: { ...server.env } }));
  const freshRunner = () => removeDir(path.join(appDir, 'wheelhouse'));

  test('miss then save, hit on a fresh runner, partial hit after a local package change', async () => {
    const miss = await build('build-1');
    expect(miss.outputs['wheelhouse-cache']).toBe('miss');
    expect(log.some((l) => /^wheelhouse: cache miss \(key pallet-wheelhouse-v1-example-[^)]*\): built 2: /.test(l))).toBe(true);
    expect(server.entries.filter((e) => e.archive).map((e) => e.key)).toEqual([expect.stringMatching(/^pallet-wheelhouse-v1-example-linux-/)]);
    expect(server.requests).toContain('POST /_apis/artifactcache/caches');

    await freshRunner();
    log.length = 0;
    const downloadsBefore = server.requests.filter((r) => r.startsWith('GET /download/')).length;
    const hit = await build('build-2');
    expect(hit.outputs['wheelhouse-cache']).toBe('hit');
    expect(log.some((l) => /^wheelhouse: cache hit \(key .*, from GitHub Actions cache\), 0 wheels built$/.test(l))).toBe(true);
    expect(log.some((l) => /pip wheel/.test(l))).toBe(false); // no builder run at all
    expect(server.requests.filter((r) => r.startsWith('GET /download/')).length).toBe(downloadsBefore + 1);

    appendFileSync(path.join(appDir, 'packages', 'fastslug', 'fastslug', '__init__.py'), `\n# changed ${rid}\n`);
    await freshRunner();
    log.length = 0;
    const partial = await build('build-3');
    expect(partial.outputs['wheelhouse-cache']).toBe('partial');
    expect(log.some((l) => /^wheelhouse: partial hit \(key [^)]*\): reused 1, built 1: fastslug$/.test(l))).toBe(true);
    expect(server.entries.filter((e) => e.archive)).toHaveLength(2);
  });
});
