// The project tree a build reads, checked when the config loads: the build context (readable, not
// empty), the Dockerfile (default or build.dockerfile), .dockerignore when present, the requirement
// files and the wheelhouse directory (or the directory it is created in). Each problem is a key
// path plus a message that names the path and says what to do, so the loader reports it as
// `FILE:LINE:COL KEY: message` like any other config problem; for a default the key points at the
// mapping that would hold it. test.artifacts are container paths and are not checked here.
//
// Split in two: `probePath` looks at the file system (lstat/stat/access/readdir); everything
// else is pure over its answers (tested table-style with a fake probe).
import { accessSync, constants, lstatSync, readdirSync, readlinkSync, statSync } from 'node:fs';
import path from 'node:path';
import type { KeyPath, Problem } from './problems.js';

/** What is at a path, as far as reading it goes. */
export type PathInfo =
  | { kind: 'file'; size: number }
  | { kind: 'dir'; entries: number }
  | { kind: 'missing' }
  /** A symlink whose target does not exist. */
  | { kind: 'dangling'; target: string }
  /** ELOOP: a symlink that (through others) points back at itself. */
  | { kind: 'loop' }
  /** EACCES/EPERM: exists, but this user may not read it (or search a directory above it). */
  | { kind: 'unreadable' }
  /** A socket, FIFO or device. */
  | { kind: 'other' };

export type Probe = (absolute: string) => PathInfo;

function errCode(e: unknown): string | undefined {
  return (e as NodeJS.ErrnoException | undefined)?.code;
}

/**
 * Looks at one path, following symlinks, the way a build would open it. Never throws: every
 * error becomes a PathInfo kind (ENOENT/ENOTDIR -> missing or dangling, ELOOP -> loop,
 * EACCES/EPERM -> unreadable). Directories report their entry count (readdir).
 */
export function probePath(absolute: string): PathInfo {
  let st;
  try {
    st = statSync(absolute);
  } catch (e) {
    const code = errCode(e);
    if (code === 'ELOOP') return { kind: 'loop' };
    if (code === 'EACCES' || code === 'EPERM') return { kind: 'unreadable' };
    try {
      if (lstatSync(absolute).isSymbolicLink()) return { kind: 'dangling', target: readlinkSync(absolute) };
    } catch { /* not there at all */ }
    return { kind: 'missing' };
  }
  if (st.isDirectory()) {
    try {
      return { kind: 'dir', entries: readdirSync(absolute).length };
    } catch {
      return { kind: 'unreadable' };
    }
  }
  if (!st.isFile()) return { kind: 'other' };
  try {
    accessSync(absolute, constants.R_OK);
  } catch {
    return { kind: 'unreadable' };
  }
  return { kind: 'file', size: st.size };
}

/**
 * Why `info` is not a readable file, as a message naming `shown` and what to do; undefined when
 * it is one. `notFound` words the plain missing case (callers say where the path is relative to).
 */
export function fileProblem(info: PathInfo, shown: string, notFound: string): string | undefined {
  switch (info.kind) {
    case 'file': return undefined;
    case 'missing': return notFound;
    case 'dir': return `'${shown}' is a directory, not a file; name the file itself (a path relative to the build context)`;
    case 'dangling': return `'${shown}' is a symlink to '${info.target}', which does not exist; fix the link or replace it with the file`;
    case 'loop': return `'${shown}' is a symlink loop (too many levels of symbolic links); point the link at a real file or replace it with the file`;
    case 'unreadable': return `file '${shown}' cannot be read (permission denied); make it readable by the user running pallet, e.g. chmod a+r`;
    case 'other': return `'${shown}' is not a regular file; name a regular file`;
  }
}

export interface BuildFilesContext {
  /** Directory of the config file: relative paths resolve against it. */
  dir: string;
  /** Shows a path in messages (relative to the cwd, like the file name). */
  show: (absolute: string) => string;
  probe?: Probe;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const isStr = (v: unknown): v is string => typeof v === 'string' && v !== '';

/** A key the file sets points at its own node; a default points at the mapping that would hold it. */
function keyAt(set: boolean, at: KeyPath): Pick<Problem, 'path' | 'at'> {
  return set ? { path: at } : { path: at, at: 'parent' };
}

/** Relative paths that leave the context are reported by the semantic checks, not here. */
function inside(rel: string): boolean {
  return !path.isAbsolute(rel) && !path.normalize(rel).startsWith('..');
}

function contextProblem(info: PathInfo, shown: string): string | undefined {
  switch (info.kind) {
    case 'dir': return info.entries === 0 ? `directory '${shown}' is empty; point build.context at the directory that holds the Dockerfile and the app's files` : undefined;
    case 'unreadable': return `directory '${shown}' cannot be read (permission denied); make it readable by the user running pallet, e.g. chmod a+rx`;
    case 'loop': return `'${shown}' is a symlink loop (too many levels of symbolic links); point build.context at a real directory`;
    // Missing or not a directory: reported by the semantic checks (always run).
    default: return undefined;
  }
}

function dockerfileProblem(info: PathInfo, shown: string, set: boolean, contextShown: string): string | undefined {
  if (info.kind === 'file' && info.size === 0) return `file '${shown}' is empty; a Dockerfile needs at least a FROM line`;
  const notFound = set
    ? `file '${shown}' not found (build.dockerfile is relative to the build context '${contextShown}'); fix the path or add the file`
    : `no Dockerfile: '${shown}' not found in the build context '${contextShown}'; add a Dockerfile there, or set build.dockerfile to the one to use`;
  return fileProblem(info, shown, notFound);
}

function wheelhouseDirProblem(probe: Probe, abs: string, show: (p: string) => string): string | undefined {
  // The directory is created when missing (mkdir -p): what must hold is that it, or the nearest
  // existing directory above it, is a directory.
  for (let p = abs; ; p = path.dirname(p)) {
    const info = probe(p);
    if (info.kind === 'dir') return undefined;
    if (info.kind === 'missing' && path.dirname(p) !== p) continue;
    const where = p === abs ? `'${show(p)}'` : `'${show(p)}' (where '${show(abs)}' would be created)`;
    if (info.kind === 'unreadable') return `${where} cannot be read (permission denied); make it accessible to the user running pallet or choose another build.wheelhouse.dir`;
    if (info.kind === 'loop') return `${where} is a symlink loop; choose another build.wheelhouse.dir or fix the link`;
    return `${where} is not a directory; the wheels are written to a directory there: remove or rename it, or choose another build.wheelhouse.dir`;
  }
}

/**
 * Every problem of the files a build reads (see the file comment), as Problems with key paths
 * into the parsed pallet.yml `data`. Run only on a document the schema accepted; paths outside
 * the context and a missing context are reported by the semantic checks and skipped here.
 */
export function buildFileProblems(data: unknown, ctx: BuildFilesContext): Problem[] {
  if (!isObj(data)) return [];
  const probe = ctx.probe ?? probePath;
  const b = isObj(data.build) ? data.build : {};
  const out: Problem[] = [];
  const context = path.resolve(ctx.dir, isStr(b.context) ? b.context : '.');
  const contextInfo = probe(context);
  const contextShown = ctx.show(context);
  if (contextInfo.kind !== 'dir') {
    const message = contextProblem(contextInfo, contextShown);
    if (message) out.push({ ...keyAt(isStr(b.context), ['build', 'context']), message });
    return out;
  }
  const empty = contextProblem(contextInfo, contextShown);
  if (empty) return [{ ...keyAt(isStr(b.context), ['build', 'context']), message: empty }];

  const dockerfileSet = isStr(b.dockerfile);
  const dockerfile = dockerfileSet ? (b.dockerfile as string) : 'Dockerfile';
  if (inside(dockerfile)) {
    const abs = path.join(context, dockerfile);
    const message = dockerfileProblem(probe(abs), ctx.show(abs), dockerfileSet, contextShown);
    if (message) out.push({ ...keyAt(dockerfileSet, ['build', 'dockerfile']), message });
  }

  const ignoreFile = path.join(context, '.dockerignore');
  const ignore = probe(ignoreFile);
  if (ignore.kind !== 'missing') {
    const message = fileProblem(ignore, ctx.show(ignoreFile), '');
    if (message) out.push({ ...keyAt(isStr(b.context), ['build', 'context']), message: `${message} (Docker reads .dockerignore from the build context)` });
  }

  if (isObj(b.wheelhouse)) {
    const w = b.wheelhouse;
    const dir = isStr(w.dir) ? w.dir : 'wheelhouse';
    if (inside(dir) && path.normalize(dir) !== '.') {
      const message = wheelhouseDirProblem(probe, path.join(context, dir), ctx.show);
      if (message) out.push({ ...keyAt(isStr(w.dir), ['build', 'wheelhouse', 'dir']), message });
    }
  }
  return out;
}

/**
 * Problems of the requirement files (build.wheelhouse.requirements, default requirements.txt):
 * each must be a readable file inside the context. Run with the semantic checks (for every
 * command, as before) so a deploy of a project with a wheelhouse also sees them.
 */
export function requirementFileProblems(w: Obj, context: string, contextOk: boolean, ctx: BuildFilesContext): Problem[] {
  const probe = ctx.probe ?? probePath;
  const set = w.requirements !== undefined;
  const list = set ? (Array.isArray(w.requirements) ? w.requirements : []) : ['requirements.txt'];
  const out: Problem[] = [];
  list.forEach((r, i) => {
    if (!isStr(r)) return;
    const at: KeyPath = set ? ['build', 'wheelhouse', 'requirements', i] : ['build', 'wheelhouse'];
    if (!inside(r)) {
      out.push({ path: at, message: `'${r}' must be a relative path inside the build context` });
      return;
    }
    if (!contextOk) return;
    const abs = path.join(context, r);
    const shown = ctx.show(abs);
    const message = fileProblem(probe(abs), shown, `file '${shown}' not found (requirement files are relative to the build context)`);
    if (message) out.push({ path: at, message });
  });
  return out;
}
