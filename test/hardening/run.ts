// `npm run verify:hardening`: runs the hardening suites (and the deploy, cleanroom and build
// suites that prove the referenced faults) in one jest run with --json, then prints one row per
// case and the totals per category. Exits non-zero if any case failed or did not run.
//   --quick   only hardening's own files (the referenced fault suites show as 'not run')
//   --json F  also write the rows and totals to F
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { REPO_ROOT } from '../helpers/lab.js';
import { CORPUS_FILE, FAULT_FILES, OWN_FILES, rowsFrom, table, totals, type JestFileResult } from './cases.js';

const argv = process.argv.slice(2);
const quick = argv.includes('--quick');
const jsonOut = argv.includes('--json') ? argv[argv.indexOf('--json') + 1] : undefined;

const files = [...OWN_FILES, CORPUS_FILE, ...(quick ? [] : FAULT_FILES)].filter((f) => existsSync(path.join(REPO_ROOT, f)));
const dir = mkdtempSync(path.join(os.tmpdir(), 'pallet-hardening-'));
const out = path.join(dir, 'jest.json');
process.stdout.write(`running ${files.length} test files:\n  ${files.join('\n  ')}\n`);
const t0 = Date.now();
// Paths first, then the projects: jest runs just these files (in band: they share the lab).
const jest = spawnSync(process.execPath, [
  '--experimental-vm-modules', path.join(REPO_ROOT, 'node_modules/jest/bin/jest.js'),
  ...files, '--selectProjects', 'unit', 'e2e', '--runInBand', '--json', '--outputFile', out,
], { cwd: REPO_ROOT, stdio: ['ignore', 'inherit', 'inherit'], env: process.env });
const seconds = Math.round((Date.now() - t0) / 1000);

if (!existsSync(out)) {
  process.stderr.write(`jest wrote no results (exit ${jest.status}); see its output above\n`);
  process.exit(1);
}
const results = (JSON.parse(readFileSync(out, 'utf8')) as { testResults: JestFileResult[] }).testResults;
rmSync(dir, { recursive: true, force: true });

const rows = rowsFrom(results, files);
const sums = totals(rows);
process.stdout.write(`\nHardening report (${seconds} s)\n\n${table(rows)}\n\n`);
for (const t of sums) process.stdout.write(`${t.ok ? 'OK  ' : 'FAIL'} ${t.text}\n`);
if (jsonOut) writeFileSync(jsonOut, JSON.stringify({ rows, totals: sums, seconds }, null, 2));
const failed = rows.filter((r) => r.result !== 'pass');
if (failed.length) process.stdout.write(`\n${failed.length} case(s) failed or did not run: ${failed.map((r) => r.name).join(', ')}\n`);
process.exit(failed.length || jest.status ? 1 : 0);
