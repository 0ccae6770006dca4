// pallet setup, pure parts: what the probe prints -> the facts, the facts -> refusal or the
// changes in order, and the host checks' verdicts. Commands are compared whole.
import {
  accessArgv, addToDockerGroupArgv, asRoot, authorizeKeyArgv, createUserArgv, enableDockerArgv, installPackagesArgv, makeDirArgv, makeEmptyFileArgv, probeArgv,
} from '../../src/setup/commands.js';
import { keyBlob, keyLabel, parentDir, parseAccess, parseProbe, planSetup, probePaths, refusal, type HostProbe, type SetupWanted } from '../../src/setup/plan.js';
import { checksArgv, checksRows, evaluateChecks, olderThan, parseChecks, type HostChecks } from '../../src/host/checks.js';
import { hostDirs } from '../../src/commands/setup.js';

const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFakeKeyBlobForTests0123456789abcdefghijkl pallet-deploy';
const BLOB = 'AAAAC3NzaC1lZDI1NTE5AAAAIFakeKeyBlobForTests0123456789abcdefghijkl';
const WANT: SetupWanted = { user: 'deploy', publicKey: KEY, dirs: hostDirs({ proxy: { image: 'caddy:2' } as never }), envFile: '/etc/pallet/shop.env' };

const BARE_PROBE = `systemd=1
dockerd=
docker_active=inactive
docker_enabled=
engine=
proxy=
path=/var/lib/pallet\tmissing
path=/var/lib/pallet/proxy\tmissing
path=/var/lib/pallet/proxy-data\tmissing
path=/var/lib/pallet/proxy-static\tmissing
path=/etc/pallet\tmissing
path=/etc/pallet/shop.env\tmissing
`;

const READY_PROBE = `systemd=1
dockerd=/usr/sbin/dockerd
curl=/usr/bin/curl
crontab=
docker_active=active
docker_enabled=enabled
engine=20.10.24+dfsg1
docker_group=1
proxy=true
user=deploy:x:1001:1001::/home/deploy:/bin/bash
groups=deploy docker
key=1
path=/var/lib/pallet\t755 deploy deploy directory
path=/var/lib/pallet/proxy\t755 deploy deploy directory
path=/var/lib/pallet/proxy-data\t700 deploy deploy directory
path=/var/lib/pallet/proxy-static\t755 deploy deploy directory
path=/etc/pallet\t750 root deploy directory
path=/etc/pallet/shop.env\t600 deploy deploy regular empty file
path=/home/deploy/.ssh\t700 deploy deploy directory
path=/home/deploy/.ssh/authorized_keys\t600 deploy deploy regular file
`;

describe('commands: data only as positional arguments', () => {
  test('run as root: sudo -n for a sudo user, unchanged for root', () => {
    expect(asRoot(['sh', '-c', 'true', 'pallet-x'], false)).toEqual(['sudo', '-n', '--', 'sh', '-c', 'true', 'pallet-x']);
    expect(asRoot(['sh', '-c', 'true', 'pallet-x'], true)).toEqual(['sh', '-c', 'true', 'pallet-x']);
  });

  test('the user, key and paths are arguments, never part of a script', () => {
    expect(createUserArgv('deploy')).toEqual(['sh', '-c', 'useradd --create-home --shell /bin/bash --user-group -- "$1"', 'pallet-create-user', 'deploy']);
    expect(addToDockerGroupArgv('deploy')).toEqual(['sh', '-c', 'getent group docker >/dev/null || groupadd --system docker || exit 3\nusermod -aG docker -- "$1"', 'pallet-docker-group', 'deploy']);
    expect(makeDirArgv('/var/lib/pallet', '0755', 'deploy', 'deploy')).toEqual(['sh', '-c', 'g=$(id -gn -- "$4") || exit 3\ninstall -d -m "$2" -o "$3" -g "$g" -- "$1"', 'pallet-make-dir', '/var/lib/pallet', '0755', 'deploy', 'deploy']);
    expect(makeEmptyFileArgv('/etc/pallet/shop.env', '0600', 'deploy')).toEqual(['sh', '-c', '[ -e "$1" ] && exit 0\ng=$(id -gn -- "$3") || exit 3\ninstall -m "$2" -o "$3" -g "$g" /dev/null "$1"', 'pallet-make-empty-file', '/etc/pallet/shop.env', '0600', 'deploy']);
    const a = authorizeKeyArgv('deploy', KEY, BLOB);
    expect(a.slice(3)).toEqual(['pallet-authorize-key', 'deploy', KEY, BLOB]);
    expect(a[2]).not.toContain('AAAA');
    expect(a[2]).not.toMatch(/\brm\b|sshd_config/);
    const p = probeArgv('deploy', BLOB, ['/var/lib/pallet']);
    expect(p.slice(3)).toEqual(['pallet-setup-probe', 'deploy', BLOB, '/var/lib/pallet']);
    expect(accessArgv().slice(3)).toEqual(['pallet-setup-access']);
    expect(installPackagesArgv(['docker.io', 'curl'])).toEqual(['sh', '-c', expect.stringContaining('apt-get -o DPkg::Lock::Timeout=300 install -y -q --no-install-recommends "$@"'), 'pallet-install-packages', 'docker.io', 'curl']);
    expect(enableDockerArgv()[2]).toContain('systemctl enable --now docker.service');
  });
});

describe('parsing what the host said', () => {
  test('access: uid, sudo, os-release with quotes', () => {
    expect(parseAccess('uid=1000\nsudo=ok\nos.PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nos.ID=debian\nos.VERSION_ID="12"\n'))
      .toEqual({ uid: 1000, sudo: 'ok', os: { PRETTY_NAME: 'Debian GNU/Linux 12 (bookworm)', ID: 'debian', VERSION_ID: '12' } });
  });

  test('probe of a ready host', () => {
    const p = parseProbe(READY_PROBE);
    expect(p).toMatchObject({ systemd: true, dockerd: '/usr/sbin/dockerd', dockerActive: 'active', dockerEnabled: 'enabled', engine: '20.10.24+dfsg1', dockerGroup: true, keyAuthorized: true, proxy: 'true' });
    expect(p.user).toEqual({ name: 'deploy', uid: 1001, home: '/home/deploy', shell: '/bin/bash', groups: ['deploy', 'docker'] });
    expect(p.paths['/etc/pallet/shop.env']).toEqual({ exists: true, mode: '600', owner: 'deploy', group: 'deploy', type: 'regular empty file' });
    expect(p.paths['/var/lib/pallet']).toEqual({ exists: true, mode: '755', owner: 'deploy', group: 'deploy', type: 'directory' });
  });

  test('probe paths: the directories, then the env file with its directory', () => {
    expect(probePaths(WANT)).toEqual(['/var/lib/pallet', '/var/lib/pallet/proxy', '/var/lib/pallet/proxy-data', '/var/lib/pallet/proxy-static', '/etc/pallet', '/etc/pallet/shop.env']);
    expect(parentDir('/etc/pallet/shop.env')).toBe('/etc/pallet');
    expect(parentDir('/shop.env')).toBe('/');
  });

  test('key blob and label', () => {
    expect(keyBlob(KEY)).toBe(BLOB);
    expect(keyBlob(`restrict ${KEY}`)).toBe(BLOB);
    expect(keyLabel(KEY)).toBe('ssh-ed25519 ...efghijkl pallet-deploy');
    expect(() => keyBlob('not a key')).toThrow('not an ssh public key');
  });
});

describe('refusal: who and what system', () => {
  const debian = { ID: 'debian', PRETTY_NAME: 'Debian GNU/Linux 12 (bookworm)' };
  test.each([
    ['root on Debian', { uid: 0, sudo: 'root' as const, os: debian }, undefined],
    ['sudo user on Ubuntu', { uid: 1000, sudo: 'ok' as const, os: { ID: 'ubuntu' } }, undefined],
    ['a derivative that says ID_LIKE=debian', { uid: 0, sudo: 'root' as const, os: { ID: 'raspbian', ID_LIKE: 'debian' } }, undefined],
  ])('%s: goes on', (_n, a, want) => {
    expect(refusal('app1', 'admin', a)).toEqual(want);
  });

  test('a user whose sudo asks for a password is refused, naming the host, the user and what is missing', () => {
    expect(refusal('app1', 'ops', { uid: 1000, sudo: 'password', os: debian })?.message)
      .toBe('app1: user ops is not root and cannot use sudo without a password (sudo asks for a password (sudo -n true failed)); setup needs root or passwordless sudo to install Docker and create the deploy user');
    expect(refusal('app1', 'ops', { uid: 1000, sudo: 'missing', os: debian })?.message).toContain('(sudo is not installed)');
  });

  test('another system is refused naming it', () => {
    expect(refusal('app2', 'root', { uid: 0, sudo: 'root', os: { ID: 'fedora', PRETTY_NAME: 'Fedora Linux 40' } })?.message)
      .toBe('app2: setup supports Debian and Ubuntu only, this host runs Fedora Linux 40');
    expect(refusal('app2', 'root', { uid: 0, sudo: 'root', os: {} })?.message).toBe('app2: setup supports Debian and Ubuntu only, this host runs no /etc/os-release');
  });
});

describe('the plan', () => {
  test('a bare host: Docker, user, group, key, directories, env file, in this order', () => {
    const p = planSetup('app1', parseProbe(BARE_PROBE), WANT);
    expect(p.warnings).toEqual([]);
    expect(p.changes.map((c) => c.what)).toEqual([
      "install docker.io, curl from the distribution's packages (apt-get install docker.io curl)",
      'start and enable the Docker engine (systemctl enable --now docker)',
      'create the deploy user deploy (home /home/deploy, shell /bin/bash)',
      'add deploy to the docker group',
      'authorize the deploy key for deploy (ssh-ed25519 ...efghijkl pallet-deploy added to ~deploy/.ssh/authorized_keys)',
      'create /var/lib/pallet (mode 0755, owner deploy)',
      'create /var/lib/pallet/proxy (mode 0755, owner deploy)',
      'create /var/lib/pallet/proxy-data (mode 0700, owner deploy)',
      'create /var/lib/pallet/proxy-static (mode 0755, owner deploy)',
      'create /etc/pallet for the env file (mode 0750, owner root, group of deploy)',
      "create the env file /etc/pallet/shop.env empty (mode 0600, owner deploy; put the app's settings there, or use deploy.env)",
    ]);
    expect(p.changes.map((c) => c.argv)).toEqual([
      installPackagesArgv(['docker.io', 'curl']), enableDockerArgv(), createUserArgv('deploy'), addToDockerGroupArgv('deploy'), authorizeKeyArgv('deploy', KEY, BLOB),
      makeDirArgv('/var/lib/pallet', '0755', 'deploy', 'deploy'), makeDirArgv('/var/lib/pallet/proxy', '0755', 'deploy', 'deploy'),
      makeDirArgv('/var/lib/pallet/proxy-data', '0700', 'deploy', 'deploy'), makeDirArgv('/var/lib/pallet/proxy-static', '0755', 'deploy', 'deploy'),
      makeDirArgv('/etc/pallet', '0750', 'root', 'deploy'), makeEmptyFileArgv('/etc/pallet/shop.env', '0600', 'deploy'),
    ]);
  });

  test('a ready host: no change, no warning', () => {
    expect(planSetup('app1', parseProbe(READY_PROBE), WANT)).toEqual({ changes: [], warnings: [] });
  });

  test('an engine from elsewhere stays; only what deploys also run is installed (curl; cron for deploy.cron)', () => {
    const probe: HostProbe = { ...parseProbe(READY_PROBE), curl: '' };
    expect(planSetup('app1', probe, { ...WANT, cron: true }).changes).toEqual([
      { what: "install curl, cron from the distribution's packages (apt-get install curl cron)", argv: installPackagesArgv(['curl', 'cron']) },
    ]);
    expect(planSetup('app1', { ...probe, curl: '/usr/bin/curl', crontab: '/usr/bin/crontab' }, { ...WANT, cron: true }).changes).toEqual([]);
  });

  test('without the proxy or an env file: only the state directory', () => {
    const p = planSetup('app1', parseProbe(BARE_PROBE), { user: 'deploy', publicKey: KEY, dirs: hostDirs({}) });
    expect(p.changes.map((c) => c.what).filter((w) => w.startsWith('create /'))).toEqual(['create /var/lib/pallet (mode 0755, owner deploy)']);
  });

  test('an existing user: only joins the docker group and gets the key added; its shell stays (warned)', () => {
    const probe: HostProbe = { ...parseProbe(READY_PROBE), keyAuthorized: false, user: { name: 'deploy', uid: 1001, home: '/home/deploy', shell: '/usr/sbin/nologin', groups: ['deploy', 'adm'] } };
    const p = planSetup('app1', probe, WANT);
    expect(p.changes.map((c) => c.argv)).toEqual([addToDockerGroupArgv('deploy'), authorizeKeyArgv('deploy', KEY, BLOB)]);
    expect(p.warnings).toEqual(['app1: the deploy user deploy has the shell /usr/sbin/nologin, so pallet cannot run commands as it; setup leaves existing users as they are: chsh -s /bin/bash deploy']);
  });

  test('an engine installed but stopped and disabled: started and enabled, not installed again', () => {
    const probe: HostProbe = { ...parseProbe(READY_PROBE), dockerActive: 'inactive', dockerEnabled: 'disabled' };
    expect(planSetup('app1', probe, WANT).changes).toEqual([
      { what: 'start and enable the Docker engine (systemctl enable --now docker; it was inactive, disabled)', argv: enableDockerArgv() },
    ]);
  });

  test('what is there and owned by another user stays, with a warning naming the fix', () => {
    const probe = parseProbe(READY_PROBE.replace('path=/var/lib/pallet\t755 deploy deploy directory', 'path=/var/lib/pallet\t755 root root directory')
      .replace('path=/etc/pallet/shop.env\t600 deploy deploy regular empty file', 'path=/etc/pallet/shop.env\t600 root root regular file'));
    expect(planSetup('app1', probe, WANT)).toEqual({
      changes: [],
      warnings: [
        'app1: /var/lib/pallet is owned by root, not deploy: deploys cannot write there; setup leaves it as it is: chown -R deploy: /var/lib/pallet',
        'app1: the env file /etc/pallet/shop.env (mode 600, root:root) may not be readable by deploy; setup leaves it as it is: chgrp deploy /etc/pallet/shop.env && chmod 0640 /etc/pallet/shop.env',
      ],
    });
  });

  test('deploy user root: no group change, no user creation', () => {
    const probe: HostProbe = { ...parseProbe(READY_PROBE), keyAuthorized: true, user: { name: 'root', uid: 0, home: '/root', shell: '/bin/bash', groups: ['root'] } };
    expect(planSetup('app1', probe, { ...WANT, user: 'root' }).changes).toEqual([]);
  });
});

describe('host checks', () => {
  const base: HostChecks = { engine: '20.10.24+dfsg1', dockerRoot: '/var/lib/docker', diskFree: 50 * 1024 ** 3, diskMount: '/', proxy: '', ports: { 80: undefined, 443: undefined }, skewSeconds: 0, skewUncertainty: 1 };

  test('parse: engine, root, disk, ports, clock', () => {
    const c = parseChecks('engine=24.0.5\nroot=/srv/docker\ndisk_kb=1048576\ndisk_mount=/srv\nproxy=true\nport=80 docker-proxy\nport=443 free\nnow=1000\n', 990_000, 992_000);
    expect(c).toEqual({ engine: '24.0.5', dockerRoot: '/srv/docker', diskFree: 1024 ** 3, diskMount: '/srv', proxy: 'true', ports: { 80: 'docker-proxy', 443: undefined }, skewSeconds: 9, skewUncertainty: 2 });
  });

  test('a healthy host: nothing to say', () => {
    expect(evaluateChecks('app1', base, { proxy: true, engineExpected: true })).toEqual({ warnings: [], blocking: [] });
  });

  test('ports held by pallet-proxy are fine; by another process they block, naming it', () => {
    expect(evaluateChecks('app1', { ...base, proxy: 'true', ports: { 80: 'docker-proxy', 443: 'docker-proxy' } }, { proxy: true, engineExpected: true }).blocking).toEqual([]);
    expect(evaluateChecks('app1', { ...base, ports: { 80: 'nginx', 443: undefined } }, { proxy: true, engineExpected: true }).blocking).toEqual([
      'app1: port 80 is taken by another process (nginx), and pallet\'s proxy needs ports 80 and 443: stop it (a web server? systemctl disable --now nginx; see docs/hosts.md "Moving from a hand-written nginx"), or set deploy.proxy: false',
    ]);
    expect(evaluateChecks('app1', { ...base, ports: { 80: 'nginx' } }, { proxy: false, engineExpected: true })).toEqual({ warnings: [], blocking: [] });
  });

  test('disk: low warns, nearly full blocks', () => {
    expect(evaluateChecks('app1', { ...base, diskFree: 3 * 1024 ** 3 }, { proxy: false, engineExpected: true }).warnings[0]).toBe("app1: only 3.0 GB free on / (holding the engine's root /var/lib/docker), below 5.0 GB: pulls may fail; free some space (docker image prune -a, old logs) or grow the disk");
    expect(evaluateChecks('app1', { ...base, diskFree: 200 * 1024 ** 2 }, { proxy: false, engineExpected: true }).blocking[0]).toMatch(/^app1: only 200(\.0)? MB free on \/ .*free some space first/);
  });

  test('clock skew beyond the bound and the round trip', () => {
    expect(evaluateChecks('app1', { ...base, skewSeconds: -42 }, { proxy: false, engineExpected: true }).warnings).toEqual([
      "app1: the host's clock is 42 s behind this machine's: certificates, audit times and schedules go wrong; turn on time sync (timedatectl set-ntp true, or install chrony)",
    ]);
    expect(evaluateChecks('app1', { ...base, skewSeconds: 10.5 }, { proxy: false, engineExpected: true }).warnings).toEqual([]);
  });

  test('engine: missing (when expected) and too old', () => {
    expect(evaluateChecks('app1', { ...base, engine: '' }, { proxy: false, engineExpected: false }).warnings).toEqual([]);
    expect(evaluateChecks('app1', { ...base, engine: '' }, { proxy: false, engineExpected: true }).warnings[0]).toMatch(/^app1: the Docker engine does not answer/);
    expect(evaluateChecks('app1', { ...base, engine: '19.03.13' }, { proxy: false, engineExpected: true }).warnings[0]).toMatch(/^app1: Docker Engine 19.03.13 is older than 20.10/);
    expect(olderThan('20.10.24+dfsg1', '20.10')).toBe(false);
    expect(olderThan('26.1.5', '20.10')).toBe(false);
    expect(olderThan('19.03.15', '20.10')).toBe(true);
  });

  test('the checks script takes the ports as arguments', () => {
    expect(checksArgv().slice(3)).toEqual(['pallet-host-checks', '80', '443']);
  });

  test('status table: one row per host with checks; ports held by the proxy say so', () => {
    expect(checksRows([
      { host: 'app1', checks: { ...base, proxy: 'true', ports: { 80: 'docker-proxy', 443: 'docker-proxy' }, skewSeconds: 1.4 } },
      { host: 'app2', checks: { ...base, engine: '', diskFree: undefined, skewSeconds: undefined, ports: { 80: 'nginx', 443: undefined } } },
      { host: 'app3' },
    ])).toEqual([
      ['app1', '20.10.24+dfsg1', '50.0 GB (/)', '+1 s', 'pallet-proxy', 'pallet-proxy'],
      ['app2', 'no answer', '?', '?', 'nginx', 'free'],
    ]);
  });
});
