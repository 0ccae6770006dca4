// The lab's pure parts: recipes and their hashes, mirror parsing, host container settings,
// nginx config, --hosts parsing. No Docker here.
import {
  LAYERS, ROOTFS, debootstrapArgs, importChangeArgs, layerHash, parseMirror, rootfsHash,
} from '../../lab/recipes.js';
import { hostContainerSpec } from '../../lab/hosts.js';
import { nginxArgs, nginxConfig } from '../../lab/lb.js';
import { requestedHosts } from '../../lab/up.js';
import { registryConfig } from '../../lab/registry.js';

describe('parseMirror', () => {
  test.each([
    ['deb822 first URIs wins', 'Types: deb\nURIs: http://m.example/debian\nSuites: bookworm\n\nURIs: http://sec.example/x\n', undefined, 'http://m.example/debian'],
    ['sources.list fallback', undefined, '# c\ndeb [signed-by=/k.gpg] http://old.example/debian bookworm main\n', 'http://old.example/debian'],
    ['plain deb line', '', 'deb http://plain.example/debian bookworm main', 'http://plain.example/debian'],
    ['nothing', undefined, undefined, undefined],
  ])('%s', (_n, sources, list, want) => {
    expect(parseMirror(sources, list)).toBe(want);
  });
});

describe('recipes', () => {
  const django = ROOTFS.find((r) => r.name === 'django')!;

  test('hash ignores package order but not package set or changes', () => {
    const h = rootfsHash(django);
    expect(rootfsHash({ ...django, packages: [...django.packages].reverse() })).toBe(h);
    expect(rootfsHash({ ...django, packages: [...django.packages, 'vim'] })).not.toBe(h);
    expect(rootfsHash({ ...django, changes: ['CMD ["sh"]'] })).not.toBe(h);
  });

  test('the ACME CA comes from trixie (Pebble 2.6, short-lived certificates), made with the sid script; the suite is in the hash', () => {
    const pebble = ROOTFS.find((r) => r.name === 'pebble')!;
    expect(debootstrapArgs(pebble, '/r', 'http://m/debian')).toEqual(['--variant=minbase', '--include=pebble,openssl', 'trixie', '/r', 'http://m/debian', '/usr/share/debootstrap/scripts/sid']);
    expect(debootstrapArgs(django, '/r', 'http://m/debian').slice(-3)).toEqual(['bookworm', '/r', 'http://m/debian']);
    expect(rootfsHash(pebble)).not.toBe(rootfsHash({ ...pebble, suite: undefined }));
  });

  test('a layer hash follows its parent and its own text', () => {
    const pg = LAYERS.find((l) => l.name === 'postgres')!;
    expect(layerHash(pg, 'a')).not.toBe(layerHash(pg, 'b'));
    expect(layerHash({ ...pg, files: { 'docker-entrypoint.sh': '#!/bin/sh\n' } }, 'a')).not.toBe(layerHash(pg, 'a'));
  });

  test('every layer sits on a rootfs the lab builds', () => {
    const tags = new Set(ROOTFS.map((r) => r.tag));
    for (const l of LAYERS) expect(tags).toContain(l.from);
  });

  test('images named in the brief carry the packages they promise', () => {
    const pkgs = (name: string) => ROOTFS.find((r) => r.name === name)!.packages;
    expect(pkgs('django')).toEqual(expect.arrayContaining(['python3-django', 'python3-psycopg2', 'gunicorn', 'python3-pip', 'python3-venv']));
    expect(pkgs('builder')).toEqual(expect.arrayContaining(['build-essential', 'python3-dev', 'python3-wheel', 'python3-setuptools']));
    expect(pkgs('services')).toEqual(expect.arrayContaining(['postgresql', 'redis-server', 'memcached']));
    expect(pkgs('messaging')).toEqual(expect.arrayContaining(['rabbitmq-server', 'python3-aiosmtpd', 'python3-amqp']));
    expect(pkgs('host')).toEqual(expect.arrayContaining(['docker.io', 'openssh-server', 'socat', 'iptables']));
  });

  test('the ACME CA: Debian\'s pebble package (pebble and pebble-challtestsrv), built only for lab up --acme, never always-valid', () => {
    const rootfs = ROOTFS.find((r) => r.name === 'pebble')!;
    const layer = LAYERS.find((l) => l.name === 'pebble')!;
    expect(rootfs.packages).toEqual(expect.arrayContaining(['pebble', 'openssl']));
    expect([rootfs.part, layer.part]).toEqual(['acme', 'acme']);
    expect(ROOTFS.concat().filter((r) => r.part).map((r) => r.name)).toEqual(['pebble']);
    expect(layer.dockerfile).toContain('PEBBLE_VA_NOSLEEP=1');
    expect(layer.dockerfile + Object.values(layer.files).join('')).not.toContain('PEBBLE_VA_ALWAYS_VALID');
    expect(layer.files['lab-pebble-init']).toMatch(/exec pebble -config \S+ -dnsserver 127\.0\.0\.1:8053/);
  });

  test('debootstrap and import arguments', () => {
    expect(debootstrapArgs(django, '/r', 'http://m/debian')).toEqual([
      '--variant=minbase', `--include=${django.packages.join(',')}`, 'bookworm', '/r', 'http://m/debian',
    ]);
    const args = importChangeArgs(django, 'abc');
    expect(args.filter((_a, i) => i % 2 === 0).every((a) => a === '--change')).toBe(true);
    expect(args[args.length - 1]).toBe('LABEL pallet-lab.recipe=abc');
  });
});

describe('hostContainerSpec', () => {
  const spec = hostContainerSpec({
    name: 'palletlab-x-host-2', image: 'pallet-lab/host:bookworm', labId: 'x', index: 2, network: 'net',
    sshPort: 2202, webPort: 18002, publicKey: 'ssh-ed25519 AAAA lab', registryPort: 5000, configHash: 'h',
  });
  const hc = spec.HostConfig as Record<string, unknown>;

  test('inner dockerd without --privileged', () => {
    expect(hc.Privileged).toBeUndefined();
    expect(hc.CapAdd).toEqual(['ALL']);
    expect(hc.CapDrop).toEqual(['MAC_OVERRIDE', 'SYS_RESOURCE']);
    expect(hc.SecurityOpt).toEqual(['seccomp=unconfined', 'apparmor=unconfined']);
    expect(hc.MaskedPaths).toEqual([]); // systempaths=unconfined
    expect(hc.ReadonlyPaths).toEqual([]);
    expect(hc.DeviceCgroupRules).toEqual(['a *:* rwm']);
    expect(hc.Tmpfs).toEqual({ '/var/lib/docker': '' });
    expect(hc.Binds).toEqual(['/sys/fs/cgroup:/sys/fs/cgroup:rw']);
    expect(hc.CgroupnsMode).toBe('host');
  });

  test('ports only on loopback; registry forwarded to the same port inside', () => {
    expect(hc.PortBindings).toEqual({
      '22/tcp': [{ HostIp: '127.0.0.1', HostPort: '2202' }],
      '8000/tcp': [{ HostIp: '127.0.0.1', HostPort: '18002' }],
    });
    expect(spec.Env).toEqual(expect.arrayContaining(['LAB_REGISTRY_PORT=5000', 'LAB_REGISTRY_UPSTREAM=registry:5000']));
    expect(spec.Labels).toMatchObject({ 'pallet-lab': 'x', 'pallet-lab.role': 'host', 'pallet-lab.index': '2' });
  });
});

describe('nginx', () => {
  const conf = nginxConfig(18080, [{ host: '172.18.0.3', port: 8000 }, { host: '172.18.0.4', port: 8000 }], '/lab/nginx');

  test('listens on loopback only and lists every upstream', () => {
    expect(conf).toContain('listen 127.0.0.1:18080;');
    expect(conf).not.toMatch(/listen (?!127\.0\.0\.1)/);
    expect(conf).toContain('server 172.18.0.3:8000');
    expect(conf).toContain('server 172.18.0.4:8000');
  });

  test('fails over on errors, timeouts, 502 and 503 with short connect timeouts', () => {
    expect(conf).toContain('proxy_next_upstream error timeout http_502 http_503;');
    expect(conf).toContain('proxy_connect_timeout 1s;');
  });

  test('with tls: the stream module is loaded first, and a loopback listener passes TCP to the hosts\' 443', () => {
    const t = nginxConfig(18080, [{ host: '172.18.0.3', port: 8000 }], '/lab/nginx', 18180, [{ host: '172.18.0.3', port: 80 }],
      { port: 18443, upstreams: [{ host: '172.18.0.3', port: 443 }, { host: '172.18.0.4', port: 443 }], module: '/m/stream.so' });
    expect(t.split('\n')[1]).toBe('load_module /m/stream.so;');
    expect(t).toContain(`stream {
  upstream pallet_lab_tls {
    server 172.18.0.3:443 max_fails=1 fail_timeout=2s;
    server 172.18.0.4:443 max_fails=1 fail_timeout=2s;
  }
  server {
    listen 127.0.0.1:18443;
    proxy_pass pallet_lab_tls;`);
    expect(t).not.toMatch(/listen (?!127\.0\.0\.1)/);
    expect(conf).not.toMatch(/^stream \{|load_module/m);
  });

  test('refuses an empty upstream list', () => {
    expect(() => nginxConfig(1, [], '/d')).toThrow(/at least one upstream/);
  });

  test('runs in the foreground with its pid under the lab dir', () => {
    expect(nginxArgs('/d')).toEqual(['-p', '/d', '-e', '/d/error.log', '-c', '/d/nginx.conf', '-g', 'daemon off; pid /d/nginx.pid;']);
  });
});

describe('requestedHosts', () => {
  test.each([
    [[], {}, 3],
    [['--hosts', '8'], {}, 8],
    [['--hosts=5'], {}, 5],
    [[], { PALLET_LAB_HOSTS: '4' }, 4],
    [['--hosts', '2'], { PALLET_LAB_HOSTS: '4' }, 2],
  ])('%j %j -> %d', (argv, env, want) => {
    expect(requestedHosts(argv as string[], env as NodeJS.ProcessEnv)).toBe(want);
  });
  test.each([['0'], ['x'], ['2.5'], ['99']])('rejects %s', (n) => {
    expect(() => requestedHosts(['--hosts', n], {})).toThrow(/--hosts/);
  });
});

test('registry config: htpasswd auth, filesystem storage, listens for the published port', () => {
  const c = registryConfig('s');
  expect(c).toContain('htpasswd:');
  expect(c).toContain('rootdirectory: /var/lib/registry');
  expect(c).toContain('addr: 0.0.0.0:5000');
});
