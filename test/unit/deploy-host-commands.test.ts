// Host housekeeping commands: the env-file check (run here with the local sh against real
// files) and the per-deploy DOCKER_CONFIG directory that keeps registry credentials off hosts.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync, statSync, existsSync, utimesSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  DOCKER_CONFIG_PREFIX, dockerConfigPath, envFileCheckArgv, envFileHint, envFileProblem, isDockerConfigDir, makeDockerConfigArgv, removeDockerConfigArgv,
} from '../../src/deploy/host-commands.js';
import { loginArgv, pullArgv } from '../../src/deploy/commands.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'pallet-hostcmd-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const runLocal = (argv: string[]) => {
  const r = spawnSync(argv[0], argv.slice(1), { encoding: 'utf8' });
  return { exitCode: r.status ?? -1, stdout: r.stdout };
};

describe('env file check', () => {
  writeFileSync(path.join(tmp, 'app.env'), 'A=1\n');
  test.each([
    ['an existing file', 'app.env', undefined],
    ['a missing file', 'gone.env', 'does not exist'],
    ['a directory', '.', 'is not a regular file'],
    ['a path with spaces and $(cmd)', 'x $(touch pwned).env', 'does not exist'],
  ])('%s', (_n, rel, problem) => {
    const r = runLocal(envFileCheckArgv(path.join(tmp, rel)));
    expect(envFileProblem(r.exitCode, r.stdout)).toBe(problem);
    expect(existsSync('pwned')).toBe(false);
  });
  test('unreadable, and output that is not the script\'s', () => {
    expect(envFileProblem(1, 'UNREADABLE\n')).toBe('is not readable by the deploy user');
    expect(envFileProblem(127, 'sh: not found')).toBe('could not be checked (exit 127)');
    expect(envFileProblem(0, '')).toBe('could not be checked (exit 0)');
  });
  test('the hint fits the problem: an unreadable file is not to be created again', () => {
    expect(envFileHint(envFileProblem(1, 'UNREADABLE\n')!, '/etc/pallet/shop.env', 'deploy')).toBe(
      'the file is there: let user deploy read it, e.g. sudo chgrp deploy /etc/pallet/shop.env && sudo chmod 0640 /etc/pallet/shop.env (and the directory: sudo chgrp deploy /etc/pallet && sudo chmod 0750 /etc/pallet); docs/hosts.md §3');
    expect(envFileHint(envFileProblem(1, 'NOTFILE\n')!, '/etc/pallet', 'deploy')).toMatch(/^point deploy.env_file at the env file itself/);
    expect(envFileHint(envFileProblem(1, 'MISSING\n')!, '/etc/pallet/shop.env', 'deploy')).toMatch(/^create it on every host, readable by user deploy/);
  });
});

describe('per-deploy DOCKER_CONFIG', () => {
  const dir = dockerConfigPath('0123456789abcdef');
  test('login and pull use it; without it they are unchanged', () => {
    expect(loginArgv('reg:5000', 'ci', dir)).toEqual(['env', `DOCKER_CONFIG=${dir}`, 'docker', 'login', '-u', 'ci', '--password-stdin', 'reg:5000']);
    expect(pullArgv('reg:5000/a:b', dir)).toEqual(['env', `DOCKER_CONFIG=${dir}`, 'docker', 'pull', 'reg:5000/a:b']);
    expect(pullArgv('reg:5000/a:b')).toEqual(['docker', 'pull', 'reg:5000/a:b']);
  });
  test.each([
    [dir, true],
    [`${DOCKER_CONFIG_PREFIX}abc`, false],
    [`${DOCKER_CONFIG_PREFIX}0123456789abcdef/..`, false],
    ['/', false],
    ['/root/.docker', false],
    [`${DOCKER_CONFIG_PREFIX}0123456789ABCDEF`, false],
  ])('only its own directories are made or removed: %s -> %s', (d, ok) => {
    expect(isDockerConfigDir(d)).toBe(ok);
    if (ok) expect(removeDockerConfigArgv(d)).toEqual(['rm', '-rf', '--', d]);
    else { expect(() => removeDockerConfigArgv(d)).toThrow(/not a pallet docker config directory/); expect(() => makeDockerConfigArgv(d)).toThrow(); }
  });
  test('made 0700, refused if the path already exists (no symlink games)', () => {
    // Run the real script against a path under our temp dir by swapping the guarded argument.
    const argv = makeDockerConfigArgv(dir);
    const local = path.join(tmp, 'cfg');
    const mk = runLocal([...argv.slice(0, -1), local]);
    expect(mk.exitCode).toBe(0);
    expect(statSync(local).mode & 0o777).toBe(0o700);
    expect(runLocal([...argv.slice(0, -1), local]).exitCode).not.toBe(0);
  });
  test('sweeps pallet docker config dirs older than an hour, keeps fresh ones', () => {
    const stale = dockerConfigPath(`5a1e${Date.now().toString(16)}`);
    const fresh = dockerConfigPath(`f5e5${Date.now().toString(16)}`);
    mkdirSync(stale, { mode: 0o700 });
    mkdirSync(fresh, { mode: 0o700 });
    const old = new Date(Date.now() - 2 * 3600_000);
    utimesSync(stale, old, old);
    try {
      const argv = makeDockerConfigArgv(dir);
      expect(runLocal([...argv.slice(0, -1), path.join(tmp, 'cfg2')]).exitCode).toBe(0);
      expect(existsSync(stale)).toBe(false);
      expect(existsSync(fresh)).toBe(true);
    } finally {
      rmSync(stale, { recursive: true, force: true });
      rmSync(fresh, { recursive: true, force: true });
    }
  });
});
