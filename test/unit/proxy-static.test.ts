// deploy.proxy.static: the Caddy route that serves the files, the host scripts that place,
// assemble and drop them (run for real in sh, with a stub docker that copies from a directory),
// and the whole deploy over fake hosts: placed after the pull on every web host, before any
// switch; gone again after a failure; pruned with the images; the proxy replaced when it lacks
// the mount; an image without the files refused before anything changes.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { HASHED_NAME_PATTERN, routeFragments } from '../../src/deploy/proxy/caddy.js';
import { dropStaticArgv, parsePlaced, placeStaticArgv, removeStaticArgv, staticLiveRoot } from '../../src/deploy/proxy/static-commands.js';
import { ensureProxyArgv, replaceProxyArgv } from '../../src/deploy/proxy/commands.js';
import { loadConfig } from '../../src/config/load.js';
import { executeDeploy } from '../../src/deploy/index.js';
import type { DeployMode } from '../../src/deploy/types.js';
import { CleanupLedger } from '../../src/util/cleanup.js';
import { CliReporter, setReporter } from '../../src/util/reporter.js';
import { FakeFleet } from '../helpers/fake-host.js';

let out: string[];
beforeEach(() => {
  out = [];
  setReporter(new CliReporter((l) => out.push(l), (l) => out.push(l)));
});

describe('the Caddy route of the static files', () => {
  test('whole: under the URL prefix the proxy answers from the files (hashed names immutable, others a minute, a miss 404); the rest goes to the app', () => {
    const f = routeFragments({ hosts: ['shop.test'], tls: 'off', upstream: 'shop-web-1', port: 8000, static: { url: '/static/', root: '/srv/pallet-static/shop/live' } });
    const exists = { method: ['GET', 'HEAD'], file: { root: '/srv/pallet-static/shop/live', try_files: ['{http.request.uri.path}'] } };
    const serve = (cache: string) => [
      { handler: 'headers', response: { set: { 'Cache-Control': [cache] } } },
      { handler: 'file_server', root: '/srv/pallet-static/shop/live', precompressed: { br: {}, zstd: {}, gzip: {} }, precompressed_order: ['br', 'zstd', 'gzip'] },
    ];
    expect(JSON.parse(f.http)).toEqual({
      match: [{ host: ['shop.test'] }],
      handle: [
        { handler: 'headers', response: { delete: ['Server'] } },
        {
          handler: 'subroute',
          routes: [
            {
              match: [{ path: ['/static/*'] }],
              handle: [{
                handler: 'subroute',
                routes: [
                  { handle: [{ handler: 'rewrite', strip_path_prefix: '/static' }] },
                  { match: [{ ...exists, path_regexp: { pattern: '\\.[0-9a-f]{12}\\.[A-Za-z0-9]+$' } }], handle: serve('public, max-age=31536000, immutable'), terminal: true },
                  { match: [exists], handle: serve('public, max-age=60'), terminal: true },
                  { handle: [{ handler: 'static_response', status_code: 404, headers: { 'Content-Type': ['text/plain; charset=utf-8'] }, body: 'Not Found\n' }] },
                ],
              }],
              terminal: true,
            },
            { handle: [{ handler: 'reverse_proxy', upstreams: [{ dial: 'shop-web-1:8000' }], load_balancing: { try_duration: 2_000_000_000, try_interval: 50_000_000 }, transport: { protocol: 'http', dial_timeout: 2_000_000_000, keep_alive: { enabled: false } } }] },
          ],
        },
      ],
      terminal: true,
    });
  });

  test('with TLS the files are served on :443 like the app; without deploy.proxy.static the route is the plain proxy', () => {
    const tls = routeFragments({ hosts: ['shop.test'], tls: 'internal', upstream: 'u', port: 8000, static: { url: '/assets/', root: '/r' } });
    expect(JSON.parse(tls.https).handle[1].routes[0].match).toEqual([{ path: ['/assets/*'] }]);
    expect(JSON.parse(tls.http).handle[0].status_code).toBe(308);
    expect(JSON.parse(routeFragments({ hosts: ['shop.test'], tls: 'off', upstream: 'u', port: 8000 }).http).handle[1].handler).toBe('reverse_proxy');
  });

  test.each([
    ['notes/notes.3f9c1e0a1b2c.css', true],
    ['admin/js/core.0123456789ab.js', true],
    ['notes/notes.css', false],
    ['notes/notes.3F9C1E0A1B2C.css', false],
    ['notes/notes.3f9c1e0a1b.css', false],
    ['notes/notes.3f9c1e0a1b2c.css/extra', false],
  ])('hashed name (Django ManifestStaticFilesStorage) %s: %s', (name, hashed) => {
    // Caddy's path_regexp is Go RE2; this pattern means the same in JavaScript.
    expect(new RegExp(HASHED_NAME_PATTERN).test(`/${name}`)).toBe(hashed);
  });
});

describe('host commands', () => {
  test('place, drop and remove pass data as arguments only', () => {
    expect(placeStaticArgv('shop', 'reg.test/shop:build-7', '/static', 'build-7').slice(3)).toEqual(['pallet-place-static', '/var/lib/pallet/proxy-static/shop', 'reg.test/shop:build-7', '/static', 'build-7']);
    expect(dropStaticArgv('shop', 'build-7', ['build-3', 'build-4']).slice(3)).toEqual(['pallet-drop-static', '/var/lib/pallet/proxy-static/shop', 'build-7', 'build-3', 'build-4']);
    expect(removeStaticArgv('shop').slice(3)).toEqual(['pallet-remove-static', '/var/lib/pallet/proxy-static/shop']);
    expect(staticLiveRoot('shop')).toBe('/srv/pallet-static/shop/live');
  });

  test('the proxy container mounts the static files read-only, whether made by ensure or by replace', () => {
    for (const argv of [ensureProxyArgv('caddy:2', 'shop'), replaceProxyArgv('caddy:2')]) {
      expect(argv[2]).toContain('-v "$static:/srv/pallet-static:ro"');
      expect(argv.at(-1)).toBe('/var/lib/pallet/proxy-static');
    }
  });

  test('parsePlaced reads the key=value lines', () => {
    expect(parsePlaced('existed=0\nfiles=12\nkib=48\nreleases=build-1 build-2 \n')).toEqual({ existed: false, files: 12, kib: 48, releases: ['build-1', 'build-2'] });
  });
});

describe('the scripts in a real shell, with a stub docker whose images are directories', () => {
  let root: string;
  let env: NodeJS.ProcessEnv;
  beforeEach(() => {
    root = mkdtempSync(path.join(os.tmpdir(), 'pallet-static-'));
    const bin = path.join(root, 'bin');
    mkdirSync(bin);
    // `docker create REF` prints REF as the id; `docker cp ID:PATH/. DEST` copies images/REF/PATH.
    writeFileSync(path.join(bin, 'docker'), `#!/bin/sh
echo "$*" >> "${root}/docker.log"
case "$1" in
  create) for a; do ref="$a"; done; shift $(($# - 2)); echo "$1" | tr ':/' '__' ;;
  cp) src="\${2%%:*}"; p="\${2#*:}"; d="${root}/images/$src$p"
      [ -d "\${d%/.}" ] || { echo "Error response from daemon: Could not find the file \${p%/.} in container $src" >&2; exit 1; }
      mkdir -p "$3" && cp -a "$d" "$3" ;;
  rm) ;;
esac
`, { mode: 0o755 });
    env = { ...process.env, PATH: `${bin}:${process.env.PATH}` };
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  const image = (tag: string, files: Record<string, string>) => {
    for (const [f, text] of Object.entries(files)) {
      const p = path.join(root, 'images', `reg.test_shop_${tag}`, 'static', f);
      mkdirSync(path.dirname(p), { recursive: true });
      writeFileSync(p, text);
    }
  };
  const run = (argv: string[]) => {
    const args = argv.slice(4).map((a) => a.split('/var/lib/pallet/').join(`${root}/`));
    const r = spawnSync(argv[0], [argv[1], argv[2], argv[3], ...args], { encoding: 'utf8', env });
    return { code: r.status ?? -1, out: r.stdout + r.stderr };
  };
  const live = () => path.join(root, 'proxy-static', 'shop', 'live');
  const served = (f: string) => (existsSync(path.join(live(), f)) ? readFileSync(path.join(live(), f), 'utf8') : '404');

  test('two releases side by side: both hashed names served, the live release wins a shared name; drop takes a release away', () => {
    image('build-1', { 'app.aaaaaaaaaaaa.css': 'v1', 'app.css': 'v1', 'img/logo.png': 'logo' });
    image('build-2', { 'app.bbbbbbbbbbbb.css': 'v2', 'app.css': 'v2', 'img/logo.png': 'logo' });
    const one = run(placeStaticArgv('shop', 'reg.test/shop:build-1', '/static', 'build-1'));
    expect(one.code).toBe(0);
    expect(parsePlaced(one.out)).toEqual({ existed: false, files: 3, kib: expect.any(Number), releases: ['build-1'] });
    const two = run(placeStaticArgv('shop', 'reg.test/shop:build-2', '/static', 'build-2'));
    expect(parsePlaced(two.out).releases.sort()).toEqual(['build-1', 'build-2']);
    expect([served('app.aaaaaaaaaaaa.css'), served('app.bbbbbbbbbbbb.css'), served('app.css'), served('img/logo.png')]).toEqual(['v1', 'v2', 'v2', 'logo']);
    // `live` is a relative link (the proxy container sees another absolute path), to one union.
    expect(lstatSync(live()).isSymbolicLink()).toBe(true);
    expect(readlinkSync(live())).toMatch(/^union\.\d+$/);
    expect(execFileSync('sh', ['-c', `ls -d ${root}/proxy-static/shop/union.*`], { encoding: 'utf8' }).trim().split('\n')).toHaveLength(1);
    // The container made for the copy is removed.
    expect(readFileSync(path.join(root, 'docker.log'), 'utf8').match(/^rm -f /gm)).toHaveLength(2);

    // A rollback to build-1 makes its files win again (placed anew: they were there).
    expect(parsePlaced(run(placeStaticArgv('shop', 'reg.test/shop:build-1', '/static', 'build-1')).out).existed).toBe(true);
    expect(served('app.css')).toBe('v1');
    // Pruning build-2: its files are gone, build-1's stay.
    const dropped = run(dropStaticArgv('shop', 'build-1', ['build-2']));
    expect(dropped.code).toBe(0);
    expect(parsePlaced(dropped.out).releases).toEqual(['build-1']);
    expect([served('app.bbbbbbbbbbbb.css'), served('app.aaaaaaaaaaaa.css')]).toEqual(['404', 'v1']);
  });

  test('an image without the directory: exit 4 naming it, nothing placed, the copy container removed', () => {
    image('build-1', { 'app.css': 'v1' });
    expect(run(placeStaticArgv('shop', 'reg.test/shop:build-1', '/static', 'build-1')).code).toBe(0);
    const r = run(placeStaticArgv('shop', 'reg.test/shop:build-9', '/static', 'build-9'));
    expect(r.code).toBe(4);
    expect(r.out).toBe('reg.test/shop:build-9 has no directory /static\n');
    expect(served('app.css')).toBe('v1');
    expect(existsSync(path.join(root, 'proxy-static', 'shop', 'releases', 'build-9'))).toBe(false);
    expect(execFileSync('sh', ['-c', `ls -a ${root}/proxy-static/shop/releases`], { encoding: 'utf8' }).split('\n').filter((x) => x.startsWith('.') && x.length > 2)).toEqual([]);
    expect(readFileSync(path.join(root, 'docker.log'), 'utf8').trim().split('\n').pop()).toMatch(/^rm -f /);
  });

  test('drop ignores empty and path-like names (never the releases directory itself); remove takes everything', () => {
    image('build-1', { 'app.css': 'v1' });
    run(placeStaticArgv('shop', 'reg.test/shop:build-1', '/static', 'build-1'));
    expect(run(dropStaticArgv('shop', 'build-1', ['', '..', 'x/../..'])).code).toBe(0);
    expect(served('app.css')).toBe('v1');
    expect(run(removeStaticArgv('shop')).out).toBe('removed=1\n');
    expect(existsSync(path.join(root, 'proxy-static', 'shop'))).toBe(false);
    expect(run(removeStaticArgv('shop')).out).toBe('removed=0\n');
  });
});

describe('a deploy with deploy.proxy.static over fake hosts', () => {
  const IMAGE = 'reg.test/shop';
  let dir: string;
  beforeAll(() => { dir = mkdtempSync(path.join(os.tmpdir(), 'pallet-static-engine-')); });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  function config(keep = 3) {
    const file = path.join(dir, `pallet-${keep}.yml`);
    writeFileSync(file, [
      'app: shop', `image: ${IMAGE}`, 'deploy:', '  ssh: { user: deploy }', '  env_file: /etc/pallet/shop.env',
      '  proxy: { hosts: [shop.test], tls: "off", drain_timeout: 1, static: true }', `  keep: ${keep}`,
      '  roles:', '    web: { hosts: [a, b], health: { timeout: 2 }, stop_timeout: 1 }', '    worker: { hosts: [c], stable: 1, stop_timeout: 1 }', '',
    ].join('\n'));
    return loadConfig(file);
  }
  const fleet = (...tags: [string, Parameters<FakeFleet['push']>[2]?][]) => {
    const f = new FakeFleet();
    f.registry.add('caddy:2');
    for (const [t, r] of tags) f.push(IMAGE, t, r);
    return f;
  };
  const deploy = async (f: FakeFleet, mode: DeployMode, tag?: string, keep = 3) => {
    const report = await executeDeploy({
      mode, config: config(keep), tag, runTasks: mode === 'deploy', ssh: { insecure: true }, lockTimeout: 0, breakLock: false,
      ledger: new CleanupLedger(), env: { GITHUB_RUN_ID: '7', GITHUB_ACTOR: 'octo' }, signal: new AbortController().signal, connect: f.connect,
    });
    f.settle();
    return report;
  };
  const statics = (f: FakeFleet) => Object.fromEntries(['a', 'b', 'c'].map((l) => [l, f.host(l).statics.get('/var/lib/pallet/proxy-static/shop') ?? null]));

  test('placed on every web host after its pull and before the tasks and the first switch; the route serves them', async () => {
    const f = fleet(['build-1'], ['build-2']);
    expect((await deploy(f, 'deploy', 'build-1')).ok).toBe(true);
    expect((await deploy(f, 'deploy', 'build-2')).ok).toBe(true);
    expect(statics(f)).toEqual({ a: { releases: ['build-1', 'build-2'], live: 'build-2' }, b: { releases: ['build-1', 'build-2'], live: 'build-2' }, c: null });
    // Every web host has the new files before the first host switches (pages of either release find theirs).
    const trace = f.trace;
    const lastPlace = Math.max(...['a', 'b'].map((l) => trace.lastIndexOf(`${l} place-static end`)));
    const firstSwitch = trace.findIndex((t, i) => i > trace.lastIndexOf('a record-revert start') && / set-route start$/.test(t));
    const pulls = ['a', 'b'].map((l) => trace.lastIndexOf(`${l} docker pull end`));
    expect(pulls.every((p) => p < lastPlace)).toBe(true);
    expect(lastPlace).toBeLessThan(trace.lastIndexOf('a docker run --rm start'));
    expect(lastPlace).toBeLessThan(firstSwitch);
    expect(JSON.parse(f.host('a').routes.get('shop+web')!.http).handle[1].routes[0].match).toEqual([{ path: ['/static/*'] }]);
    expect(out.join('\n')).toMatch(/a: static files of build-2: 3 files \(12 KiB\) under \/static\/, beside those of build-1/);
  });

  test('a release that fails its health check: its files leave again, the previous release\'s win', async () => {
    const f = fleet(['build-1'], ['build-2', { health: 'crash' }]);
    await deploy(f, 'deploy', 'build-1');
    const r = await deploy(f, 'deploy', 'build-2');
    expect({ ok: r.ok, phase: r.phase }).toEqual({ ok: false, phase: 'rolling' });
    expect(statics(f)).toEqual({ a: { releases: ['build-1'], live: 'build-1' }, b: { releases: ['build-1'], live: 'build-1' }, c: null });
  });

  test('an image without the files: refused at the pull, naming the fix; no host changed, no file left', async () => {
    const f = fleet(['build-1'], ['build-2', { noStaticRoot: true }]);
    await deploy(f, 'deploy', 'build-1');
    const r = await deploy(f, 'deploy', 'build-2');
    expect({ ok: r.ok, phase: r.phase, step: r.failedStep }).toEqual({ ok: false, phase: 'pull', step: 'static files' });
    expect(r.error).toMatch(/reg\.test\/shop:build-2 has no directory \/static.*RUN python manage\.py collectstatic --noinput in the Dockerfile.*deploy\.proxy\.static\.root/);
    expect(['a', 'b'].map((l) => f.host(l).state('shop', 'TAG'))).toEqual(['build-1', 'build-1']);
    expect(statics(f).a).toEqual({ releases: ['build-1'], live: 'build-1' });
  });

  test('rollback serves the old release\'s files first; releases pruned beyond keep take their files', async () => {
    const f = fleet(['build-1'], ['build-2'], ['build-3']);
    await deploy(f, 'deploy', 'build-1', 2);
    await deploy(f, 'deploy', 'build-2', 2);
    expect((await deploy(f, 'rollback', undefined, 2)).ok).toBe(true);
    expect(statics(f).a).toEqual({ releases: ['build-2', 'build-1'], live: 'build-1' });
    expect((await deploy(f, 'deploy', 'build-3', 2)).ok).toBe(true);
    // keep 2: build-3 and the release it replaced (build-1) stay; build-2 goes with its image.
    expect(f.host('a').images.has(`${IMAGE}:build-2`)).toBe(false);
    expect(statics(f).a).toEqual({ releases: ['build-1', 'build-3'], live: 'build-3' });
  });

  test('a proxy made without the static mount is replaced, host by host, before anything of the app changes', async () => {
    const f = fleet(['build-1'], ['build-2']);
    await deploy(f, 'deploy', 'build-1');
    // As a proxy of an earlier version of pallet left them: no static mount.
    for (const l of ['a', 'b']) f.host(l).proxy!.staticMount = false;
    const mark = f.trace.length;
    expect((await deploy(f, 'deploy', 'build-2')).ok).toBe(true);
    expect(['a', 'b'].map((l) => f.host(l).proxy!.staticMount)).toEqual([true, true]);
    expect(out.join('\n')).toMatch(/with the static files mounted; replacing the proxy on a, b, one host at a time/);
    const trace = f.trace.slice(mark);
    expect(trace.indexOf('a replace-proxy end')).toBeLessThan(trace.indexOf('b replace-proxy start'));
    expect(trace.indexOf('b replace-proxy end')).toBeLessThan(trace.indexOf('a record-revert start'));
  });
});
