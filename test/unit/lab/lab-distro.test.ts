// Where the lab's root filesystems come from on a Debian machine, an Ubuntu runner and with the
// overrides; which packages .ci/run installs on each. Fixture apt sources are real files' shapes.
import { readFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import {
  DEBIAN_ARCHIVE_KEYRING, DEBIAN_PUBLIC_ARCHIVE, HUB_BASE_IMAGE, describeRootfsSource, hubRootfsDockerfile,
  parseOsRelease, rootfsSource, type MachineFacts,
} from '../../lab/distro.js';
import { ROOTFS, debootstrapArgs, rootfsHash } from '../../lab/recipes.js';
// @ts-expect-error plain .mjs module without types (it runs before npm ci)
import { NEEDS, distroFamily, missingPackages } from '../../../.ci/packages.mjs';

const FIXTURES = path.join(process.cwd(), 'test/fixtures/distro');
function machine(name: string, env: Record<string, string> = {}): MachineFacts {
  const read = (f: string) => {
    const p = path.join(FIXTURES, name, f);
    return existsSync(p) ? readFileSync(p, 'utf8') : undefined;
  };
  return { osRelease: read('os-release'), debianSources: read('debian.sources'), sourcesList: read('sources.list'), env };
}

describe('parseOsRelease', () => {
  test.each([
    ['debian12', 'debian', [], 'Debian GNU/Linux 12 (bookworm)'],
    ['ubuntu2404', 'ubuntu', ['debian'], 'Ubuntu 24.04.1 LTS'],
    ['ubuntu2204', 'ubuntu', ['debian'], 'Ubuntu 22.04.5 LTS'],
  ])('%s', (name, id, idLike, pretty) => {
    expect(parseOsRelease(machine(name).osRelease)).toEqual({ id, idLike, prettyName: pretty });
  });
  test('missing file', () => {
    expect(parseOsRelease(undefined)).toEqual({ id: '', idLike: [], prettyName: 'unknown system' });
  });
});

describe('rootfsSource', () => {
  test.each([
    ['Debian: the archive apt uses, no extra keyring', 'debian12', {},
      { mode: 'debootstrap', mirror: 'http://mirror.lab.example/debian', origin: 'apt' }],
    ['Ubuntu 24.04 (deb822 ubuntu.sources): public archive + Debian keyring', 'ubuntu2404', {},
      { mode: 'debootstrap', mirror: DEBIAN_PUBLIC_ARCHIVE, keyring: DEBIAN_ARCHIVE_KEYRING, origin: 'public' }],
    ["Ubuntu 22.04: its sources.list names Ubuntu's archive, never used for bookworm", 'ubuntu2204', {},
      { mode: 'debootstrap', mirror: DEBIAN_PUBLIC_ARCHIVE, keyring: DEBIAN_ARCHIVE_KEYRING, origin: 'public' }],
    ['override on Debian', 'debian12', { PALLET_LAB_DEBIAN_MIRROR: 'http://cache.local:3142/debian' },
      { mode: 'debootstrap', mirror: 'http://cache.local:3142/debian', origin: 'override' }],
    ['override on Ubuntu keeps the keyring', 'ubuntu2404', { PALLET_LAB_DEBIAN_MIRROR: ' https://m.example/debian ' },
      { mode: 'debootstrap', mirror: 'https://m.example/debian', keyring: DEBIAN_ARCHIVE_KEYRING, origin: 'override' }],
    ['hub mode wins over everything', 'ubuntu2404', { PALLET_LAB_IMAGES: 'hub', PALLET_LAB_DEBIAN_MIRROR: 'http://x/debian' },
      { mode: 'hub', baseImage: HUB_BASE_IMAGE }],
    ['explicit debootstrap', 'debian12', { PALLET_LAB_IMAGES: 'debootstrap' },
      { mode: 'debootstrap', mirror: 'http://mirror.lab.example/debian', origin: 'apt' }],
  ])('%s', (_n, name, env, want) => {
    expect(rootfsSource(machine(name, env))).toEqual(want);
  });

  test('a Debian machine with no source at all falls back to the public archive', () => {
    expect(rootfsSource({ ...machine('debian12'), debianSources: undefined })).toEqual(
      { mode: 'debootstrap', mirror: DEBIAN_PUBLIC_ARCHIVE, origin: 'public' });
  });

  test.each([
    [{ PALLET_LAB_IMAGES: 'docker' }, /PALLET_LAB_IMAGES=docker: use "debootstrap".*or "hub"/],
    [{ PALLET_LAB_DEBIAN_MIRROR: 'mirror.example/debian' }, /PALLET_LAB_DEBIAN_MIRROR=mirror\.example\/debian: expected the URL/],
  ])('bad setting %j is refused naming the variable', (env, msg) => {
    expect(() => rootfsSource(machine('debian12', env))).toThrow(msg);
  });

  test('the log line says where and why', () => {
    expect(describeRootfsSource(rootfsSource(machine('ubuntu2404')))).toBe(
      `with debootstrap from ${DEBIAN_PUBLIC_ARCHIVE} (no Debian source on this machine; keyring ${DEBIAN_ARCHIVE_KEYRING})`);
    expect(describeRootfsSource(rootfsSource(machine('debian12')))).toBe(
      "with debootstrap from http://mirror.lab.example/debian (this machine's apt sources)");
  });
});

describe('debootstrap and hub recipes', () => {
  const host = ROOTFS.find((r) => r.name === 'host')!;
  test('keyring goes before the suite only when given', () => {
    expect(debootstrapArgs(host, '/r', 'http://m/debian', DEBIAN_ARCHIVE_KEYRING).slice(0, 2)).toEqual(
      ['--variant=minbase', `--keyring=${DEBIAN_ARCHIVE_KEYRING}`]);
    expect(debootstrapArgs(host, '/r', 'http://m/debian').some((a) => a.startsWith('--keyring'))).toBe(false);
  });
  test('hub Dockerfile installs the same packages and keeps the import changes', () => {
    const df = hubRootfsDockerfile(HUB_BASE_IMAGE, host.packages, host.changes).split('\n');
    expect(df[0]).toBe(`FROM ${HUB_BASE_IMAGE}`);
    const install = df.find((l) => l.includes('apt-get install'))!;
    for (const p of host.packages) expect(install.split(' ')).toContain(p);
    expect(df.slice(-host.changes.length)).toEqual(host.changes);
    expect(df).toContain('ARG DEBIAN_FRONTEND=noninteractive');
  });
  test('hub images get their own hash; debootstrap hashes do not move', () => {
    expect(rootfsHash(host, HUB_BASE_IMAGE)).not.toBe(rootfsHash(host));
    expect(rootfsHash(host, undefined)).toBe(rootfsHash(host));
  });
});

describe('.ci/packages.mjs', () => {
  const osRelease = (name: string) => machine(name).osRelease;
  test.each([
    ['debian12', 'debian'], ['ubuntu2404', 'ubuntu'], ['ubuntu2204', 'ubuntu'],
  ])('%s is %s', (name, family) => {
    expect(distroFamily(osRelease(name))).toBe(family);
  });
  test('a derivative is known by ID_LIKE; anything else is refused', () => {
    expect(distroFamily('ID=linuxmint\nID_LIKE="ubuntu debian"\n')).toBe('ubuntu');
    expect(distroFamily('ID=fedora\n')).toBeUndefined();
    expect(distroFamily(undefined)).toBeUndefined();
  });
  test('nothing present: every package once, sorted; the keyring for both', () => {
    for (const family of ['debian', 'ubuntu']) {
      const pkgs = missingPackages(family, () => false);
      expect(pkgs).toEqual([...new Set(pkgs)].sort());
      expect(pkgs).toEqual(expect.arrayContaining(['docker.io', 'debootstrap', 'docker-registry', 'openssh-client', 'nginx', 'apache2-utils', 'debian-archive-keyring']));
    }
  });
  test('only what is missing (a GitHub runner has dockerd, ssh, curl, tar)', () => {
    const have = new Set(['dockerd', 'ssh', 'ssh-keyscan', 'curl', 'tar']);
    const pkgs = missingPackages('ubuntu', (n: { command?: string }) => !!n.command && have.has(n.command));
    expect(pkgs).not.toContain('docker.io');
    expect(pkgs).not.toContain('openssh-client');
    expect(pkgs).toContain('debootstrap');
    expect(pkgs).toContain('debian-archive-keyring');
  });
  test('every need names a package for both families', () => {
    for (const n of NEEDS) {
      expect(typeof n.debian).toBe('string');
      expect(typeof n.ubuntu).toBe('string');
      expect(!!n.command !== !!n.file).toBe(true);
    }
  });
});
