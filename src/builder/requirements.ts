// Reads pip requirement files the way pip does, just enough to know which files and which
// local packages (path requirements: `./pkg`, `-e ./pkg`, `file:pkg`, `name @ file:...`) a
// wheelhouse depends on. The files' contents and those packages' sources make the cache key.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { UserError } from '../errors.js';

export interface RequirementLine {
  /** Index of the logical line in its file (after joining continuations). */
  index: number;
  /** The logical line as written (continuations joined). */
  text: string;
}

export type ParsedLine =
  | { kind: 'include'; file: string; constraint: boolean }
  | { kind: 'local'; target: string; editable: boolean }
  | { kind: 'other' };

/** Joins `\` continuations and drops comments; keeps the index of every logical line. */
export function logicalLines(text: string): RequirementLine[] {
  const out: RequirementLine[] = [];
  const raw = text.split(/\r?\n/);
  let buf = '';
  for (const line of raw) {
    if (line.endsWith('\\')) { buf += line.slice(0, -1); continue; }
    const joined = (buf + line).replace(/(^|\s)#.*$/, '').trim();
    buf = '';
    out.push({ index: out.length, text: joined });
  }
  if (buf) out.push({ index: out.length, text: buf.trim() });
  return out;
}

const PATH_LIKE = /^(\.{1,2}\/|\/|\.{1,2}$)/;

/** Strips `[extras]` and `; markers` from a path requirement. */
function bareTarget(s: string): string {
  return s.split(';')[0].trim().replace(/\[[^\]]*\]$/, '').trim();
}

/** file: URLs and paths become a path (relative to the requirement file unless absolute). */
function localTarget(spec: string): string | undefined {
  let s = bareTarget(spec);
  const at = s.match(/^[A-Za-z0-9][A-Za-z0-9._-]*\s*(\[[^\]]*\])?\s*@\s*(.+)$/);
  if (at) s = at[2].trim();
  if (s.startsWith('file://')) return decodeURIComponent(s.slice('file://'.length));
  if (s.startsWith('file:')) return decodeURIComponent(s.slice('file:'.length));
  if (/^[a-z+]+:\/\//i.test(s)) return undefined; // http(s), git+https, ...
  if (PATH_LIKE.test(s)) return s;
  // pip treats a name with a slash, or a name ending in an archive suffix, as a path.
  if (s.includes('/') || /\.(tar\.gz|zip|whl|tgz)$/.test(s)) return s;
  return undefined;
}

/** Classifies one logical requirement line. */
export function parseRequirementLine(text: string): ParsedLine {
  if (!text) return { kind: 'other' };
  const opt = text.match(/^(-r|--requirement|-c|--constraint|-e|--editable)(?:\s*=\s*|\s+)(.+)$/);
  if (opt) {
    const [, flag, value] = opt;
    if (flag === '-e' || flag === '--editable') {
      const target = localTarget(value.trim());
      return target ? { kind: 'local', target, editable: true } : { kind: 'other' };
    }
    return { kind: 'include', file: value.trim(), constraint: flag === '-c' || flag === '--constraint' };
  }
  if (text.startsWith('-')) return { kind: 'other' };
  const target = localTarget(text);
  return target ? { kind: 'local', target, editable: false } : { kind: 'other' };
}

export interface LocalPackage {
  /** Absolute path of the package directory (or archive). */
  path: string;
  /** Path relative to the build context, '/'-separated: the manifest key. */
  rel: string;
  /** The requirement file (absolute) and logical line index that named it. */
  file: string;
  line: number;
}

export interface RequirementSet {
  /** Every requirement and constraint file reached, absolute, in reading order. */
  files: string[];
  localPackages: LocalPackage[];
}

/** Relative path inside `root`, or a UserError when it escapes: the builder only sees the context. */
export function relInside(root: string, abs: string, what: string): string {
  const rel = path.relative(root, abs);
  if (rel.startsWith('..') || path.isAbsolute(rel)) {
    throw new UserError(`${what} is outside the build context ${root}`, 'keep requirement files and local packages inside build.context');
  }
  return rel.split(path.sep).join('/') || '.';
}

/** Follows -r/-c includes from the given files (relative to `context`) and collects local packages. */
export function collectRequirements(context: string, roots: string[], read: (f: string) => string = (f) => readFileSync(f, 'utf8')): RequirementSet {
  const files: string[] = [];
  const localPackages: LocalPackage[] = [];
  const seen = new Set<string>();
  const visit = (file: string, from?: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    relInside(context, file, `requirement file ${file}`);
    let text: string;
    try { text = read(file); } catch {
      throw new UserError(`build.wheelhouse.requirements: cannot read ${file}${from ? ` (included from ${from})` : ''}`, 'list requirement files relative to build.context');
    }
    files.push(file);
    for (const line of logicalLines(text)) {
      const parsed = parseRequirementLine(line.text);
      if (parsed.kind === 'include') visit(path.resolve(path.dirname(file), parsed.file), file);
      else if (parsed.kind === 'local') {
        const abs = path.resolve(path.dirname(file), parsed.target);
        const rel = relInside(context, abs, `local package '${line.text}' in ${file}`);
        if (!localPackages.some((p) => p.path === abs)) localPackages.push({ path: abs, rel, file, line: line.index });
      }
    }
  };
  for (const r of roots) visit(path.resolve(context, r));
  return { files, localPackages };
}

/**
 * Rewrites one requirement file so that local packages whose wheel is already in the
 * wheelhouse are named by that wheel instead of their source: pip then installs nothing
 * from source for them (and still resolves their dependencies from the wheelhouse).
 */
export function rewriteRequirements(text: string, fileAbs: string, reuse: Map<string, string>): string {
  const lines = logicalLines(text);
  return lines.map((l) => {
    const parsed = parseRequirementLine(l.text);
    if (parsed.kind !== 'local') return l.text;
    const wheel = reuse.get(path.resolve(path.dirname(fileAbs), parsed.target));
    return wheel ?? l.text;
  }).join('\n').replace(/\n+$/, '') + '\n';
}
