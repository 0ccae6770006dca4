// The hint for a registry request that went out without (valid) credentials: one pure function
// used by the hosts' pull and login (deploy), the push, and the local engine's errors.
import { REGISTRY_CREDENTIALS, registryAuthHint, withRegistryAuthHint } from '../../src/docker/registry-hint.js';
import { classifyEngineError } from '../../src/docker/engine-errors.js';

const NONE = 'the registry wants credentials and none were given: set the registry-username and registry-password inputs (action), or --registry-username with --registry-password-file PATH or PALLET_REGISTRY_PASSWORD (CLI)';
const WRONG = 'the registry refused the credentials given: check that the registry-username / registry-password (CLI: --registry-username, --registry-password-file) account may use this image';

test.each<[string, string, boolean, string | undefined]>([
  ['push without login', 'no basic auth credentials', false, NONE],
  ['host pull without login', 'Error response from daemon: Head "https://r.example.com/v2/shop/manifests/build-42": no basic auth credentials', false, NONE],
  ['pull, registry with auth', 'Error response from daemon: unauthorized: authentication required', false, NONE],
  ['any case', 'UNAUTHORIZED: Authentication Required', false, NONE],
  ['login with a wrong password', 'Error response from daemon: Get "https://r.example.com/v2/": unauthorized: authentication required', true, WRONG],
  ['a missing image is something else', 'Error response from daemon: manifest for r.example.com/shop:build-9 not found: manifest unknown', false, undefined],
  ['a network error is something else', 'dial tcp 10.0.0.5:443: connect: connection refused', false, undefined],
  ['empty output', '', false, undefined],
])('%s', (_n, output, given, want) => {
  expect(registryAuthHint(output, given)).toBe(want);
});

test('withRegistryAuthHint appends a hint line, or leaves the detail alone', () => {
  expect(withRegistryAuthHint('Pulling from shop | no basic auth credentials')).toBe(`Pulling from shop | no basic auth credentials\n  hint: ${NONE}`);
  expect(withRegistryAuthHint('manifest unknown')).toBe('manifest unknown');
});

test('the CLI flags named are real flags (and the password is never one)', () => {
  expect(REGISTRY_CREDENTIALS).toContain('--registry-password-file PATH');
  expect(REGISTRY_CREDENTIALS).not.toMatch(/--registry-password(?!-file)/);
});

test("the local engine's registry-denied error names the same credentials", () => {
  expect(classifyEngineError('unauthorized: authentication required')?.hint).toBe(`give registry credentials that may pull (and push) this image: ${REGISTRY_CREDENTIALS}`);
});
