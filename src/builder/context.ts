// The build context as a tar stream, honouring .dockerignore the way Docker does (patterns via
// @balena/dockerignore, `!` exceptions re-include files under excluded directories). The
// Dockerfile and .dockerignore are always sent: the engine needs them.
import * as dockerignoreModule from '@balena/dockerignore';
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import tar from 'tar-fs';
import type { Readable } from 'node:stream';

// The package is CommonJS (`module.exports = factory`) typed as an ES default export; take
// whichever shape the loader hands us.
type IgnoreFactory = (options?: { ignorecase?: boolean }) => dockerignoreModule.Ignore;
const loaded = dockerignoreModule as unknown as { default?: IgnoreFactory & { default?: IgnoreFactory } };
const ignore: IgnoreFactory = loaded.default?.default ?? loaded.default ?? (dockerignoreModule as unknown as IgnoreFactory);

export type ContextDecision = 'include' | 'exclude' | 'descend';

/** Decides per path (relative, '/'-separated) what goes into the context (pure; tested). */
export function contextFilter(dockerignore: string, alwaysInclude: string[]): (rel: string, isDir: boolean) => ContextDecision {
  const patterns = dockerignore.split(/\r?\n/).map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  const ig = ignore().add(patterns);
  const exceptions = patterns.filter((p) => p.startsWith('!')).map((p) => p.slice(1).replace(/^\/+/, ''));
  const always = new Set(alwaysInclude.map((p) => p.replace(/^\.\//, '')));
  return (rel, isDir) => {
    if (!isDir && always.has(rel)) return 'include';
    const ignored = ig.ignores(isDir ? `${rel}/` : rel) || (isDir && ig.ignores(rel));
    if (isDir) {
      // An excluded directory may still hold re-included files (`!dir/keep`) or an always-sent file.
      if (!ignored) return 'descend';
      const holdsAlways = [...always].some((a) => a.startsWith(rel + '/'));
      return holdsAlways || exceptions.some((e) => mayMatchBelow(e, rel)) ? 'descend' : 'exclude';
    }
    return ignored ? 'exclude' : 'include';
  };
}

/** Whether an exception pattern (anchored at the context root, as Docker's are) may match a path below dir. */
export function mayMatchBelow(pattern: string, dir: string): boolean {
  const pat = pattern.split('/');
  const segs = dir.split('/');
  for (let i = 0; i < segs.length; i++) {
    if (i >= pat.length - 1) return pat[i] === '**';
    if (pat[i] === '**') return true;
    const re = new RegExp('^' + pat[i].replace(/[.+^${}()|\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]') + '$');
    if (!re.test(segs[i])) return false;
  }
  return true;
}

/**
 * The ignore file that applies: `<Dockerfile>.dockerignore` next to the Dockerfile when it
 * exists (Docker's rule with BuildKit, so several Dockerfiles can share one context), else the
 * context's `.dockerignore`. Paths relative to the context.
 */
export function ignoreFileFor(context: string, dockerfile: string): string {
  const specific = `${dockerfile}.dockerignore`;
  return existsSync(path.join(context, specific)) ? specific : '.dockerignore';
}

/** Every file and symlink of the context, relative and sorted (dirs are implied by their files). */
export function contextEntries(context: string, dockerfile: string): string[] {
  const ignoreRel = ignoreFileFor(context, dockerfile);
  const ignoreFile = path.join(context, ignoreRel);
  const decide = contextFilter(existsSync(ignoreFile) ? readFileSync(ignoreFile, 'utf8') : '', [dockerfile, ignoreRel, '.dockerignore']);
  const out: string[] = [];
  const walk = (dir: string, rel: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      const isDir = e.isDirectory();
      const d = decide(r, isDir);
      if (d === 'exclude') continue;
      if (isDir) walk(path.join(dir, e.name), r);
      else if (e.isFile() || e.isSymbolicLink()) out.push(r);
    }
  };
  walk(context, '');
  return out;
}

/** A tar stream of the context for the engine's build endpoint. */
export function contextTar(context: string, entries: string[]): Readable {
  // uid/gid 0 and no mtimes in the cache key: Docker's COPY checksum covers ownership, so a
  // build on another runner (another uid) must look the same to hit the registry layer cache.
  return tar.pack(context, {
    entries,
    map: (h) => ({ ...h, uid: 0, gid: 0, uname: 'root', gname: 'root' }),
  }) as unknown as Readable;
}
