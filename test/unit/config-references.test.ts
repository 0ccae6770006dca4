// Image references, SSH host addresses and did-you-mean: the pure parsers behind the loader.
import { hostKey, imageReferenceProblem, imageRepositoryProblem, parseHostAddress, parseImageRef } from '../../src/config/references.js';
import { closestKey, editDistance, unknownKeyMessage } from '../../src/config/did-you-mean.js';

describe('image references', () => {
  test.each<[string, unknown]>([
    ['shop', { repository: 'shop' }],
    ['team/shop', { repository: 'team/shop' }],
    ['registry.example.com/team/shop', { registry: 'registry.example.com', repository: 'registry.example.com/team/shop' }],
    ['127.0.0.1:5000/lab/shop:build-7', { registry: '127.0.0.1:5000', repository: '127.0.0.1:5000/lab/shop', tag: 'build-7' }],
    ['localhost/shop', { registry: 'localhost', repository: 'localhost/shop' }],
    ['python:3.12-bookworm', { repository: 'python', tag: '3.12-bookworm' }],
    [`a/b@sha256:${'0'.repeat(64)}`, { repository: 'a/b', digest: `sha256:${'0'.repeat(64)}` }],
    ['Team/shop', 'must be lowercase'],
    ['my shop', 'must not contain spaces'],
    ['', 'must not be empty'],
    ['shop:-bad', "has an invalid tag ':-bad'"],
    ['reg.example.com:x/shop', "has an invalid registry host 'reg.example.com:x'"],
    ['team//shop', "has an invalid path component ''"],
  ])('%s', (ref, want) => {
    const got = parseImageRef(ref);
    if (typeof want === 'string') expect(got).toBe(want);
    else expect(got).toMatchObject(want as object);
  });

  test.each<[string, string | undefined, string | undefined]>([
    // ref, as `image` (repository only), as a pullable reference
    ['registry.example.com/team/shop', undefined, undefined],
    ['team/shop:v1', "must not include a tag (':v1'); the tag comes from the 'tag' input", undefined],
    [`team/shop@sha256:${'a'.repeat(64)}`, "must not include a digest; the tag comes from the 'tag' input", undefined],
    ['Team/shop', 'must be lowercase', 'must be lowercase'],
    ['a..b/c', "'a..b/c' is not a valid image repository; expected [registry[:port]/]name, e.g. registry.example.com/team/app",
      "'a..b/c' is not a valid image reference; expected [registry[:port]/]name[:tag], e.g. python:3.12-bookworm"],
  ])('%s: repository and reference problems', (ref, asRepository, asReference) => {
    expect(imageRepositoryProblem(ref)).toBe(asRepository);
    expect(imageReferenceProblem(ref)).toBe(asReference);
  });
});

describe('host addresses', () => {
  test.each<[string, unknown]>([
    ['app1', { host: 'app1' }],
    ['app1.example.com', { host: 'app1.example.com' }],
    ['deploy@app1:2222', { user: 'deploy', host: 'app1', port: 2222 }],
    ['127.0.0.1:2201', { host: '127.0.0.1', port: 2201 }],
    ['root@[::1]:22', { user: 'root', host: '[::1]', port: 22 }],
    ['app 1', 'must not contain spaces'],
    ['app1\t', 'must not contain spaces'],
    ['app1;reboot', "must not contain the shell character ';'"],
    ['$(reboot)', "must not contain the shell character '$'"],
    ['`id`', "must not contain the shell character '`'"],
    ['a|b', "must not contain the shell character '|'"],
    ['a&&b', "must not contain the shell character '&'"],
    ['-oProxyCommand=x', "must not start with '-'"],
    ['app1:70000', 'port 70000 is out of range 1-65535'],
    ['app1:0', 'port 0 is out of range 1-65535'],
    ['app1:', 'is malformed'],
    ['Deploy@app1', 'is malformed'],
    ['@app1', 'is malformed'],
    ['', 'must not be empty'],
  ])('%j', (s, want) => {
    const got = parseHostAddress(s);
    if (typeof want === 'string') expect(got).toBe(want);
    else expect(got).toEqual({ user: undefined, port: undefined, ...(want as object) });
  });

  test('host identity fills in the deploy user and port, so duplicates are found', () => {
    const d = { user: 'deploy', port: 22 };
    const key = (s: string) => hostKey(parseHostAddress(s) as never, d);
    expect(key('app1')).toBe(key('deploy@APP1:22'));
    expect(key('app1')).not.toBe(key('app1:2222'));
    expect(key('app1')).not.toBe(key('root@app1'));
  });
});

describe('did you mean', () => {
  test.each<[string, string, number]>([
    ['dockerfile', 'dockerfiel', 1],
    ['image', 'imgae', 1],
    ['hosts', 'hots', 1],
    ['build', 'build', 0],
    ['abc', '', 3],
  ])('distance(%s, %s) = %d', (a, b, d) => expect(editDistance(a, b)).toBe(d));

  test.each<[string, string[], string | undefined]>([
    ['dockerfiel', ['context', 'dockerfile', 'target'], 'dockerfile'],
    ['pip-args', ['requirements', 'builder', 'dir', 'pip_args'], 'pip_args'],
    ['Image', ['app', 'image'], 'image'],
    ['colour', ['app', 'image', 'build', 'test', 'deploy'], undefined],
  ])('closest(%s)', (key, known, want) => expect(closestKey(key, known)).toBe(want));

  test('message lists the known keys when nothing is close', () => {
    expect(unknownKeyMessage('colour', ['app', 'image'])).toBe('unknown key; expected one of app, image');
    expect(unknownKeyMessage('imgae', ['app', 'image'])).toBe("unknown key; did you mean 'image'?");
  });
});
