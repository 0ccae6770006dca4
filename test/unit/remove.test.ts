// `pallet remove` (removeApp) over fake hosts: an app deployed behind the proxy beside another
// app's route is taken off every host (routes, containers, network, images, state, lock) while
// the other app's route stays; its data stays unless deleteData; a deploy holding the lock on
// one host refuses the whole removal before anything changes.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../src/config/load.js';
import { executeDeploy } from '../../src/deploy/index.js';
import { previewRemoval, previewRows, removalRows, removeApp, type RemoveRequest } from '../../src/commands/remove.js';
import { CleanupLedger } from '../../src/util/cleanup.js';
import { CliReporter, setReporter } from '../../src/util/reporter.js';
import { parseAppRoutes, removeImagesArgv } from '../../src/ops/remove.js';
import { FakeFleet } from '../helpers/fake-host.js';

const IMAGE = 'reg.test/shop';
const HOSTS = ['a', 'b'];
const STATE = '/var/lib/pallet/shop';
let dir: string;
beforeAll(() => { dir = mkdtempSync(path.join(os.tmpdir(), 'pallet-remove-')); });
afterAll(() => rmSync(dir, { recursive: true, force: true }));
beforeEach(() => { setReporter(new CliReporter(() => undefined, () => undefined)); });

async function deployed(): Promise<FakeFleet> {
  const file = path.join(dir, 'pallet.yml');
  writeFileSync(file, [
    'app: shop', `image: ${IMAGE}`, 'deploy:', '  ssh: { user: deploy }', '  env_file: /etc/pallet/shop.env',
    '  proxy: { hosts: [shop.test], tls: "off", image: "caddy:2" }', '  roles:', '    web: { hosts: [a, b], command: serve, health: { timeout: 2 } }', '',
  ].join('\n'));
  const f = new FakeFleet();
  f.registry.add('caddy:2');
  f.push(IMAGE, 'build-1');
  f.push(IMAGE, 'build-2');
  for (const tag of ['build-1', 'build-2']) {
    const r = await executeDeploy({
      mode: 'deploy', config: loadConfig(file), tag, runTasks: true, ssh: { insecure: true }, lockTimeout: 0, breakLock: false,
      ledger: new CleanupLedger(), env: { GITHUB_RUN_ID: '1' }, signal: new AbortController().signal, connect: f.connect,
    });
    expect(r.ok).toBe(true);
  }
  f.settle();
  for (const l of HOSTS) {
    const h = f.host(l);
    // Another app shares the proxy; this app has data and a backup.
    h.routes.set('blog+web', { upstream: 'blog-web-1', http: '{}', https: '', policy: '', order: '10' });
    h.files.set(`${STATE}/storage/uploads/a.png`, 'png');
    h.files.set(`${STATE}/backups/db-1.dump`, 'dump');
  }
  return f;
}

function request(deleteData: boolean): RemoveRequest {
  return { app: 'shop', image: IMAGE, deleteData, stopTimeout: 10, retireWait: 0, runId: '9', actor: 'octo', ledger: new CleanupLedger(), signal: new AbortController().signal };
}

const conns = (f: FakeFleet) => HOSTS.map((l) => f.host(l));
const shopFiles = (f: FakeFleet, l: string) => [...f.host(l).files.keys()].filter((k) => k.startsWith(`${STATE}/`)).sort();

describe('pallet remove', () => {
  test('without --yes: what would go, by name, read from the hosts; nothing changes', async () => {
    const f = await deployed();
    const before = HOSTS.map((l) => [[...f.host(l).containers.keys()].sort(), [...f.host(l).routes.keys()].sort(), shopFiles(f, l)]);
    const preview = await previewRemoval(conns(f), 'shop', IMAGE);
    expect(preview.map((p) => [p.host, p.routes, p.containers.length, p.containers.every((n) => n.startsWith('shop-web')), p.images.sort()])).toEqual([
      ['a', ['web'], 1, true, ['build-1', 'build-2']],
      ['b', ['web'], 1, true, ['build-1', 'build-2']],
    ]);
    expect(previewRows(preview)[0]).toEqual(['a', 'web', preview[0].containers[0], 'build-1, build-2']);
    expect(HOSTS.map((l) => [[...f.host(l).containers.keys()].sort(), [...f.host(l).routes.keys()].sort(), shopFiles(f, l)])).toEqual(before);
  });

  test('takes the app off every host: routes, containers, network, images, state; the other app\'s route and the data stay', async () => {
    const f = await deployed();
    const req = request(false);
    const rows = await removeApp(conns(f), req);
    expect(rows.map((r) => [r.host, r.routes, r.containers, r.network, r.images, r.kept, r.error])).toEqual([
      ['a', ['web'], 1, true, 2, 'storage backups', undefined],
      ['b', ['web'], 1, true, 2, 'storage backups', undefined],
    ]);
    for (const l of HOSTS) {
      const h = f.host(l);
      expect([...h.routes.keys()]).toEqual(['blog+web']);
      expect(h.running('shop')).toEqual([]);
      expect([...h.networks]).not.toContain('pallet-app-shop');
      expect([...h.images].filter((i) => i.startsWith(IMAGE))).toEqual([]);
      expect(shopFiles(f, l)).toEqual([`${STATE}/backups/db-1.dump`, `${STATE}/storage/uploads/a.png`]);
    }
    expect(req.ledger.list()).toEqual([]);
  });

  test('--delete-data: nothing of the app is left in its state directory', async () => {
    const f = await deployed();
    const rows = await removeApp(conns(f), request(true));
    expect(rows.map((r) => r.kept)).toEqual(['', '']);
    for (const l of HOSTS) expect(shopFiles(f, l)).toEqual([]);
  });

  test('a deploy holding the lock on one host refuses the removal before anything changes', async () => {
    const f = await deployed();
    f.host('b').files.set(`${STATE}/lock/token`, 'other');
    f.host('b').files.set(`${STATE}/lock/owner`, 'run 7.1 by alice since 2026-12-03T10:00:00.000Z');
    const before = HOSTS.map((l) => [f.host(l).running('shop'), [...f.host(l).routes.keys()], shopFiles(f, l)]);
    const req = request(true);
    await expect(removeApp(conns(f), req)).rejects.toThrow(/^remove refused, nothing was changed: b: the deploy lock of shop is held by run 7\.1 by alice/);
    expect(HOSTS.map((l) => [f.host(l).running('shop'), [...f.host(l).routes.keys()], shopFiles(f, l)])).toEqual(before);
    // Host a's lock, taken first, was given back.
    expect(f.host('a').state('shop', 'lock/owner')).toBe('');
    expect(req.ledger.list()).toEqual([]);
  });

  test('route keys: only the app\'s own (a longer app name sharing a prefix is not)', () => {
    expect(parseAppRoutes('route=shop+web\nroute=shop+api\nroute=shop2+web\n', 'shop')).toEqual(['web', 'api']);
  });
});

test('the removal table counts in every column (the routes with their roles)', () => {
  expect(removalRows([
    { host: 'a', routes: ['web', 'admin'], containers: 3, network: true, images: 2, imagesKept: 1, kept: 'storage backups' },
    { host: 'b', routes: [], containers: 0, network: false, images: 0, imagesKept: 0, kept: '', error: 'lock held' },
  ])).toEqual([
    ['a', '2 (web, admin)', '3', 'removed', '2 (+1 in use)', 'storage backups', 'removed'],
    ['b', '0', '0', '-', '0', '-', 'error: lock held'],
  ]);
});

test('remove-images keeps the tags another app on the host names in TAG or REVERT (run with the local sh and a stand-in docker)', () => {
  const root = mkdtempSync(path.join(os.tmpdir(), 'pallet-rmimg-'));
  try {
    const bin = path.join(root, 'bin');
    mkdirSync(bin);
    // docker image ls prints four tags of the repository; docker image rm logs what it removed.
    writeFileSync(path.join(bin, 'docker'), `#!/bin/sh
case "$1 $2" in
  "image ls") printf '%s\\n' "$3:build-1" "$3:build-2" "$3:build-3" "$3:build-4" ;;
  "image rm") echo "$3" >> "${root}/removed" ;;
esac
`, { mode: 0o755 });
    for (const [app, tag, revert] of [['shop', 'build-4', 'build-3'], ['shop-staging', 'build-2', 'build-1']]) {
      mkdirSync(path.join(root, 'state', app), { recursive: true });
      writeFileSync(path.join(root, 'state', app, 'TAG'), `${tag}\n`);
      writeFileSync(path.join(root, 'state', app, 'REVERT'), `${revert}\n`);
    }
    const argv = removeImagesArgv(IMAGE, 'shop');
    expect(argv.slice(4)).toEqual([IMAGE, '/var/lib/pallet', 'shop']);
    // The script's state root is its second argument: point it at this tree.
    const r = spawnSync(argv[0], [...argv.slice(1, 4), IMAGE, path.join(root, 'state'), 'shop'], { encoding: 'utf8', env: { PATH: `${bin}:${process.env.PATH}` } });
    expect(r.stdout).toBe('removed=2\nkept=2\n');
    expect(readFileSync(path.join(root, 'removed'), 'utf8')).toBe(`${IMAGE}:build-3\n${IMAGE}:build-4\n`);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
