// Every `pallet ...` command line shown in README.md and docs/*.md code blocks must be one the CLI's
// own parser (resolveInvocation, what runCli runs) accepts: an unknown command or flag, a bad value
// or a command after `--` for a command that takes none fails, naming file and line. And what the
// docs show for exec must work with the contract's entrypoint (`*) exec python3 manage.py "$@"`).
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { resolveInvocation, type CliInvocation } from '../../src/cli-run.js';
import { CliReporter, setReporter } from '../../src/util/reporter.js';
import { REPO_ROOT } from '../helpers/lab.js';

beforeEach(() => { setReporter(new CliReporter(() => {}, () => {})); });

const PAGES = ['README.md', ...readdirSync(path.join(REPO_ROOT, 'docs')).filter((f) => f.endsWith('.md')).sort().map((f) => `docs/${f}`)];

interface CodeLine { file: string; line: number; text: string; lang: string }

/** Lines inside fenced code blocks, with their file, 1-based line number and the fence's language. */
function codeLines(file: string): CodeLine[] {
  const out: CodeLine[] = [];
  let lang: string | undefined;
  readFileSync(path.join(REPO_ROOT, file), 'utf8').split('\n').forEach((text, i) => {
    const fence = /^\s*```(\S*)/.exec(text);
    if (fence) { lang = lang === undefined ? fence[1] : undefined; return; }
    if (lang !== undefined) out.push({ file, line: i + 1, text, lang });
  });
  return out;
}

/**
 * Shell words of a command line, from the start up to a comment, pipe, `&&`, `;` or redirection.
 * Quotes are removed; `$(...)` and `${...}` stay one word, as the shell would expand them into one.
 */
export function shellWords(line: string): string[] {
  const words: string[] = [];
  let cur: string | undefined;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (c === "'" || c === '"') {
      const end = line.indexOf(c, i + 1);
      cur = (cur ?? '') + line.slice(i + 1, end < 0 ? undefined : end);
      i = end < 0 ? line.length : end;
    } else if (c === '$' && (line[i + 1] === '(' || line[i + 1] === '{')) {
      let depth = 0, j = i + 1;
      for (; j < line.length; j++) {
        if ('({'.includes(line[j])) depth++;
        else if (')}'.includes(line[j]) && --depth === 0) break;
      }
      cur = (cur ?? '') + line.slice(i, j + 1);
      i = j;
    } else if (/\s/.test(c)) {
      if (cur !== undefined) words.push(cur);
      cur = undefined;
    } else if (cur === undefined && (c === '#' || c === '|' || c === ';' || c === '>' || c === '&')) {
      break;
    } else {
      cur = (cur ?? '') + c;
    }
  }
  if (cur !== undefined) words.push(cur);
  return words;
}

interface Shown { where: string; argv: string[] }

/** Every `pallet` command in the code blocks: `pallet ...`, `npx pallet ...`, `$ pallet ...`, after `VAR=... `. */
function shownCommands(): Shown[] {
  const out: Shown[] = [];
  for (const file of PAGES) {
    for (const { line, text } of codeLines(file)) {
      const words = shellWords(text.replace(/^\s*\$\s+/, ''));
      let i = 0;
      while (i < words.length && /^[A-Z_][A-Z0-9_]*=/.test(words[i])) i++;
      if (words[i] === 'npx') {
        i++;
        // npx's own options: `--yes`, `--package X` / `-p X` / `--package=X`.
        while (words[i]?.startsWith('-')) i += words[i] === '--package' || words[i] === '-p' ? 2 : 1;
      }
      if (words[i] !== 'pallet') continue;
      out.push({ where: `${file}:${line}`, argv: words.slice(i + 1) });
    }
  }
  return out;
}

function verdict(argv: string[]): string {
  let inv: CliInvocation;
  try {
    inv = resolveInvocation(argv, {}, () => '');
  } catch (e) {
    return (e as Error).message;
  }
  if (inv.kind === 'help' && inv.text === undefined) return `unknown command '${inv.command}'`;
  return 'ok';
}

const shown = shownCommands();

test('the docs show pallet commands (the extraction finds them)', () => {
  expect(shown.length).toBeGreaterThan(25);
  expect([...new Set(shown.map((s) => s.where.split(':')[0]))]).toEqual(expect.arrayContaining(['README.md', 'docs/cli.md', 'docs/operations.md', 'docs/swarm.md']));
  expect(shown.filter((s) => s.argv[0] === 'exec').length).toBeGreaterThan(5);
});

test('every pallet command line in README.md and docs/*.md parses with the CLI\'s own parser', () => {
  // No line is skipped: the pages write commands runnable as shown (`$(...)` for values the reader fills in).
  const bad = shown.map((s) => `${s.where}: pallet ${s.argv.join(' ')} -> ${verdict(s.argv)}`).filter((l) => !l.endsWith('-> ok'));
  expect(bad).toEqual([]);
});

test('the docs check reports what the CLI refuses', () => {
  expect(verdict(['deploy', '--no-such-flag'])).toBe("unknown flag --no-such-flag (see 'pallet help')");
  expect(verdict(['depoly'])).toMatch(/^unknown command 'depoly'/);
  expect(verdict(['help', 'depoly'])).toBe("unknown command 'depoly'");
  expect(verdict(['status', '--', 'check'])).toBe('pallet status takes no command after --');
  expect(shellWords(`PALLET_X="$(cat k)" npx pallet deploy --tag 'build 4' --since=10m # note`)).toEqual(['PALLET_X=$(cat k)', 'npx', 'pallet', 'deploy', '--tag', 'build 4', '--since=10m']);
  expect(shellWords('npx pallet build --build-arg APP_VERSION=$(git rev-parse --short HEAD) | tee x')).toEqual(['npx', 'pallet', 'build', '--build-arg', 'APP_VERSION=$(git rev-parse --short HEAD)']);
});

// The contract's entrypoint runs `manage.py "$@"` for any word that is not a role: `exec -- manage.py x`
// would run `manage.py manage.py x` ("Unknown command: 'manage.py'").
const MANAGE = /^(?:\.\/)?manage\.py$|^python3?$/;

test('pallet exec examples give the management command itself, not manage.py', () => {
  const bad = shown
    .filter((s) => s.argv[0] === 'exec' && MANAGE.test(s.argv[s.argv.indexOf('--') + 1] ?? ''))
    .map((s) => `${s.where}: pallet ${s.argv.join(' ')}`);
  expect(bad).toEqual([]);
  // Prose and inline code too: `pallet exec ... -- manage.py` anywhere on a page.
  const prose = PAGES.flatMap((file) => readFileSync(path.join(REPO_ROOT, file), 'utf8').split('\n')
    .map((text, i) => ({ where: `${file}:${i + 1}`, text }))
    .filter(({ text }) => /pallet exec[^`\n]*?--\s+(?:\.\/)?(?:manage\.py|python3?\s)/.test(text)))
    .map((l) => l.where);
  expect(prose).toEqual([]);
});

test('command: exec examples pass the management command as the first args line', () => {
  const bad: string[] = [];
  for (const file of PAGES) {
    const lines = codeLines(file);
    // Group consecutive lines of one block (line numbers follow each other).
    const blocks: CodeLine[][] = [];
    for (const l of lines) {
      const last = blocks.at(-1);
      if (last && last.at(-1)!.line === l.line - 1) last.push(l); else blocks.push([l]);
    }
    for (const block of blocks.filter((b) => /ya?ml/.test(b[0].lang))) {
      const text = block.map((l) => l.text).join('\n');
      if (!/command:\s*exec\b/.test(text)) continue;
      const doc = YAML.parse(text) as unknown;
      const steps = (Array.isArray(doc) ? doc : [doc]) as { with?: { command?: string; args?: string } }[];
      for (const step of steps) {
        const first = step.with?.args?.split('\n')[0].trim();
        if (step.with?.command === 'exec' && first && MANAGE.test(first)) bad.push(`${file}:${block[0].line}: args starts with ${first}`);
      }
    }
  }
  expect(bad).toEqual([]);
});

// The package is pallet-action, its command (package.json `bin`) is pallet; the package is installed
// from the repository (its committed dist/), not the npm registry.
test('install and npx lines name the package and its command as package.json declares them', () => {
  const pkg = JSON.parse(readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { name: string; bin: Record<string, string> };
  expect(Object.keys(pkg.bin)).toEqual(['pallet']);
  const bad: string[] = [];
  for (const file of PAGES) {
    for (const { line, text } of codeLines(file)) {
      const words = shellWords(text.replace(/^\s*\$\s+/, ''));
      const at = `${file}:${line}`;
      const npx = words.indexOf('npx');
      if (npx >= 0) {
        let i = npx + 1;
        while (words[i]?.startsWith('-')) i += words[i] === '--package' || words[i] === '-p' ? 2 : 1;
        if (words[i] !== undefined && !(words[i] in pkg.bin)) bad.push(`${at}: npx runs '${words[i]}', not a command of ${pkg.name} (${Object.keys(pkg.bin).join(', ')})`);
      }
      const install = words.findIndex((w, j) => w === 'install' && words[j - 1] === 'npm');
      if (install >= 0 && words.slice(install + 1).includes(pkg.name)) bad.push(`${at}: npm install ${pkg.name} from the registry (install github:pallet-action/pallet-action#v2)`);
      const pIdx = words.findIndex((w) => w === '--package' || w === '-p');
      if (npx >= 0 && pIdx > npx && words[pIdx + 1] === pkg.name) bad.push(`${at}: npx --package ${pkg.name} from the registry`);
    }
  }
  expect(bad).toEqual([]);
});
