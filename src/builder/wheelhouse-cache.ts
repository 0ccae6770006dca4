// Where wheelhouses are kept between runs. In GitHub Actions: the Actions cache through
// @actions/cache (restoreCache/saveCache; survives fresh runners). Elsewhere: a local
// directory (PALLET_CACHE_DIR or ~/.cache/pallet/wheelhouse) with the same keys and the same
// prefix matching for restore keys, so the CLI behaves like CI.
import * as actionsCache from '@actions/cache';
import { cp, mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { reporter } from '../util/reporter.js';
import { errorMessage } from '../errors.js';

export interface WheelhouseCache {
  readonly kind: 'actions' | 'local';
  readonly where: string;
  /** Fills `dir` from the entry of `key` or else the newest entry matching a restore key; returns the matched key. */
  restore(dir: string, key: string, restoreKeys: string[]): Promise<string | undefined>;
  save(dir: string, key: string): Promise<void>;
}

/** Actions cache when the runner provides the cache service, else the local directory. */
export function chooseWheelhouseCache(env: NodeJS.ProcessEnv): WheelhouseCache {
  if (env.ACTIONS_RUNTIME_TOKEN && actionsCache.isFeatureAvailable()) return new ActionsWheelhouseCache();
  const dir = env.PALLET_CACHE_DIR ? path.join(env.PALLET_CACHE_DIR, 'wheelhouse') : path.join(os.homedir(), '.cache', 'pallet', 'wheelhouse');
  return new LocalWheelhouseCache(dir);
}

class ActionsWheelhouseCache implements WheelhouseCache {
  readonly kind = 'actions' as const;
  readonly where = 'GitHub Actions cache';
  async restore(dir: string, key: string, restoreKeys: string[]) {
    return actionsCache.restoreCache([dir], key, restoreKeys);
  }
  async save(dir: string, key: string) {
    try {
      await actionsCache.saveCache([dir], key);
    } catch (e) {
      // Another job saving the same key first is fine; anything else only costs a rebuild next time.
      reporter().warning(`wheelhouse: could not save the cache (${errorMessage(e)})`);
    }
  }
}

export class LocalWheelhouseCache implements WheelhouseCache {
  readonly kind = 'local' as const;
  constructor(readonly where: string, private readonly keep = 3) {}

  async restore(dir: string, key: string, restoreKeys: string[]) {
    const match = (await this.exists(key)) ? key : await this.newestWithPrefix(restoreKeys);
    if (!match) return undefined;
    await rm(dir, { recursive: true, force: true });
    await cp(path.join(this.where, match), dir, { recursive: true });
    return match;
  }

  async save(dir: string, key: string) {
    if (await this.exists(key)) return;
    await mkdir(this.where, { recursive: true });
    // Copy under a temporary name, then rename: a reader never sees half an entry.
    const tmp = path.join(this.where, `.tmp-${randomBytes(6).toString('hex')}`);
    try {
      await cp(dir, tmp, { recursive: true });
      await rename(tmp, path.join(this.where, key));
    } catch (e) {
      await rm(tmp, { recursive: true, force: true });
      if (!(await this.exists(key))) throw e;
    }
    await this.prune(key);
  }

  private async exists(key: string) { return existsSync(path.join(this.where, key)); }

  private async entries(prefix: string) {
    if (!existsSync(this.where)) return [];
    const names = (await readdir(this.where)).filter((n) => n.startsWith(prefix) && !n.startsWith('.tmp-'));
    const withTime = await Promise.all(names.map(async (n) => ({ n, t: (await stat(path.join(this.where, n))).mtimeMs })));
    return withTime.sort((a, b) => b.t - a.t).map((e) => e.n);
  }

  private async newestWithPrefix(prefixes: string[]) {
    for (const p of prefixes) {
      const [first] = await this.entries(p);
      if (first) return first;
    }
    return undefined;
  }

  /** Keeps the newest few entries of the same toolchain (the key minus its content hash). */
  private async prune(key: string) {
    const prefix = key.slice(0, key.lastIndexOf('-') + 1);
    for (const old of (await this.entries(prefix)).slice(this.keep)) {
      await rm(path.join(this.where, old), { recursive: true, force: true });
    }
  }
}
