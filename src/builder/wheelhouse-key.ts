// Cache keys of a wheelhouse. The primary key changes with anything that changes the wheels
// (requirement files, local package sources, builder image, platform, pip options); the
// restore key is the prefix shared by every wheelhouse of the same builder/platform/options,
// so an older wheelhouse can be restored and only what changed is rebuilt.
import { sha256 } from './source-hash.js';

export interface WheelhouseKeyInput {
  app: string;
  /** e.g. linux/amd64 */
  platform: string;
  builderImageId: string;
  pipArgs: string[];
  /** Requirement files: path relative to the context -> content hash. */
  requirementFiles: Record<string, string>;
  /** Local packages: path relative to the context -> source hash. */
  localPackages: Record<string, string>;
}

export interface WheelhouseKeys {
  key: string;
  restoreKeys: string[];
  /** Identifies the toolchain; a wheel recorded in the manifest is reused only under the same one. */
  toolchain: string;
}

/** Keys are limited to 512 chars and no commas by the Actions cache; ours stay short. */
export function wheelhouseKeys(i: WheelhouseKeyInput): WheelhouseKeys {
  const platform = i.platform.replace(/[^A-Za-z0-9]+/g, '-');
  const app = i.app.replace(/[^A-Za-z0-9_.-]+/g, '-');
  const toolchain = sha256(i.builderImageId, i.platform, JSON.stringify(i.pipArgs)).slice(0, 16);
  const sorted = (r: Record<string, string>) => JSON.stringify(Object.keys(r).sort().map((k) => [k, r[k]]));
  const content = sha256(toolchain, sorted(i.requirementFiles), sorted(i.localPackages)).slice(0, 32);
  const prefix = `pallet-wheelhouse-v1-${app}-${platform}-${toolchain}-`;
  return { key: prefix + content, restoreKeys: [prefix], toolchain };
}
