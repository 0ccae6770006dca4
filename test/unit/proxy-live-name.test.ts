// The switch behind the proxy without a config load: the role's live name moves between
// containers by `docker rename` (make-live), the prepare script reports containers by identity,
// and set-route loads the proxy's config only when it changes. The scripts run for real in sh,
// with a stub docker that keeps containers as files (name -> "identity-label running id").
import { spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { routeFragments } from '../../src/deploy/proxy/caddy.js';
import {
  MAKE_LIVE_NOT_RUNNING, liveName, makeLiveArgv, parsePrepare, prepareSwitchArgv, removeRouteArgv, setRouteArgv,
} from '../../src/deploy/proxy/commands.js';

let root: string;
let env: NodeJS.ProcessEnv;

beforeEach(() => {
  root = mkdtempSync(path.join(os.tmpdir(), 'pallet-live-'));
  const bin = path.join(root, 'bin');
  mkdirSync(bin);
  mkdirSync(path.join(root, 'containers'));
  // containers/NAME holds "LABEL RUNNING ID" (LABEL '-' = none). Formats are matched whole.
  writeFileSync(path.join(bin, 'docker'), `#!/bin/sh
c="${root}/containers"
echo "$*" >> "${root}/docker.log"
[ "$1" = container ] && shift
case "$1" in
  inspect)
    f="$3"; n="$4"; [ -f "$c/$n" ] || n=$(grep -l " $4\\$" "$c"/* 2>/dev/null | head -n 1 | xargs -r basename)
    [ -n "$n" ] && [ -f "$c/$n" ] || { echo "Error: No such object: $4" >&2; exit 1; }
    read -r label running id < "$c/$n"; [ "$label" = - ] && label=""
    case "$f" in
      '{{index .Config.Labels "pallet.name"}}') echo "$label" ;;
      '{{.Id}}') echo "$id" ;;
      '{{.State.Running}}') echo "$running" ;;
      '{{.Name}} {{.State.Running}}') echo "/$n $running" ;;
      *) echo "stub docker: format $f" >&2; exit 2 ;;
    esac ;;
  ps) for f in "$c"/*; do [ -e "$f" ] && { read -r l r id < "$f"; echo "$id"; }; done ;;
  rename)
    [ -f "$c/$2" ] || { echo "Error: No such container: $2" >&2; exit 1; }
    [ -e "$c/$3" ] && { echo "Error: Conflict. The container name \\"/$3\\" is already in use" >&2; exit 1; }
    [ -e "${root}/fail-rename-$2" ] && { echo "Error: injected" >&2; exit 1; }
    mv "$c/$2" "$c/$3" ;;
  exec) echo reload >> "${root}/reloads" ;;
  *) echo "stub docker: $*" >&2; exit 2 ;;
esac
`, { mode: 0o755 });
  env = { ...process.env, PATH: `${bin}:${process.env.PATH}` };
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

/** A container named `name`: label pallet.name (undefined = none), running, id. */
const container = (name: string, label: string | undefined, running = true, id = `${name.length}abcdef0123456789`) =>
  writeFileSync(path.join(root, 'containers', name), `${label ?? '-'} ${running} ${id}\n`);
const names = () => readdirSync(path.join(root, 'containers')).sort();
const renames = () => (existsSync(path.join(root, 'docker.log')) ? readFileSync(path.join(root, 'docker.log'), 'utf8') : '').split('\n').filter((l) => l.startsWith('rename'));
const run = (argv: string[]) => {
  const args = argv.slice(4).map((a) => a.split('/var/lib/pallet/').join(`${root}/`));
  const r = spawnSync(argv[0], [argv[1], argv[2], argv[3], ...args], { encoding: 'utf8', env });
  return { code: r.status ?? -1, out: (r.stdout + r.stderr).trim() };
};
const LIVE = liveName('shop', 'web');

test('the live name: APP-ROLE-live, apart from the published-port container APP-ROLE', () => {
  expect(LIVE).toBe('shop-web-live');
  expect(makeLiveArgv('shop', 'web', 'shop-web-ab12cd34').slice(3)).toEqual(['pallet-make-live', 'shop-web-live', 'shop-web-ab12cd34']);
});

describe('make-live in a real shell', () => {
  test('first switch: the new container takes the name, nothing held it', () => {
    container('shop-web-aaaa1111', 'shop-web-aaaa1111');
    expect(run(makeLiveArgv('shop', 'web', 'shop-web-aaaa1111'))).toEqual({ code: 0, out: 'live=shop-web-aaaa1111' });
    expect(names()).toEqual(['shop-web-live']);
  });

  test('a switch: the holder gets its identity back first, then the new one takes the name (two renames)', () => {
    container('shop-web-live', 'shop-web-aaaa1111');
    container('shop-web-bbbb2222', 'shop-web-bbbb2222');
    expect(run(makeLiveArgv('shop', 'web', 'shop-web-bbbb2222'))).toEqual({ code: 0, out: 'live=shop-web-bbbb2222' });
    expect(renames()).toEqual(['rename shop-web-live shop-web-aaaa1111', 'rename shop-web-bbbb2222 shop-web-live']);
    expect(readFileSync(path.join(root, 'containers', 'shop-web-live'), 'utf8')).toMatch(/^shop-web-bbbb2222 true/);
  });

  test('the holder already is the target: nothing renamed (a revert before the switch happened)', () => {
    container('shop-web-live', 'shop-web-aaaa1111');
    expect(run(makeLiveArgv('shop', 'web', 'shop-web-aaaa1111'))).toEqual({ code: 0, out: 'live=shop-web-aaaa1111' });
    expect(renames()).toEqual([]);
  });

  test('a target that does not run (or is gone): exit 5, nothing renamed', () => {
    container('shop-web-live', 'shop-web-bbbb2222');
    container('shop-web-aaaa1111', 'shop-web-aaaa1111', false);
    expect(run(makeLiveArgv('shop', 'web', 'shop-web-aaaa1111'))).toEqual({ code: MAKE_LIVE_NOT_RUNNING, out: 'container shop-web-aaaa1111 is not running (state: false)' });
    expect(run(makeLiveArgv('shop', 'web', 'shop-web-gone'))).toEqual({ code: MAKE_LIVE_NOT_RUNNING, out: 'container shop-web-gone is not running (state: missing)' });
    expect(renames()).toEqual([]);
  });

  test("'' takes the name from its holder (a first deploy reverted): it is stopped under its own name", () => {
    container('shop-web-live', 'shop-web-aaaa1111');
    expect(run(makeLiveArgv('shop', 'web', ''))).toEqual({ code: 0, out: 'live=' });
    expect(names()).toEqual(['shop-web-aaaa1111']);
  });

  test('a holder without the label (started by hand under the live name) gets NAME-<8 hex of its id>', () => {
    container('shop-web-live', undefined, true, '0123456789abcdef');
    container('shop-web-bbbb2222', 'shop-web-bbbb2222');
    expect(run(makeLiveArgv('shop', 'web', 'shop-web-bbbb2222')).code).toBe(0);
    expect(names()).toEqual(['shop-web-live', 'shop-web-live-01234567']);
  });

  test('the second rename fails: the previous holder has the name again, exit 3', () => {
    container('shop-web-live', 'shop-web-aaaa1111');
    container('shop-web-bbbb2222', 'shop-web-bbbb2222');
    writeFileSync(path.join(root, 'fail-rename-shop-web-bbbb2222'), '');
    const r = run(makeLiveArgv('shop', 'web', 'shop-web-bbbb2222'));
    expect(r).toEqual({ code: 3, out: expect.stringContaining('could not rename shop-web-bbbb2222 to shop-web-live') });
    expect(readFileSync(path.join(root, 'containers', 'shop-web-live'), 'utf8')).toMatch(/^shop-web-aaaa1111 /);
  });
});

describe('the prepare script reports identities', () => {
  const prepare = () => parsePrepare(run(prepareSwitchArgv('shop', 'web')).out);
  const route = (upstream: string) => {
    mkdirSync(path.join(root, 'proxy', 'routes'), { recursive: true });
    writeFileSync(path.join(root, 'proxy', 'routes', 'shop+web.upstream'), `${upstream}\n`);
  };

  test('the route dials the live name: live is the identity of its holder; every container by identity', () => {
    route(LIVE);
    container('shop-web-live', 'shop-web-bbbb2222');
    container('shop-web-aaaa1111', 'shop-web-aaaa1111', false);
    const p = prepare();
    expect({ ...p, containers: [...p.containers].sort((a, b) => a.name.localeCompare(b.name)) }).toEqual({
      upstream: LIVE, live: 'shop-web-bbbb2222',
      containers: [{ name: 'shop-web-aaaa1111', running: false }, { name: 'shop-web-bbbb2222', running: true }],
    });
  });

  test('a route written before the live name (it dials a container by its own name): that name is live', () => {
    route('shop-web-cccc3333');
    container('shop-web-cccc3333', undefined);
    expect(prepare()).toEqual({ upstream: 'shop-web-cccc3333', live: 'shop-web-cccc3333', containers: [{ name: 'shop-web-cccc3333', running: true }] });
  });

  test('no route yet, nothing holds the name', () => {
    expect(prepare()).toEqual({ upstream: '', live: '', containers: [] });
  });
});

describe('set-route loads the proxy config only when it changes', () => {
  const frag = (hosts: string[]) => routeFragments({ hosts, tls: 'off', upstream: LIVE, port: 8000 });
  const reloads = () => (existsSync(path.join(root, 'reloads')) ? readFileSync(path.join(root, 'reloads'), 'utf8').split('\n').filter(Boolean).length : 0);

  test('same fragments again: "(unchanged)" and no load; another host name: a load', () => {
    container('pallet-proxy', undefined);
    expect(run(setRouteArgv('shop', 'web', LIVE, frag(['shop.example.com'])))).toEqual({ code: 0, out: 'proxy now routes shop+web to shop-web-live' });
    expect(reloads()).toBe(1);
    expect(run(setRouteArgv('shop', 'web', LIVE, frag(['shop.example.com'])))).toEqual({ code: 0, out: 'proxy routes shop+web to shop-web-live (unchanged)' });
    expect(reloads()).toBe(1);
    expect(run(setRouteArgv('shop', 'web', LIVE, frag(['shop.example.com', 'www.shop.example.com']))).code).toBe(0);
    expect(reloads()).toBe(2);
    expect(run(removeRouteArgv('shop', 'web')).code).toBe(0);
    expect(reloads()).toBe(3);
  });

  test('unchanged fragments but the proxy does not run: no "(unchanged)" success, the load is tried and fails (exit 4)', () => {
    container('pallet-proxy', undefined);
    expect(run(setRouteArgv('shop', 'web', LIVE, frag(['shop.example.com']))).code).toBe(0);
    container('pallet-proxy', undefined, false);
    const docker = path.join(root, 'bin', 'docker');
    writeFileSync(docker, readFileSync(docker, 'utf8').replace(`exec) echo reload >> "${root}/reloads" ;;`, 'exec) echo "Error: container is not running" >&2; exit 1 ;;'));
    const r = run(setRouteArgv('shop', 'web', LIVE, frag(['shop.example.com'])));
    expect(r).toEqual({ code: 4, out: expect.stringContaining('is not running') });
  });
});
