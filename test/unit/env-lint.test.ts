// The env-file check of preflight (SSH hosts and the Swarm manager), run in a real sh and awk
// against files written like people write .env files: lines docker refuses are errors, quotes and
// CRLF warnings, never a value shown.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { envFileCheckArgv, envFileProblem, envFileReport, parseEnvFileLint } from '../../src/deploy/host-commands.js';
import { reportEnvFileLint } from '../../src/deploy/preflight.js';
import { UserError } from '../../src/errors.js';
import { CliReporter, setReporter } from '../../src/util/reporter.js';

let dir: string;
beforeAll(() => { dir = mkdtempSync(path.join(os.tmpdir(), 'pallet-envlint-')); });
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function check(text: string) {
  const file = path.join(dir, `f${Math.random().toString(36).slice(2)}.env`);
  writeFileSync(file, text);
  const argv = envFileCheckArgv(file);
  const r = spawnSync(argv[0], argv.slice(1), { encoding: 'utf8' });
  return { file, code: r.status ?? -1, out: r.stdout, findings: parseEnvFileLint(r.stdout) };
}

test('a clean file: OK and nothing found (comments, blank lines, NAME alone, = in values, spaces in values)', () => {
  const r = check('# settings\n\nSECRET_KEY=abc=def\nDEBUG\n  ALLOWED_HOSTS=a.example.com,b\nGREETING=hello world\nEMPTY=\nONE_QUOTE="\n');
  expect(envFileProblem(r.code, r.out)).toBeUndefined();
  expect(r.findings).toEqual([]);
});

test('each kind of line, by number; values never printed', () => {
  const r = check([
    'SECRET_KEY="s3cr3t-value"', // 1 quoted
    "TOKEN='t0k3n-value'", // 2 quoted
    'export DJANGO_SETTINGS_MODULE=shop.settings', // 3 export
    'MY VAR=x-value', // 4 space
    '=orphan-value', // 5 no name
    '\texport  PATH_X=/x', // 6 export after leading whitespace
  ].join('\n') + '\n');
  expect(envFileProblem(r.code, r.out)).toBeUndefined();
  expect(r.findings).toEqual([
    { line: 1, kind: 'quoted', name: 'SECRET_KEY' },
    { line: 2, kind: 'quoted', name: 'TOKEN' },
    { line: 3, kind: 'export', name: 'DJANGO_SETTINGS_MODULE' },
    { line: 4, kind: 'space' },
    { line: 5, kind: 'noname' },
    { line: 6, kind: 'export', name: 'PATH_X' },
  ]);
  expect(r.out).not.toMatch(/value|s3cr3t|t0k3n|shop\.settings/);
  const report = envFileReport('/etc/pallet/shop.env', r.findings);
  expect(report.errors).toEqual([
    "/etc/pallet/shop.env line 3: 'export DJANGO_SETTINGS_MODULE=...' is refused by docker's --env-file (no export, no shell syntax); write DJANGO_SETTINGS_MODULE=value without export",
    "/etc/pallet/shop.env line 4: the variable name has a space in it, which docker's --env-file refuses; write NAME=value with no space before the =",
    "/etc/pallet/shop.env line 5: there is no variable name before the =, which docker's --env-file refuses; write NAME=value",
    "/etc/pallet/shop.env line 6: 'export PATH_X=...' is refused by docker's --env-file (no export, no shell syntax); write PATH_X=value without export",
  ]);
  expect(report.warnings).toHaveLength(2);
  expect(report.warnings[0]).toBe("/etc/pallet/shop.env line 1: the value of SECRET_KEY is in quotes; docker's --env-file keeps them, so the app gets the quotes as part of the value; remove them (SECRET_KEY=value needs no quoting, even with spaces)");
});

test('CRLF endings: one warning listing the lines', () => {
  const r = check(Array.from({ length: 8 }, (_, i) => `V${i}=x\r`).join('\n') + '\n');
  expect(r.findings.every((f) => f.kind === 'crlf')).toBe(true);
  const { errors, warnings } = envFileReport('/e.env', r.findings);
  expect(errors).toEqual([]);
  expect(warnings).toEqual(["/e.env lines 1, 2, 3, 4, 5 and 3 more end in CRLF (Windows line endings): docker drops the \\r, but anything else that reads the file (a shell, systemd, another tool) keeps it at the end of each value; convert the file with `sed -i 's/\\r$//' /e.env`"]);
});

test('a missing file is still reported as before', () => {
  const argv = envFileCheckArgv(path.join(dir, 'nope.env'));
  const r = spawnSync(argv[0], argv.slice(1), { encoding: 'utf8' });
  expect(envFileProblem(r.status ?? -1, r.stdout)).toBe('does not exist');
});

test.each(['host', 'manager'] as const)('preflight on a %s: warnings logged, refused lines stop it naming the file and line', (place) => {
  const r = check('A="quoted-value"\nexport B=b-value\n');
  const warnings: string[] = [];
  setReporter(new CliReporter(() => undefined, (l) => warnings.push(l)));
  let err: unknown;
  try { reportEnvFileLint('mgr1', '/etc/pallet/shop.env', r.out, place); } catch (e) { err = e; }
  expect(err).toBeInstanceOf(UserError);
  expect((err as UserError).message).toBe("mgr1: deploy.env_file /etc/pallet/shop.env line 2: 'export B=...' is refused by docker's --env-file (no export, no shell syntax); write B=value without export");
  expect((err as UserError).hint).toContain(`in the env file on the ${place}`);
  expect(warnings).toEqual([expect.stringContaining('mgr1: deploy.env_file /etc/pallet/shop.env line 1: the value of A is in quotes')]);
  expect([...warnings, (err as Error).message].join('\n')).not.toMatch(/value"|b-value/);
});

test('preflight: a clean file passes without a word', () => {
  const warnings: string[] = [];
  setReporter(new CliReporter(() => undefined, (l) => warnings.push(l)));
  expect(() => reportEnvFileLint('app1', '/e.env', check('A=1\n').out, 'host')).not.toThrow();
  expect(warnings).toEqual([]);
});
