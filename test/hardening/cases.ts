// Pure: which test files make up the hardening verification and how their jest results map to
// report rows (category, case, expected end state). Fault cases already proven by the deploy,
// cleanroom and build suites are referenced by test title here instead of being repeated.

export type Category = 'faults survived' | 'bad input refused' | 'broken project trees refused' | 'secrets found' | 'injection strings round-tripped' | 'host-trust refusals';

export interface JestAssertion { title: string; fullName: string; ancestorTitles: string[]; status: string }
export interface JestFileResult { name: string; assertionResults: JestAssertion[]; message?: string }

export interface Row { category: Category; name: string; expected: string; result: 'pass' | 'fail' | 'not run'; weight: number }

/** Hardening's own files (fast; also part of `npm test`). */
export const OWN_FILES = [
  'test/unit/hardening-quoting.test.ts',
  'test/e2e/hardening-bad-input.test.ts',
  'test/e2e/hardening-broken-trees.test.ts',
  'test/e2e/hardening-injection.test.ts',
  'test/e2e/hardening-hosttrust.test.ts',
  'test/e2e/hardening-secrets.test.ts',
  'test/e2e/hardening-deploy-env.test.ts',
];

export const CORPUS_FILE = 'test/unit/config-bad-corpus.test.ts';

interface FaultRef { file: string; title: RegExp; name: string; expected: string }

/** Faults proven elsewhere, by file and test title. */
export const FAULT_REFS: FaultRef[] = [
  { file: 'test/e2e/deploy.test.ts', title: /migration fails/, name: 'migration failure', expected: 'no host restarted; every host still on the previous tag, serving' },
  { file: 'test/e2e/deploy.test.ts', title: /\/health\/ fails/, name: 'health check fails during rollout', expected: 'never served through the LB; rollout reverted; every host on the previous tag' },
  { file: 'test/e2e/deploy.test.ts', title: /unreachable at preflight/, name: 'host unreachable at preflight', expected: 'nothing changed on any host; no lock left' },
  { file: 'test/e2e/deploy.test.ts', title: /second deploy while one runs/, name: 'concurrent deploys', expected: 'second refused on the lock naming the holder; first finishes' },
  { file: 'test/e2e/deploy.test.ts', title: /host stopped in the middle of the rolling restart/, name: 'host lost mid-restart', expected: 'others reverted; report names host and step; no lock left' },
  { file: 'test/e2e/deploy.test.ts', title: /tag missing on the hosts is refused/, name: 'rollback target missing on hosts', expected: 'refused before any host is touched' },
  { file: 'test/e2e/cleanroom-run.test.ts', title: /never gets ready/, name: 'cleanroom service never ready', expected: 'fails naming service, timeout, last log lines; nothing left' },
  { file: 'test/e2e/cleanroom-run.test.ts', title: /aborted signal/, name: 'cancelled while waiting for services', expected: 'stops waiting; every container and network removed' },
  { file: 'test/e2e/cleanroom-run.test.ts', title: /OOM-killed/, name: 'test container OOM-killed', expected: 'reported as OOM; nothing left' },
  { file: 'test/e2e/cleanroom-action.test.ts', title: /SIGTERM to the runner mid-test/, name: 'runner cancelled (SIGTERM) mid-test', expected: 'post step leaves no container or network' },
  { file: 'test/e2e/cleanroom-action.test.ts', title: /SIGKILL to the runner mid-test/, name: 'runner killed (SIGKILL) mid-test', expected: 'post step leaves no container or network' },
  { file: 'test/e2e/hardening-faults.test.ts', title: /^crash-looping build/, name: 'crash-looping container', expected: 'never switched in; LB keeps serving the old version; every host on the previous tag' },
  { file: 'test/e2e/hardening-faults.test.ts', title: /^host frozen while the pulls run/, name: 'host lost during pull', expected: 'fails at pull naming the host; nothing restarted; locks released on reachable hosts' },
  { file: 'test/e2e/hardening-faults.test.ts', title: /^SIGTERM to the runner mid-restart/, name: 'runner cancelled (SIGTERM) mid-restart + post step', expected: 'no lock on any host; every host on one tag, serving; no key file left' },
  { file: 'test/e2e/hardening-faults.test.ts', title: /^registry answers 503/, name: 'registry 5xx during push', expected: 'retried (attempt 2), pushed; in the registry by digest' },
  { file: 'test/e2e/hardening-faults.test.ts', title: /^disk full on a host during pull/, name: 'disk full on a host during pull', expected: 'fails at pull naming the host, no space; nothing restarted' },
  { file: 'test/e2e/hardening-faults.test.ts', title: /^ssh ControlMaster of host 2 killed/, name: 'ssh master killed mid-restart', expected: 'carries on over a fresh connection; every host on the new tag; nothing left' },
  { file: 'test/e2e/build.test.ts', title: /wrong password fails on the first attempt/, name: 'registry auth failure on push', expected: 'one attempt, no retry, says why' },
];

export const FAULT_FILES = [...new Set(FAULT_REFS.map((f) => f.file))];

const rel = (name: string) => name.replace(/^.*?(test\/(unit|e2e)\/)/, '$1');
const ok = (a: JestAssertion) => (a.status === 'passed' ? 'pass' : 'fail') as Row['result'];

/** Turns jest's --json results into report rows. Files that did not run show as 'not run'. */
export function rowsFrom(results: JestFileResult[], ran: string[]): Row[] {
  const byFile = new Map(results.map((r) => [rel(r.name), r.assertionResults]));
  const rows: Row[] = [];
  const missing = (category: Category, name: string, expected: string, weight = 1) => rows.push({ category, name, expected, result: 'not run', weight });

  // Faults: referenced tests.
  for (const f of FAULT_REFS) {
    const tests = byFile.get(f.file);
    const a = tests?.find((t) => f.title.test(t.title));
    if (!a) missing('faults survived', f.name, f.expected);
    else rows.push({ category: 'faults survived', name: f.name, expected: f.expected, result: ok(a), weight: 1 });
  }

  // Bad input: one row per case, the pallet.yml corpus as one weighted row.
  const bad = byFile.get('test/e2e/hardening-bad-input.test.ts');
  if (!bad) missing('bad input refused', 'action inputs and CLI flags', 'exit 1, field named, no container, no host contacted');
  for (const a of bad ?? []) {
    const id = /^(\S+): exit 1/.exec(a.title)?.[1];
    if (id) rows.push({ category: 'bad input refused', name: id, expected: 'exit 1, field named, nothing contacted', result: ok(a), weight: 1 });
    else rows.push({ category: 'bad input refused', name: a.title.slice(0, 60), expected: '(check)', result: ok(a), weight: 0 });
  }
  const corpus = byFile.get(CORPUS_FILE)?.filter((a) => / is rejected with its exact message$/.test(a.title));
  if (!corpus) missing('bad input refused', 'pallet.yml corpus', 'file:line:col message, exit before any call');
  else {
    const passed = corpus.filter((a) => a.status === 'passed').length;
    rows.push({ category: 'bad input refused', name: `pallet.yml corpus (${passed}/${corpus.length} files)`, expected: 'exact file:line:col message', result: passed === corpus.length ? 'pass' : 'fail', weight: corpus.length });
  }

  // Broken project trees: one row per tree and front door; the engine check and the control must pass too.
  const trees = byFile.get('test/e2e/hardening-broken-trees.test.ts');
  if (!trees) missing('broken project trees refused', 'broken project trees', 'exit 1, path and what to do named, nothing sent to the engine');
  for (const a of trees ?? []) {
    const id = /^(\S+ via \S+): exit 1/.exec(a.title)?.[1];
    if (id) rows.push({ category: 'broken project trees refused', name: id, expected: 'exit 1, path + what to do, no stack, no engine request', result: ok(a), weight: 1 });
    else rows.push({ category: 'broken project trees refused', name: a.title.slice(0, 70), expected: '(check)', result: ok(a), weight: 0 });
  }

  // Injection: the 1000-string test counts 1000; the rest are checks (weight 0 but must pass).
  for (const file of ['test/e2e/hardening-injection.test.ts', 'test/unit/hardening-quoting.test.ts']) {
    const tests = byFile.get(file);
    if (!tests) missing('injection strings round-tripped', file, 'byte-for-byte', file.includes('e2e') ? 1000 : 0);
    for (const a of tests ?? []) {
      const weight = file.includes('e2e') && /^1000 seeded strings/.test(a.title) ? 1000 : 0;
      rows.push({ category: 'injection strings round-tripped', name: a.title.slice(0, 70), expected: 'arrives byte for byte / refused', result: ok(a), weight });
    }
  }

  // Host trust: every test is a refusal (or the one allowed insecure path, weight 0).
  const trust = byFile.get('test/e2e/hardening-hosttrust.test.ts');
  if (!trust) missing('host-trust refusals', 'host trust', 'refused before anything changes');
  for (const a of trust ?? []) {
    rows.push({ category: 'host-trust refusals', name: a.title.slice(0, 70), expected: /^refused/.test(a.title) ? 'refused, host named, nothing changed' : 'allowed with a warning', result: ok(a), weight: /^refused/.test(a.title) ? 1 : 0 });
  }

  // Secrets: each test is a place looked at; a failure is a found secret. deploy.env's file adds
  // its own places (the app's secrets from the workflow) and the checks that it worked at all.
  for (const [file, label] of [['test/e2e/hardening-secrets.test.ts', ''], ['test/e2e/hardening-deploy-env.test.ts', 'deploy.env: ']] as const) {
    const secrets = byFile.get(file);
    if (!secrets) missing('secrets found', `${label}secrets`, 'no secret value anywhere');
    for (const a of secrets ?? []) rows.push({ category: 'secrets found', name: `${label}${a.title}`.slice(0, 70), expected: 'no secret (nor its base64)', result: ok(a), weight: 1 });
  }

  void ran;
  return rows;
}

export interface Total { category: Category; text: string; ok: boolean }

export function totals(rows: Row[]): Total[] {
  const cats: Category[] = ['faults survived', 'bad input refused', 'broken project trees refused', 'secrets found', 'injection strings round-tripped', 'host-trust refusals'];
  return cats.map((category) => {
    const rs = rows.filter((r) => r.category === category);
    const allOk = rs.length > 0 && rs.every((r) => r.result === 'pass');
    if (category === 'secrets found') {
      const found = rs.filter((r) => r.result === 'fail').length;
      const notRun = rs.filter((r) => r.result === 'not run').length;
      return { category, text: `secrets found ${found}${notRun ? ` (${notRun} not run)` : ''} in ${rs.length} places looked at`, ok: allOk };
    }
    const total = rs.reduce((n, r) => n + r.weight, 0);
    const passed = rs.filter((r) => r.result === 'pass').reduce((n, r) => n + r.weight, 0);
    return { category, text: `${category} ${passed}/${total}`, ok: allOk };
  });
}

export function table(rows: Row[]): string {
  const header = ['category', 'case', 'expected end state', 'result'];
  const cells = rows.map((r) => [r.category, r.name, r.expected, r.result]);
  const widths = header.map((h, i) => Math.min(70, Math.max(h.length, ...cells.map((c) => c[i].length))));
  const line = (c: string[]) => c.map((x, i) => (x.length > widths[i] ? x.slice(0, widths[i] - 1) + '…' : x.padEnd(widths[i]))).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.map(line)].join('\n');
}
