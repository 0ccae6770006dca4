// Content hashes of source trees and files, for cache keys. Build by-products that pip leaves
// in a package directory (build/, *.egg-info, __pycache__) are not part of the source.
import { createHash } from 'node:crypto';
import { lstatSync, readdirSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import path from 'node:path';

const SKIP_DIRS = new Set(['.git', '.hg', '__pycache__', 'build', 'dist', '.tox', '.venv', '.pytest_cache', '.mypy_cache']);

/** Whether a path inside a package tree is a by-product rather than source. */
export function isBuildByproduct(name: string, isDir: boolean): boolean {
  if (isDir) return SKIP_DIRS.has(name) || name.endsWith('.egg-info');
  return name.endsWith('.pyc') || name.endsWith('.pyo') || name === '.DS_Store';
}

export function sha256(...parts: (string | Buffer)[]): string {
  const h = createHash('sha256');
  for (const p of parts) { h.update(p); h.update('\0'); }
  return h.digest('hex');
}

/** Hash of a file or directory tree: relative paths, executable bits, contents, link targets. */
export function hashTree(root: string): string {
  const h = createHash('sha256');
  const st = statSync(root);
  if (!st.isDirectory()) { h.update(readFileSync(root)); return h.digest('hex'); }
  const walk = (dir: string, rel: string) => {
    const entries = readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of entries) {
      const abs = path.join(dir, e.name);
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (isBuildByproduct(e.name, e.isDirectory())) continue;
      if (e.isSymbolicLink()) { h.update(`L ${r} ${readlinkSync(abs)}\0`); continue; }
      if (e.isDirectory()) { h.update(`D ${r}\0`); walk(abs, r); continue; }
      if (!e.isFile()) continue;
      const mode = lstatSync(abs).mode & 0o111 ? 'x' : '-';
      h.update(`F ${r} ${mode}\0`);
      h.update(readFileSync(abs));
      h.update('\0');
    }
  };
  walk(root, '');
  return h.digest('hex');
}
