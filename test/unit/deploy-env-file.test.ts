// deploy.env: reading and checking the values (secrets from the step's environment), rendering
// docker's --env-file format, and the per-release write script, run here with the local sh
// against a temporary directory in place of /var/lib/pallet/APP/env.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  appSecretsFromJson, execEnvFiles, existingFilesArgv, parseReleaseEnv, readAppEnv, releaseEnvAction, releaseEnvArgv, releaseEnvPath, removeReleaseEnvArgv, renderEnvFile, stepEnvExample,
} from '../../src/deploy/env-file.js';
import { envFileArgs, parseState, startCandidateArgv, readStateArgv, runContainerArgv, taskArgv } from '../../src/deploy/commands.js';
import { envFileCheckArgv, parseEnvFileLint } from '../../src/deploy/host-commands.js';
import { envFilesFor, prepareReleaseEnv } from '../../src/deploy/release-env.js';
import { UserError } from '../../src/errors.js';
import type { DeployRun, HostRecord } from '../../src/deploy/types.js';

const SECRET = 'sk-Zq9$(touch pwned) `id` "quoted" \'single\' ; | & spaces  and=equals';
const tmp = mkdtempSync(path.join(os.tmpdir(), 'pallet-envfile-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function caught(fn: () => unknown): UserError {
  try { fn(); } catch (e) { if (e instanceof UserError) return e; throw e; }
  throw new Error('not refused');
}

describe('readAppEnv', () => {
  test('clear values as given, secrets from the environment, each secret masked as it is read', () => {
    const masked: string[] = [];
    const vars = readAppEnv({ clear: { DEBUG: 'false', WEB_CONCURRENCY: '3' }, secret: ['SECRET_KEY', 'DATABASE_URL'] },
      { SECRET_KEY: SECRET, DATABASE_URL: 'postgres://u:p@db/app', OTHER: 'x' }, (v) => masked.push(v));
    expect(vars).toEqual([
      { name: 'DEBUG', value: 'false', secret: false },
      { name: 'WEB_CONCURRENCY', value: '3', secret: false },
      { name: 'SECRET_KEY', value: SECRET, secret: true },
      { name: 'DATABASE_URL', value: 'postgres://u:p@db/app', secret: true },
    ]);
    expect(masked).toEqual([SECRET, 'postgres://u:p@db/app']);
  });

  test.each([
    ['unset', {}],
    ['empty (a GitHub secret that does not exist)', { SECRET_KEY: '' }],
  ])('a secret %s is refused naming it, with the workflow YAML to map it', (_n, env) => {
    const e = caught(() => readAppEnv({ clear: {}, secret: ['SECRET_KEY', 'STRIPE_KEY'] }, { ...env, STRIPE_KEY: 'sk_live_x' }, () => undefined));
    expect(e.message).toBe('deploy.env.secret: SECRET_KEY is not set in the environment of this step (a GitHub secret that does not exist reads as empty); nothing was contacted');
    expect(e.hint).toContain('env:\n  SECRET_KEY: ${{ secrets.SECRET_KEY }}');
    expect(e.hint).not.toContain('STRIPE_KEY:');
  });

  test('secrets handed over as JSON (the reusable workflow): used where the step env has none, case-insensitive names', () => {
    const masked: string[] = [];
    const json = JSON.stringify({ SECRET_KEY: 'from-json', database_url: 'pg://json', github_token: 'ghs_x', NUM: 1 });
    const vars = readAppEnv({ clear: {}, secret: ['SECRET_KEY', 'DATABASE_URL'] }, { PALLET_APP_SECRETS: json, SECRET_KEY: 'from-step' }, (v) => masked.push(v));
    expect(vars.map((v) => [v.name, v.value])).toEqual([['SECRET_KEY', 'from-step'], ['DATABASE_URL', 'pg://json']]);
    expect(masked).toEqual(['from-step', 'pg://json']);
    expect(appSecretsFromJson(json).get('NUM')).toBeUndefined();
    expect(appSecretsFromJson('')).toEqual(new Map());
  });

  test.each(['not json', '[1,2]', '"str"', 'null'])('PALLET_APP_SECRETS that is not a JSON object is refused naming it: %s', (text) => {
    const e = caught(() => readAppEnv({ clear: {}, secret: ['A'] }, { PALLET_APP_SECRETS: text, A: 'x' }, () => undefined));
    expect(e.message).toMatch(/^PALLET_APP_SECRETS is not a JSON object of secrets/);
    expect(e.hint).toContain('toJSON(secrets)');
  });

  test('every missing secret is named at once', () => {
    const e = caught(() => readAppEnv({ clear: {}, secret: ['A', 'B'] }, {}, () => undefined));
    expect(e.message).toMatch(/^deploy\.env\.secret: A, B are not set/);
    expect(stepEnvExample(['A', 'B'])).toBe('env:\n  A: ${{ secrets.A }}\n  B: ${{ secrets.B }}');
  });

  test.each([
    ['a newline', 'line1\nline2'],
    ['a CR', 'abc\r'],
    ['a NUL', 'a\0b'],
  ])('a secret with %s is refused naming the variable, never showing the value', (_n, value) => {
    const masked: string[] = [];
    const e = caught(() => readAppEnv({ clear: {}, secret: ['TLS_KEY'] }, { TLS_KEY: value }, (v) => masked.push(v)));
    expect(e.message).toMatch(/^deploy\.env\.secret TLS_KEY: the value holds a line break or NUL, which docker's --env-file cannot carry/);
    expect(e.message + (e.hint ?? '')).not.toContain(value);
    expect(masked).toEqual([value]); // masked before it was judged
  });

  test('a clear value with a newline is refused naming it as clear', () => {
    const e = caught(() => readAppEnv({ clear: { MOTD: 'a\nb' }, secret: [] }, {}, () => undefined));
    expect(e.message).toMatch(/^deploy\.env\.clear MOTD: /);
  });
});

describe('renderEnvFile', () => {
  test('NAME=value lines, no quoting; docker-reading lint finds nothing to report', () => {
    const text = renderEnvFile([{ name: 'SECRET_KEY', value: SECRET, secret: true }, { name: 'EMPTY_OK', value: '', secret: false }, { name: 'LEAD', value: '  x', secret: false }]);
    expect(text.split('\n').slice(1)).toEqual([`SECRET_KEY=${SECRET}`, 'EMPTY_OK=', 'LEAD=  x', '']);
    expect(text.startsWith('# ')).toBe(true);
    const f = path.join(tmp, 'rendered.env');
    writeFileSync(f, text);
    const argv = envFileCheckArgv(f);
    const r = spawnSync(argv[0], argv.slice(1), { encoding: 'utf8' });
    expect(parseEnvFileLint(r.stdout)).toEqual([]);
    expect(r.stdout.trim()).toBe('OK');
  });
});

describe('the per-release write script', () => {
  const dir = path.join(tmp, 'state', 'env');
  // The real script, with our temporary directory in place of /var/lib/pallet/APP/env.
  const run = (argv: string[], input?: string) => {
    const local = [...argv];
    expect(local[4]).toBe('/var/lib/pallet/shop/env');
    local[4] = dir;
    const r = spawnSync(local[0], local.slice(1), { encoding: 'utf8', input: input ?? '', cwd: tmp });
    return { code: r.status, ...parseReleaseEnv(r.stdout) };
  };
  const content = renderEnvFile([{ name: 'SECRET_KEY', value: SECRET, secret: true }]);

  test('the argv holds names and tags, never a value; the content goes on stdin', () => {
    for (const act of ['write', 'fill', 'remove', 'keep'] as const) {
      const argv = releaseEnvArgv('shop', 'build-7', 'build-6', act);
      expect(argv.join(' ')).not.toContain('sk-Zq9');
      expect(argv.slice(3)).toEqual(['pallet-release-env', '/var/lib/pallet/shop/env', 'build-7', 'build-6', act]);
    }
  });

  test('write: a 0600 file in a 0700 directory, no temporary file left, HAS for the target', () => {
    const r = run(releaseEnvArgv('shop', 'build-7', '', 'write'), content);
    expect(r).toEqual({ code: 0, wrote: true, tags: ['build-7'] });
    const f = path.join(dir, 'build-7.env');
    expect(readFileSync(f, 'utf8')).toBe(content);
    expect(statSync(f).mode & 0o777).toBe(0o600);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    expect(readdirSync(dir)).toEqual(['build-7.env']);
    expect(existsSync(path.join(tmp, 'pwned'))).toBe(false);
  });

  test('write replaces; fill keeps the file a release ran with and writes only where there is none', () => {
    run(releaseEnvArgv('shop', 'build-7', '', 'write'), 'SECRET_KEY=new\n');
    expect(run(releaseEnvArgv('shop', 'build-7', '', 'fill'), 'SECRET_KEY=newer\n')).toEqual({ code: 0, wrote: false, tags: ['build-7'] });
    expect(readFileSync(path.join(dir, 'build-7.env'), 'utf8')).toBe('SECRET_KEY=new\n');
    expect(run(releaseEnvArgv('shop', 'build-5', 'build-7', 'fill'), 'SECRET_KEY=five\n')).toEqual({ code: 0, wrote: true, tags: ['build-5', 'build-7'] });
    expect(readFileSync(path.join(dir, 'build-5.env'), 'utf8')).toBe('SECRET_KEY=five\n');
  });

  test('keep reports what is there; remove drops the target only; prune removes old releases', () => {
    expect(run(releaseEnvArgv('shop', 'build-9', 'build-7', 'keep'))).toEqual({ code: 0, wrote: false, tags: ['build-7'] });
    expect(run(releaseEnvArgv('shop', 'build-5', 'build-7', 'remove'))).toEqual({ code: 0, wrote: false, tags: ['build-7'] });
    expect(existsSync(path.join(dir, 'build-5.env'))).toBe(false);
    const argv = removeReleaseEnvArgv('shop', ['build-7']);
    argv[4] = dir;
    expect(spawnSync(argv[0], argv.slice(1)).status).toBe(0);
    expect(readdirSync(dir)).toEqual([]);
  });

  test.each(['../etc/passwd', '.hidden', 'a/b', ''])('a tag that is not an image tag never names a file: %j', (tag) => {
    expect(() => releaseEnvArgv('shop', tag, '', 'write')).toThrow(/is not an image tag/);
    expect(() => releaseEnvPath('shop', tag)).toThrow();
    if (tag) expect(() => removeReleaseEnvArgv('shop', [tag])).toThrow();
  });

  test.each([
    ['deploy', true, 'write'], ['deploy', false, 'remove'], ['rollback', true, 'fill'], ['rollback', false, 'keep'],
  ] as const)('%s with deploy.env=%s -> %s', (mode, configured, act) => {
    expect(releaseEnvAction(mode, configured)).toBe(act);
  });
});

describe('env files given to containers', () => {
  const spec = { app: 'shop', role: 'web', tag: 'build-7', image: 'i', command: ['serve'], port: 8000 };
  test("the release's file first, the host's second (docker lets the later one win)", () => {
    const both = { releaseEnvFile: '/var/lib/pallet/shop/env/build-7.env', envFile: '/etc/pallet/shop.env' };
    expect(envFileArgs(both)).toEqual(['--env-file', both.releaseEnvFile, '--env-file', both.envFile]);
    expect(runContainerArgv({ ...spec, ...both }).slice(7, 11)).toEqual(envFileArgs(both));
    expect(taskArgv({ ...spec, ...both, name: 't' })).toEqual(expect.arrayContaining(envFileArgs(both)));
    expect(startCandidateArgv({ ...spec, ...both }).join(' ')).toContain(envFileArgs(both).join(' '));
    expect(envFileArgs({})).toEqual([]);
  });

  test('per host: the release file where the host has it, the host file unless it has none', () => {
    const host = (over: Partial<HostRecord>) => ({ label: 'a', releaseEnv: new Set(['build-7']), ...over }) as HostRecord;
    const runWith = (h: HostRecord, envFile?: string) => ({ plan: { app: 'shop', envFile }, hosts: new Map([['a', h]]) }) as unknown as DeployRun;
    expect(envFilesFor(runWith(host({}), '/etc/pallet/shop.env'), 'a', 'build-7'))
      .toEqual({ releaseEnvFile: '/var/lib/pallet/shop/env/build-7.env', envFile: '/etc/pallet/shop.env' });
    expect(envFilesFor(runWith(host({ hostEnvFile: false }), '/etc/pallet/shop.env'), 'a', 'build-7'))
      .toEqual({ releaseEnvFile: '/var/lib/pallet/shop/env/build-7.env' });
    // A revert to a tag deployed before deploy.env existed: only the host file.
    expect(envFilesFor(runWith(host({}), '/etc/pallet/shop.env'), 'a', 'build-6')).toEqual({ envFile: '/etc/pallet/shop.env' });
  });
});

describe('pallet exec: the env files of the running release', () => {
  const rel = '/var/lib/pallet/shop/env/build-7.env';
  test.each([
    ['deploy.env, both files there', true, [rel, '/etc/pallet/shop.env'], { releaseEnvFile: rel, envFile: '/etc/pallet/shop.env' }],
    ['deploy.env, no host file', true, [rel], { releaseEnvFile: rel }],
    ['deploy.env, a release deployed before it (host file only)', true, ['/etc/pallet/shop.env'], { envFile: '/etc/pallet/shop.env' }],
    ['no deploy.env: the host file always (docker names a missing one, as before)', false, [], { envFile: '/etc/pallet/shop.env' }],
  ] as const)('%s', (_n, withAppEnv, existing, want) => {
    expect(execEnvFiles('shop', 'build-7', '/etc/pallet/shop.env', withAppEnv, [...existing])).toEqual(want);
  });

  test('the existence check prints only the regular files among its arguments', () => {
    const f = path.join(tmp, 'exists $(touch pwned).env');
    writeFileSync(f, 'A=1\n');
    const argv = existingFilesArgv([f, path.join(tmp, 'gone.env'), tmp]);
    const r = spawnSync(argv[0], argv.slice(1), { encoding: 'utf8', cwd: tmp });
    expect({ code: r.status, out: r.stdout }).toEqual({ code: 0, out: `${f}\n` });
    expect(existsSync(path.join(tmp, 'pwned'))).toBe(false);
  });
});

describe("preflight's state listing names the releases that have a deploy.env file", () => {
  test('env=TAG ... read from the real script; none -> omitted', () => {
    const d = path.join(tmp, 'st');
    const argv = readStateArgv('shop');
    const run = () => { const a = [...argv]; a[4] = d; return parseState(spawnSync(a[0], a.slice(1), { encoding: 'utf8' }).stdout); };
    expect(run()).toEqual({ tag: '', revert: '' });
    mkdirSync(path.join(d, 'env'), { recursive: true });
    writeFileSync(path.join(d, 'TAG'), 'build-7\n');
    for (const f of ['build-7.env', 'build-6.env', '.build-8.env.123']) writeFileSync(path.join(d, 'env', f), 'A=1\n');
    mkdirSync(path.join(d, 'env', 'dir.env'));
    expect(run()).toEqual({ tag: 'build-7', revert: '', envTags: ['build-6', 'build-7'] });
  });
});

describe('prepareReleaseEnv: what is sent to a host', () => {
  const setup = (mode: 'deploy' | 'rollback', appEnv: string | undefined, before: { tag: string; revert: string; envTags?: string[] }, stdout = '') => {
    const calls: { argv: readonly string[]; input?: string }[] = [];
    const conn = { run: async (argv: readonly string[], o: { input?: string } = {}) => { calls.push({ argv, input: o.input }); return { exitCode: 0, stdout, stderr: '' }; } };
    const h = { label: 'a', conn, before, target: 'build-8' } as unknown as HostRecord;
    const run = { mode, appEnv, plan: { app: 'shop' }, hosts: new Map([['a', h]]) } as unknown as DeployRun;
    return { calls, h, run };
  };

  test('deploy.env: the file on stdin, never in the argv; the tags reported are recorded', async () => {
    const { calls, h, run } = setup('deploy', `SECRET_KEY=${SECRET}\n`, { tag: 'build-7', revert: '' }, 'WROTE\nHAS build-8\nHAS build-7\n');
    await prepareReleaseEnv(run, h);
    expect(calls).toHaveLength(1);
    expect(calls[0].input).toBe(`SECRET_KEY=${SECRET}\n`);
    expect(calls[0].argv.join(' ')).not.toContain('sk-Zq9');
    expect(calls[0].argv.slice(-3)).toEqual(['build-8', 'build-7', 'write']);
    expect([...h.releaseEnv!].sort()).toEqual(['build-7', 'build-8']);
  });

  test('no deploy.env and no file for the target: no round at all; a revert still finds the previous release\'s file', async () => {
    const { calls, h, run } = setup('deploy', undefined, { tag: 'build-7', revert: '', envTags: ['build-7', 'build-3'] });
    await prepareReleaseEnv(run, h);
    expect(calls).toEqual([]);
    expect([...h.releaseEnv!]).toEqual(['build-7']);
  });

  test('no deploy.env but the target has a file from an earlier deploy: it is removed (nothing on stdin)', async () => {
    const { calls, h, run } = setup('deploy', undefined, { tag: 'build-7', revert: '', envTags: ['build-8'] });
    await prepareReleaseEnv(run, h);
    expect(calls.map((c) => [c.argv.at(-1), c.input])).toEqual([['remove', undefined]]);
    expect([...h.releaseEnv!]).toEqual([]);
  });

  test('rollback without deploy.env keeps the file the release ran with', async () => {
    const { calls, h, run } = setup('rollback', undefined, { tag: 'build-9', revert: 'build-8', envTags: ['build-8', 'build-9'] });
    await prepareReleaseEnv(run, h);
    expect(calls).toEqual([]);
    expect([...h.releaseEnv!].sort()).toEqual(['build-8', 'build-9']);
  });
});
