// The wheelhouse through the REAL @actions/cache against a local cache service, in both protocol
// versions the library speaks: version 1 (REST under ACTIONS_CACHE_URL, test/helpers/cache-server.ts)
// and version 2, what GitHub-hosted runners use now (Twirp under ACTIONS_RESULTS_URL with the archive
// in Azure Blob storage: test/helpers/cache-service-v2.ts, a Twirp stand-in in front of a real
// Azurite). Each: a fresh runner misses and saves, the next fresh runner hits and builds nothing, a
// changed local package is a partial hit that rebuilds only that package. The build command's output
// says which.
import { jest } from '@jest/globals';
import Docker from 'dockerode';
import { appendFileSync } from 'node:fs';
import path from 'node:path';
import { describeLab, readLab } from '../helpers/lab.js';
import { startCacheServer } from '../helpers/cache-server.js';
import { BLOB_HOST, startCacheServiceV2 } from '../helpers/cache-service-v2.js';
import { copyExampleApp, fixtureContext, removeDir, removeRepoImages, runId } from '../../bench/lib/build-fixture.js';
import { runBuildCommand } from '../../src/commands/build.js';
import { CliReporter, setReporter } from '../../src/util/reporter.js';

jest.setTimeout(600_000);

const docker = new Docker();

/** What the scenario needs from either service: its environment and what it holds and served. */
interface CacheService {
  /** For process.env (where @actions/cache reads it); `undefined` unsets a variable. */
  env: Record<string, string | undefined>;
  /** Keys of the entries that were saved completely (uploaded and committed/finalized). */
  savedKeys(): Promise<string[]>;
  /** How many archive downloads the service (or its blob store) served so far. */
  downloads(): number;
  /** Protocol-specific checks after the first save and after the hit. */
  checkSaved(): Promise<void>;
  checkRestored(): void;
  close(): Promise<void>;
}

async function version1(): Promise<CacheService> {
  const server = await startCacheServer();
  return {
    env: { ...server.env, ACTIONS_CACHE_SERVICE_V2: undefined, GITHUB_SERVER_URL: undefined, ACTIONS_RESULTS_URL: undefined },
    savedKeys: async () => server.entries.filter((e) => e.archive).map((e) => e.key),
    downloads: () => server.requests.filter((r) => r.startsWith('GET /download/')).length,
    checkSaved: async () => { expect(server.requests).toContain('POST /_apis/artifactcache/caches'); },
    checkRestored: () => undefined,
    close: () => server.close(),
  };
}

async function version2(): Promise<CacheService> {
  const svc = await startCacheServiceV2();
  const saved = () => svc.entries.filter((e) => e.size !== undefined);
  return {
    // GITHUB_SERVER_URL unset means github.com: the library uses version 2 only off GHES.
    env: { ...svc.env, GITHUB_SERVER_URL: undefined },
    savedKeys: async () => saved().map((e) => e.key),
    downloads: () => svc.blobRequests.filter((r) => r.startsWith('GET ')).length,
    checkSaved: async () => {
      expect(svc.calls).toEqual(['GetCacheEntryDownloadURL', 'CreateCacheEntry', 'FinalizeCacheEntryUpload']);
      // The Azure SDK wrote the archive to Azurite with a block-blob PUT through the signed URL, and
      // Azurite holds exactly the bytes the library finalized.
      const [entry] = saved();
      expect(svc.blobRequests).toContain(`PUT /actions-cache/${entry.blob}`);
      expect(entry.size).toBeGreaterThan(0);
      expect(await svc.blobSize(entry.blob)).toBe(entry.size);
      expect(svc.refused).toEqual([]);
    },
    checkRestored: () => {
      // The Azure SDK's download (properties, then ranged GETs), taken only for *.blob.core.windows.net.
      expect(svc.calls.slice(-1)).toEqual(['GetCacheEntryDownloadURL']);
      expect(svc.blobRequests.slice(-2)).toEqual([`HEAD /actions-cache/${svc.entries[0].blob}`, `GET /actions-cache/${svc.entries[0].blob}`]);
      expect(svc.refused).toEqual([]);
    },
    close: () => svc.close(),
  };
}

describeLab('wheelhouse through the Actions cache service', () => describe.each([
  ['version 1 (REST under ACTIONS_CACHE_URL)', version1],
  [`version 2 (Twirp under ACTIONS_RESULTS_URL, archive in Azurite as ${BLOB_HOST})`, version2],
])('%s', (_name, start) => {
  const rid = runId();
  const saved: Record<string, string | undefined> = {};
  const log: string[] = [];
  let service: CacheService;
  let appDir: string;
  let image: string;

  beforeAll(async () => {
    const lab = readLab();
    image = `${lab.registry.address}/e2e/cache-${rid}`;
    service = await start();
    appDir = await copyExampleApp();
    // @actions/cache reads process.env: point it at the local service.
    for (const [k, v] of Object.entries({ ...service.env, GITHUB_WORKSPACE: appDir })) {
      saved[k] = process.env[k];
      if (v === undefined) delete process.env[k]; else process.env[k] = v;
    }
    setReporter(new CliReporter((l) => log.push(l), (l) => log.push(l)));
  });
  afterAll(async () => {
    for (const [k, v] of Object.entries(saved)) if (v === undefined) delete process.env[k]; else process.env[k] = v;
    await service?.close();
    if (image) await removeRepoImages(docker, image);
    if (appDir) await removeDir(appDir);
  });

  // No registry credentials: this is about the wheelhouse, not the layer-cache push.
  const build = (tag: string) => {
    const env = Object.fromEntries(Object.entries(service.env).filter((e): e is [string, string] => e[1] !== undefined));
    return runBuildCommand(fixtureContext({ dir: appDir, image, tag, username: '', password: '', env }));
  };
  const freshRunner = () => removeDir(path.join(appDir, 'wheelhouse'));

  test('miss then save, hit on a fresh runner, partial hit after a local package change', async () => {
    const miss = await build('build-1');
    expect(miss.outputs['wheelhouse-cache']).toBe('miss');
    expect(log.some((l) => /^wheelhouse: cache miss \(key pallet-wheelhouse-v1-example-[^)]*\): built 2: /.test(l))).toBe(true);
    expect(await service.savedKeys()).toEqual([expect.stringMatching(/^pallet-wheelhouse-v1-example-linux-/)]);
    await service.checkSaved();

    await freshRunner();
    log.length = 0;
    const downloadsBefore = service.downloads();
    const hit = await build('build-2');
    expect(hit.outputs['wheelhouse-cache']).toBe('hit');
    expect(log.some((l) => /^wheelhouse: cache hit \(key .*, from GitHub Actions cache\), 0 wheels built$/.test(l))).toBe(true);
    expect(log.some((l) => /pip wheel/.test(l))).toBe(false); // no builder run at all
    expect(service.downloads()).toBe(downloadsBefore + 1);
    service.checkRestored();

    appendFileSync(path.join(appDir, 'packages', 'fastslug', 'fastslug', '__init__.py'), `\n# changed ${rid}\n`);
    await freshRunner();
    log.length = 0;
    const partial = await build('build-3');
    expect(partial.outputs['wheelhouse-cache']).toBe('partial');
    expect(log.some((l) => /^wheelhouse: partial hit \(key [^)]*\): reused 1, built 1: fastslug$/.test(l))).toBe(true);
    expect(await service.savedKeys()).toHaveLength(2);
  });
}));
