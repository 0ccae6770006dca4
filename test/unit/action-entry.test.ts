// The bundled action run the way the runner runs it: dist/index.js with INPUT_* variables and
// the GITHUB_* files. Bad input must fail cleanly (one error line, exit 1) before anything else.
import path from 'node:path';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { REPO_ROOT } from '../helpers/lab.js';
import { runLikeRunner } from '../helpers/runner.js';
import { jest } from '@jest/globals';

// Each case starts the action in a child node process: seconds on a busy runner, not milliseconds.
jest.setTimeout(60_000);

const DIST = path.join(REPO_ROOT, 'dist/index.js');
const CLI = path.join(REPO_ROOT, 'dist/cli/index.js');
// Any Docker call would fail with a connection error naming this path, so a clean input error
// proves nothing reached the engine.
const NO_DOCKER = { DOCKER_HOST: 'unix:///nonexistent/pallet-test.sock' };

describe('dist/index.js as the runner runs it', () => {
  test('a bad command input fails cleanly with exit 1 and saves isPost', async () => {
    const r = await runLikeRunner(DIST, { inputs: { command: 'deplo' }, env: NO_DOCKER });
    expect(r.code).toBe(1);
    expect(r.stdout).toContain("::error::unknown command 'deplo': expected one of build, test, push, ci, deploy, rollback, status, exec, logs, lock-status, lock-release");
    expect(r.stdout).not.toMatch(/at .*\.js:\d+/); // no stack trace for user errors
    expect(r.stdout + r.stderr).not.toContain('nonexistent/pallet-test.sock');
    expect(r.state.isPost).toBe('true');
    expect(r.outputs).toEqual({});
  });

  test('a missing command input names the input', async () => {
    const r = await runLikeRunner(DIST, { env: NO_DOCKER });
    expect(r.code).toBe(1);
    expect(r.stdout).toContain("::error::input 'command' is required");
  });

  test('a bad boolean input names the input', async () => {
    const r = await runLikeRunner(DIST, { inputs: { command: 'build', cache: 'maybe' }, env: NO_DOCKER });
    expect(r.code).toBe(1);
    expect(r.stdout).toContain("input 'cache' must be true or false, got 'maybe'");
  });

  test('a missing config file fails before Docker is contacted', async () => {
    const cwd = mkdtempSync(path.join(os.tmpdir(), 'pallet-entry-'));
    const r = await runLikeRunner(DIST, { cwd, inputs: { command: 'build', config: 'nope.yml' }, env: NO_DOCKER });
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/::error::.*nope\.yml/);
    expect(r.stdout + r.stderr).not.toContain('nonexistent/pallet-test.sock');
  });

  test('secret inputs are masked as soon as they are read', async () => {
    const cwd = mkdtempSync(path.join(os.tmpdir(), 'pallet-entry-'));
    writeFileSync(path.join(cwd, 'pallet.yml'), 'app: [\n');
    const r = await runLikeRunner(DIST, {
      cwd,
      inputs: { command: 'build', 'registry-password': 's3cr3t-pw', 'ssh-private-key': 'KEYLINE-ONE\nKEYLINE-TWO' },
      env: NO_DOCKER,
    });
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('::add-mask::s3cr3t-pw');
    expect(r.stdout).toMatch(/::add-mask::KEYLINE-ONE/);
  });

  test('the post step with nothing recorded exits 0', async () => {
    const r = await runLikeRunner(DIST, { state: { isPost: 'true' }, env: NO_DOCKER });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('nothing to clean up');
  });

  test('the post step removes a key file the main step recorded', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'pallet-post-'));
    const key = path.join(dir, 'id_deploy');
    writeFileSync(key, 'secret', { mode: 0o600 });
    const r = await runLikeRunner(DIST, {
      state: { isPost: 'true', 'pallet-cleanup': JSON.stringify([{ kind: 'path', path: dir }]) },
      env: NO_DOCKER,
    });
    expect(r.code).toBe(0);
    const { existsSync } = await import('node:fs');
    expect(existsSync(dir)).toBe(false);
  });
});

describe('dist/cli/index.js (pallet)', () => {
  test('an unknown command fails with a clear message', async () => {
    const r = await runLikeRunner(CLI, { command: [process.execPath, CLI, 'frob'], env: { ...NO_DOCKER, GITHUB_ACTIONS: '' } });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("error: unknown command 'frob'");
  });

  test('a secret on the command line is refused', async () => {
    const r = await runLikeRunner(CLI, {
      command: [process.execPath, CLI, 'push', '--registry-password', 'hunter2'],
      env: { ...NO_DOCKER, GITHUB_ACTIONS: '' },
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('--registry-password is a secret and is not accepted on the command line');
    expect(r.stderr).not.toContain('hunter2');
  });

  test('help lists every command', async () => {
    const r = await runLikeRunner(CLI, { command: [process.execPath, CLI, 'help'], env: { GITHUB_ACTIONS: '' } });
    expect(r.code).toBe(0);
    for (const c of ['ci', 'build', 'test', 'push', 'deploy', 'rollback', 'run']) expect(r.stdout).toMatch(new RegExp(`^  ${c} `, 'm'));
  });
});
