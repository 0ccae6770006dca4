import { parseHost, keyscanHint, knownHostsName } from '../../src/ssh/host.js';
import { commandArgs, exitArgs, masterArgs, directPrefix, type SshSettings } from '../../src/ssh/options.js';
import { classifySshFailure, sshConnectError } from '../../src/ssh/errors.js';
import { UserError } from '../../src/errors.js';

const d = { user: 'deploy', port: 22 };

describe('parseHost', () => {
  test.each([
    ['app1', { user: 'deploy', host: 'app1', port: 22 }],
    ['root@app1', { user: 'root', host: 'app1', port: 22 }],
    ['127.0.0.1:2201', { user: 'deploy', host: '127.0.0.1', port: 2201 }],
    ['ops@app1.example.com:2222', { user: 'ops', host: 'app1.example.com', port: 2222 }],
    ['[::1]:2200', { user: 'deploy', host: '::1', port: 2200 }],
  ])('%s', (spec, want) => {
    expect(parseHost(spec, d)).toMatchObject(want);
  });
  test.each(['', 'app1:x', 'app1:70000', 'bad host', '-oProxyCommand=x', 'a;b', 'r oot@h'])('rejects %j', (spec) => {
    expect(() => parseHost(spec, d)).toThrow(UserError);
  });
  test('known_hosts names and keyscan hints', () => {
    expect(knownHostsName({ host: '127.0.0.1', port: 2201 })).toBe('[127.0.0.1]:2201');
    expect(knownHostsName({ host: 'h', port: 22 })).toBe('h');
    expect(keyscanHint({ host: '127.0.0.1', port: 2201 })).toBe('ssh-keyscan -p 2201 127.0.0.1');
  });
});

const settings: SshSettings = {
  knownHostsFile: '/tmp/r/known_hosts', identityFile: '/tmp/r/id', insecure: false, controlDir: '/tmp/r',
  connectTimeout: 10, serverAliveInterval: 5, serverAliveCountMax: 3, controlPersist: 900,
};
const target = parseHost('127.0.0.1:2201', { user: 'root', port: 22 });

const opt = (args: string[], key: string) => args.filter((a, i) => args[i - 1] === '-o' && a.startsWith(`${key}=`)).map((a) => a.slice(key.length + 1));

describe('ssh argument vectors', () => {
  test('master: multiplexing, strict host keys, identity', () => {
    const a = masterArgs(settings, target);
    expect(a).toEqual(expect.arrayContaining(['-M', '-N', '-f', '-i', '/tmp/r/id']));
    expect(opt(a, 'ControlPath')).toEqual(['/tmp/r/%C']);
    expect(opt(a, 'ControlPersist')).toEqual(['900']);
    expect(opt(a, 'StrictHostKeyChecking')).toEqual(['yes']);
    expect(opt(a, 'UserKnownHostsFile')).toEqual(['/tmp/r/known_hosts']);
    expect(opt(a, 'GlobalKnownHostsFile')).toEqual(['/dev/null']);
    expect(opt(a, 'BatchMode')).toEqual(['yes']);
    expect(opt(a, 'IdentitiesOnly')).toEqual(['yes']);
    expect(a.slice(-3)).toEqual(['-p', '2201', 'root@127.0.0.1']);
  });
  test('command rides the master and is one quoted string', () => {
    const a = commandArgs(settings, target, ['docker', 'login', '-u', 'me', '--password-stdin', 'reg:5000']);
    expect(opt(a, 'ControlMaster')).toEqual(['no']);
    expect(a).not.toContain('-M');
    expect(a.slice(-2)).toEqual(['--', 'docker login -u me --password-stdin reg:5000']);
  });
  test('exit and direct connections', () => {
    expect(exitArgs(settings, target)).toEqual(['-o', 'ControlPath=/tmp/r/%C', '-O', 'exit', '-p', '2201', 'root@127.0.0.1']);
    expect(opt(directPrefix(settings, target), 'ControlPath')).toEqual(['none']);
  });
  test('insecure mode turns checking off explicitly', () => {
    const a = masterArgs({ ...settings, insecure: true }, target);
    expect(opt(a, 'StrictHostKeyChecking')).toEqual(['no']);
    expect(opt(a, 'UserKnownHostsFile')).toEqual(['/dev/null']);
  });
  test('jump host goes through a ProxyCommand carrying the same checks', () => {
    const a = masterArgs({ ...settings, jump: parseHost('bastion:2222', { user: 'jump', port: 22 }) }, target);
    const [proxy] = opt(a, 'ProxyCommand');
    expect(proxy).toMatch(/^ssh /);
    expect(proxy).toContain('StrictHostKeyChecking=yes');
    expect(proxy).toContain('UserKnownHostsFile=/tmp/r/known_hosts');
    expect(proxy).toContain('-W %h:%p');
    expect(proxy).toMatch(/-p 2222 -W %h:%p jump@bastion$/);
  });
});

describe('ssh failures', () => {
  test.each([
    ['No ED25519 host key is known for [127.0.0.1]:2201 and you have requested strict checking.\r\nHost key verification failed.', 'host-key-unknown'],
    ['@@@@@\r\n@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @\r\nHost key verification failed.', 'host-key-changed'],
    ['root@127.0.0.1: Permission denied (publickey).', 'auth'],
    ['ssh: connect to host 127.0.0.1 port 2299: Connection refused', 'unreachable'],
    ['something odd', 'other'],
  ])('%j', (stderr, kind) => {
    expect(classifySshFailure(stderr)).toBe(kind);
  });
  test('messages name the host and say what to do', () => {
    expect(sshConnectError(target, 'Host key verification failed.').message)
      .toBe('host key for 127.0.0.1:2201 is not in ssh-known-hosts: add the output of `ssh-keyscan -p 2201 127.0.0.1`');
    expect(sshConnectError(target, 'REMOTE HOST IDENTIFICATION HAS CHANGED').message).toMatch(/127\.0\.0\.1:2201 has CHANGED.*man-in-the-middle/);
  });
});
