// The wheelhouse manifest (<wheelhouse>/.pallet.json): which wheel came from which local
// package source, under which toolchain. It lets a partially restored wheelhouse skip the
// local packages whose source did not change, and tells a full hit from a stale directory.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export const MANIFEST_FILE = '.pallet.json';

export interface WheelhouseManifest {
  version: 1;
  /** Primary cache key of the wheelhouse as last built. */
  key: string;
  toolchain: string;
  /** Local package (path relative to the context) -> its source hash and wheel file name. */
  packages: Record<string, { sourceHash: string; wheel: string }>;
  /** Every wheel file in the wheelhouse. */
  wheels: string[];
}

export function readManifest(dir: string): WheelhouseManifest | undefined {
  const file = path.join(dir, MANIFEST_FILE);
  if (!existsSync(file)) return undefined;
  try {
    const m = JSON.parse(readFileSync(file, 'utf8')) as WheelhouseManifest;
    return m && m.version === 1 && typeof m.packages === 'object' ? m : undefined;
  } catch {
    return undefined;
  }
}

export function writeManifest(dir: string, m: WheelhouseManifest): void {
  writeFileSync(path.join(dir, MANIFEST_FILE), JSON.stringify(m, null, 2) + '\n');
}

export interface LocalBuildPlan {
  /** Local packages (rel) whose recorded wheel is current: reused as is. */
  reuse: Map<string, string>;
  /** Local packages (rel) to build from source. */
  build: string[];
  /** Wheel files of changed local packages: removed before building so no stale copy remains. */
  stale: string[];
}

/** Decides, per local package, whether its wheel can be reused (same toolchain, same source hash, file present). */
export function planLocalPackages(
  manifest: WheelhouseManifest | undefined,
  toolchain: string,
  sourceHashes: Record<string, string>,
  wheelExists: (wheel: string) => boolean,
): LocalBuildPlan {
  const plan: LocalBuildPlan = { reuse: new Map(), build: [], stale: [] };
  const usable = manifest && manifest.toolchain === toolchain ? manifest.packages : {};
  for (const [rel, hash] of Object.entries(sourceHashes)) {
    const rec = usable[rel];
    if (rec && rec.sourceHash === hash && wheelExists(rec.wheel)) plan.reuse.set(rel, rec.wheel);
    else {
      plan.build.push(rel);
      if (rec && wheelExists(rec.wheel)) plan.stale.push(rec.wheel);
    }
  }
  return plan;
}

/** A full hit: the directory holds exactly the wheelhouse of this key. */
export function isCurrent(manifest: WheelhouseManifest | undefined, key: string, wheelExists: (w: string) => boolean): boolean {
  return !!manifest && manifest.key === key && manifest.wheels.every(wheelExists);
}

/** PEP 503 normalised project name as it appears in wheel file names (underscores). */
export function wheelDistName(project: string): string {
  return project.toLowerCase().replace(/[-_.]+/g, '_');
}

/** The wheel file of a project among file names (the first `<dist>-<version>-...whl`). */
export function findWheel(project: string, files: string[]): string | undefined {
  const dist = wheelDistName(project);
  return files.find((f) => f.endsWith('.whl') && wheelDistName(f.split('-')[0]) === dist);
}

/** The project name a local package declares (pyproject [project], setup.cfg [metadata], setup.py), else its directory name. */
export function projectName(files: { pyproject?: string; setupCfg?: string; setupPy?: string }, dirName: string): string {
  const section = (text: string, name: string) => {
    const m = text.match(new RegExp(`^\\[${name.replace('.', '\\.')}\\]\\s*$([\\s\\S]*?)(?=^\\[|(?![\\s\\S]))`, 'm'));
    return m?.[1] ?? '';
  };
  const fromToml = files.pyproject && section(files.pyproject, 'project').match(/^\s*name\s*=\s*["']([^"']+)["']/m)?.[1];
  if (fromToml) return fromToml;
  const fromCfg = files.setupCfg && section(files.setupCfg, 'metadata').match(/^\s*name\s*=\s*(\S+)/m)?.[1];
  if (fromCfg) return fromCfg;
  const fromPy = files.setupPy?.match(/\bname\s*=\s*["']([^"']+)["']/)?.[1];
  if (fromPy) return fromPy;
  return dirName.replace(/\.(tar\.gz|zip|tgz)$/, '').replace(/-\d.*$/, '');
}

/** Names the wheels pip built, from its "Created wheel for NAME: filename=..." lines. */
export function builtWheelsFromPipOutput(output: string): string[] {
  const out: string[] = [];
  for (const m of output.matchAll(/Created wheel for ([^:\s]+): filename=(\S+\.whl)/g)) out.push(m[2]);
  return out;
}
