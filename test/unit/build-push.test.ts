import { backoffDelay, classifyPushFailure, PushProgress } from '../../src/builder/push-stream.js';
import { registryAuth, registryHostOf, serverAddress, splitTag } from '../../src/builder/registry.js';

describe('classifyPushFailure', () => {
  test.each([
    ['unauthorized: authentication required', undefined, 'auth'],
    ['denied: requested access to the resource is denied', undefined, 'auth'],
    ['no basic auth credentials', undefined, 'auth'],
    ['anything', 401, 'auth'],
    ['anything', 403, 'auth'],
    ['received unexpected HTTP status: 502 Bad Gateway', undefined, 'transient'],
    ['read tcp 127.0.0.1:5000: read: connection reset by peer', undefined, 'transient'],
    ['connect ECONNRESET', undefined, 'transient'],
    ['net/http: TLS handshake timeout', undefined, 'transient'],
    ['server error', 500, 'transient'],
    ['An image does not exist locally with the tag: x', undefined, 'fatal'],
  ])('%s (%s) -> %s', (msg, code, kind) => {
    expect(classifyPushFailure(msg, code)).toBe(kind);
  });
});

test.each([[1, 1000], [2, 2000], [3, 4000], [10, 30000]])('backoff attempt %i -> %i ms', (n, ms) => {
  expect(backoffDelay(n, 1000)).toBe(ms);
});

test('push progress: state changes once per layer, byte progress throttled, digest from aux', () => {
  let t = 0;
  const p = new PushProgress(() => t, 2000);
  const lines = [
    { status: 'The push refers to repository [r/a]' },
    { status: 'Preparing', id: 'l1' }, { status: 'Waiting', id: 'l1' },
    { status: 'Pushing', id: 'l1', progressDetail: { current: 512, total: 1024 * 1024 } },
    { status: 'Pushing', id: 'l1', progressDetail: { current: 1024, total: 1024 * 1024 } },
    { status: 'Pushed', id: 'l1' }, { status: 'Pushed', id: 'l1' },
    { status: 'Layer already exists', id: 'l2' },
    { status: 'build-1: digest: sha256:abc size: 1234' },
    { aux: { Tag: 'build-1', Digest: 'sha256:abc', Size: 1234 } },
  ].flatMap((e) => { t += 500; return p.push(e); });
  expect(lines).toEqual(['The push refers to repository [r/a]', 'l1: pushing 0% of 1.0 MB', 'l1: Pushed', 'l2: Layer already exists', 'build-1: digest: sha256:abc size: 1234']);
  expect(p.digest).toBe('sha256:abc');
  expect(p.layers).toEqual({ pushed: 1, existed: 1 });
});

test('push progress records stream errors', () => {
  const p = new PushProgress();
  p.push({ errorDetail: { message: 'unauthorized: authentication required' }, error: 'unauthorized: authentication required' });
  expect(p.error).toBe('unauthorized: authentication required');
});

describe('registry', () => {
  test.each([
    ['127.0.0.1:5000/e2e/app', '127.0.0.1:5000'],
    ['registry.example.com/team/app', 'registry.example.com'],
    ['localhost/app', 'localhost'],
    ['team/app', 'docker.io'],
    ['app', 'docker.io'],
  ])('host of %s is %s', (image, host) => {
    expect(registryHostOf(image)).toBe(host);
  });
  test('docker hub server address', () => {
    expect(serverAddress('docker.io')).toBe('https://index.docker.io/v1/');
  });
  test.each([
    [{ image: '127.0.0.1:5000/a', username: 'u', password: 'p' }, { username: 'u', password: 'p', serveraddress: '127.0.0.1:5000' }],
    [{ image: '127.0.0.1:5000/a', registry: 'other:1', username: 'u', password: 'p' }, { username: 'u', password: 'p', serveraddress: 'other:1' }],
    [{ image: '127.0.0.1:5000/a' }, undefined],
  ])('auth %#', (inp, expected) => {
    expect(registryAuth(inp)).toEqual(expected);
  });
  test.each([
    ['127.0.0.1:5000/a:build-1', { repo: '127.0.0.1:5000/a', tag: 'build-1' }],
    ['127.0.0.1:5000/a', { repo: '127.0.0.1:5000/a' }],
  ])('splitTag %s', (ref, expected) => {
    expect(splitTag(ref)).toEqual(expected);
  });
});
