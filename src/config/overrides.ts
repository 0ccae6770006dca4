// Action inputs / CLI flags that replace or extend values from pallet.yml. They are validated
// like the file, with errors naming the input (`input 'image': ...`) or flag (`--image: ...`).
import { UserError } from '../errors.js';
import type { PalletConfig } from './types.js';
import { imageRepositoryProblem, TAG_PATTERN } from './references.js';
import { ENV_NAME } from './semantic-checks.js';

export interface ConfigOverrides {
  /** Input `image`: replaces `image` (a repository without tag). */
  image?: string;
  /** Input `shards`: replaces test.shards. */
  shards?: number;
  /** Input `extra-tags`: appended to build.tags (duplicates dropped). */
  extraTags?: string[];
  /** Input `test-args`: appended to test.command. */
  testArgs?: string[];
  /** Input `build-args` / flag `--build-arg`: merged over build.args (these win). */
  buildArgs?: Record<string, string>;
  /** How errors name an override: `input 'image'` (the action) or `--image` (the CLI). Default: input. */
  where?: 'input' | 'flag';
}

function label(name: string, where: ConfigOverrides['where']): string {
  return where === 'flag' ? `--${name}` : `input '${name}'`;
}

/** Throws a UserError naming the input for the first invalid override. */
export function validateOverrides(o: ConfigOverrides): void {
  const fail = (name: string, message: string, hint?: string): never => {
    throw new UserError(`${label(name, o.where)}: ${message}`, hint);
  };
  if (o.image !== undefined) {
    const problem = imageRepositoryProblem(o.image);
    if (problem) fail('image', problem, `give the repository only, e.g. registry.example.com/team/app; set the tag with ${label('tag', o.where)}`);
  }
  // The same range the cleanroom plans (src/cleanroom/plan.ts), refused here before any engine is contacted.
  if (o.shards !== undefined && !(Number.isInteger(o.shards) && o.shards >= 1 && o.shards <= 32)) {
    fail('shards', `must be a whole number from 1 to 32, got ${o.shards}`, 'each shard runs its own set of service containers; 32 is the most one run starts');
  }
  for (const t of o.extraTags ?? []) {
    if (!TAG_PATTERN.test(t)) fail('extra-tags', `'${t}' is not a valid image tag (letters, digits, _ . -, at most 128, not starting with . or -)`);
  }
  for (const a of o.testArgs ?? []) if (a === '') fail('test-args', 'arguments must not be empty');
}

/**
 * Pure: parses build arguments given as `NAME=VALUE` lines (the `build-args` input, one per line; the
 * CLI's repeated `--build-arg`, one line each) into a map, later lines winning. Blank lines are skipped;
 * the value is everything after the first `=` (may be empty). Throws a UserError naming `label` and the
 * bad line (by number when there are several and `numbered`: the CLI's flags are not lines) for a line without `=` or with an invalid name.
 */
export function parseBuildArgs(text: string, label: string, numbered = true): Record<string, string> {
  const out: Record<string, string> = {};
  const lines = text.split(/\r?\n/);
  const several = numbered && lines.filter((l) => l.trim() !== '').length > 1;
  lines.forEach((raw, i) => {
    const line = raw.trim();
    if (!line) return;
    const eq = line.indexOf('=');
    const name = eq < 0 ? line : line.slice(0, eq);
    const where = `${label}: ${several ? `line ${i + 1} ` : ''}'${line}'`;
    if (eq < 0) throw new UserError(`${where} is not NAME=VALUE`, 'give each build argument as NAME=VALUE, e.g. APP_VERSION=abc1234 (an empty value is NAME=)');
    if (!ENV_NAME.test(name)) throw new UserError(`${where}: '${name}' is not a valid build argument name (letters, digits and _, not starting with a digit)`, 'give each build argument as NAME=VALUE, e.g. APP_VERSION=abc1234');
    out[name] = line.slice(eq + 1);
  });
  return out;
}

/** Applies validated overrides to a resolved config (returns a new object). */
export function applyOverrides(config: PalletConfig, o: ConfigOverrides): PalletConfig {
  const tags = [...config.build.tags];
  for (const t of o.extraTags ?? []) if (!tags.includes(t)) tags.push(t);
  return {
    ...config,
    image: o.image ?? config.image,
    build: { ...config.build, tags, args: { ...config.build.args, ...(o.buildArgs ?? {}) } },
    test: {
      ...config.test,
      command: [...config.test.command, ...(o.testArgs ?? [])],
      shards: o.shards ?? config.test.shards,
    },
  };
}
