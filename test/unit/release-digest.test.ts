// Deploys by digest: the host commands on whole argument lists, the pure readers of their output,
// the registry naming rules, the test record's tag and the promotion's agreement check.
import { digestOf, parseLiveRelease, pullDigestArgv, releaseRef } from '../../src/deploy/commands.js';
import { registryBaseUrl, sha256Digest, splitRepository } from '../../src/registry/client.js';
import { testRecordTag, untestedError } from '../../src/registry/test-record.js';
import { agreedRelease } from '../../src/commands/promote.js';
import { composeDocument } from '../../src/swarm/compose.js';
import { planSwarm } from '../../src/swarm/plan.js';
import type { PalletConfig } from '../../src/config/types.js';

const D = `sha256:${'1f'.repeat(32)}`;
const E = `sha256:${'2e'.repeat(32)}`;
const IMAGE = 'registry.example.com/team/shop';

describe('host commands', () => {
  test('pull by digest, then the release tag names exactly those bytes; DOCKER_CONFIG only as an argument', () => {
    expect(pullDigestArgv(IMAGE, D, 'build-7', '/tmp/pallet-dc-1')).toEqual(['sh', '-c',
      '[ -z "$4" ] || export DOCKER_CONFIG="$4"\ndocker pull "$1@$2" && docker tag "$1@$2" "$1:$3"', 'pallet-pull-digest', IMAGE, D, 'build-7', '/tmp/pallet-dc-1']);
    expect(pullDigestArgv(IMAGE, D, 'build-7').at(-1)).toBe('');
  });

  test.each([
    ['the digest of this repository among several', `["other/repo@${E}","${IMAGE}@${D}"]\n`, D],
    ['an image built on the host has none', '[]\n', ''],
    ['unreadable output', 'Error: No such image\n', ''],
  ])('digestOf: %s', (_n, out, want) => {
    expect(digestOf(out, IMAGE)).toBe(want);
  });

  test('live release: tag and digest; a host without the app has neither', () => {
    expect(parseLiveRelease(`tag=build-7\ndigests=["${IMAGE}@${D}"]\n`, IMAGE)).toEqual({ tag: 'build-7', digest: D });
    expect(parseLiveRelease('tag=\n', IMAGE)).toEqual({ tag: '', digest: '' });
  });

  test('the audit log writes a release as tag@digest', () => {
    expect(releaseRef('build-7', D)).toBe(`build-7@${D}`);
    expect(releaseRef('build-7')).toBe('build-7');
  });
});

describe('registry', () => {
  test.each([
    ['registry.example.com/team/shop', { registry: 'registry.example.com', name: 'team/shop' }],
    ['127.0.0.1:5000/pallet/example', { registry: '127.0.0.1:5000', name: 'pallet/example' }],
    ['ghcr.io/acme/app', { registry: 'ghcr.io', name: 'acme/app' }],
    ['library-less', { registry: 'docker.io', name: 'library/library-less' }],
    ['acme/app', { registry: 'docker.io', name: 'acme/app' }],
  ])('%s', (image, want) => {
    expect(splitRepository(image)).toEqual(want);
  });

  test('loopback registries over plain HTTP, the rest over HTTPS, Docker Hub at its API host', () => {
    expect(['127.0.0.1:5000', 'localhost:5000', 'ghcr.io', 'docker.io'].map(registryBaseUrl))
      .toEqual(['http://127.0.0.1:5000', 'http://localhost:5000', 'https://ghcr.io', 'https://registry-1.docker.io']);
  });

  test('digests are sha256 over the exact bytes', () => {
    expect(sha256Digest(Buffer.from('{}'))).toBe('sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a');
  });

  test('the test record lives under the digest\'s tag', () => {
    expect(testRecordTag(D)).toBe(`sha256-${'1f'.repeat(32)}.pallet-tested`);
  });

  test('the refusal names the digest, the record it looked for, and both ways forward', () => {
    const e = untestedError(IMAGE, 'build-7', D, 'production', 'flag');
    expect(e.message).toBe(`deploy refused, nothing was changed: ${IMAGE}:build-7 (${D}) has no passing test record on the registry (${testRecordTag(D)})`);
    expect(e.hint).toContain("run 'pallet ci'");
    expect(e.hint).toContain('--allow-untested');
    expect(e.hint).toContain('deploy.require_tested: false for environment production');
    expect(untestedError(IMAGE, 'build-7', D, undefined, 'input').hint).toContain('allow-untested: true');
  });
});

describe('promote: the source environment must run one release', () => {
  test('every host on one tag and digest', () => {
    expect(agreedRelease('staging', [{ host: 'a', tag: 'build-7', digest: D }, { host: 'b', tag: 'build-7', digest: D }]))
      .toEqual({ tag: 'build-7', digest: D, hosts: ['a', 'b'] });
  });

  test.each([
    ['hosts on different digests', [{ host: 'a', tag: 'build-7', digest: D }, { host: 'b', tag: 'build-7', digest: E }], /staging's hosts run different releases: a=build-7@sha256:1f1f1f1f1f1f, b=build-7@sha256:2e2e2e2e2e2e/],
    ['a host without the app', [{ host: 'a', tag: 'build-7', digest: D }, { host: 'b', tag: '', digest: '' }], /staging has no release on b/],
    ['an image without a registry digest', [{ host: 'a', tag: 'build-7', digest: '' }], /runs on a \(build-7\) has no registry digest/],
    ['a host that cannot be asked', [{ host: 'a', tag: '', digest: '', error: 'Connection refused' }], /cannot read what staging runs: a: Connection refused/],
  ])('refused: %s', (_n, rows, message) => {
    expect(() => agreedRelease('staging', rows)).toThrow(message);
  });
});

test('Swarm: a service of the deploy runs image:tag@digest', () => {
  const config = {
    app: 'shop', image: IMAGE, build: { context: '/x', dockerfile: 'Dockerfile', args: {}, tags: [] },
    test: { command: ['test'], services: [], environment: {}, shards: 1, artifacts: [], timeout: 60 },
    deploy: {
      ssh: { user: 'deploy', port: 22 }, swarm: { manager: 'mgr', publish: 'host' }, proxy: false, env_file: '/etc/pallet/shop.env', tasks: [],
      roles: { web: { hosts: [], command: 'serve', port: 8000, health: { path: '/health/', timeout: 30 }, stop_timeout: 5 } }, rolling: { batch: 1 }, keep: 3, require_tested: true,
    },
    source: { file: '/x/pallet.yml', dir: '/x' },
  } as PalletConfig;
  const plan = planSwarm(config);
  expect(composeDocument(plan, plan.services[0], { tag: 'build-7', digest: D, parallelism: 1 })).toMatchObject({ services: { web: { image: `${IMAGE}:build-7@${D}` } } });
  expect(composeDocument(plan, plan.services[0], { tag: 'build-6', parallelism: 1 })).toMatchObject({ services: { web: { image: `${IMAGE}:build-6` } } });
});
