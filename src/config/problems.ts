// A config problem is a key path plus a message; it becomes `file:line:col key: message` once the
// path is mapped back to the YAML node it came from. All problems of a file are reported at once.
import { ConfigError, UserError } from '../errors.js';

export type PathSegment = string | number;
export type KeyPath = PathSegment[];

export interface Problem {
  path: KeyPath;
  message: string;
  /**
   * Where to point: 'node' = the key of the last segment (or the list item); 'parent' = the key
   * of the enclosing mapping (for keys that are missing, so they have no node of their own).
   */
  at?: 'node' | 'parent';
}

/** `test.services[1].image`: dotted keys, [i] for list items. */
export function formatKeyPath(path: KeyPath): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else out += out ? `.${seg}` : seg;
  }
  return out;
}

/** Is `inner` the same path as `outer` or below it? */
export function isWithin(inner: KeyPath, outer: KeyPath): boolean {
  return outer.length <= inner.length && outer.every((s, i) => String(s) === String(inner[i]));
}

/** Several problems in one file: one `file:line:col key: message` line each, sorted by position. */
export class ConfigErrors extends UserError {
  constructor(
    readonly errors: ConfigError[],
    hint?: string,
  ) {
    super(errors.map((e) => e.message).join('\n'), hint);
    this.name = 'ConfigErrors';
  }
}

export const MAX_REPORTED = 25;

/** One problem -> a ConfigError; several -> ConfigErrors listing every one (up to MAX_REPORTED). */
export function toUserError(errors: ConfigError[], hint: string): UserError {
  if (errors.length === 1) {
    const e = errors[0];
    return new ConfigError(e.file, e.line, e.column, e.key, e.detail, e.hint ?? hint);
  }
  const shown = errors.slice(0, MAX_REPORTED);
  const err = new ConfigErrors(shown, hint);
  if (errors.length > shown.length) err.message += `\n... and ${errors.length - shown.length} more`;
  return err;
}
