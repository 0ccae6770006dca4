// Action inputs / CLI flags that replace or extend values from pallet.yml. They are validated
// like the file, with errors naming the input (`input 'image': ...`) or flag (`--image: ...`).
import { UserError } from '../errors.js';
import type { PalletConfig } from './types.js';
import { imageRepositoryProblem, TAG_PATTERN } from './references.js';

export interface ConfigOverrides {
  /** Input `image`: replaces `image` (a repository without tag). */
  image?: string;
  /** Input `shards`: replaces test.shards. */
  shards?: number;
  /** Input `extra-tags`: appended to build.tags (duplicates dropped). */
  extraTags?: string[];
  /** Input `test-args`: appended to test.command. */
  testArgs?: string[];
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
    if (problem) fail('image', problem, 'give the repository only, e.g. registry.example.com/team/app; set the tag with the tag input');
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

/** Applies validated overrides to a resolved config (returns a new object). */
export function applyOverrides(config: PalletConfig, o: ConfigOverrides): PalletConfig {
  const tags = [...config.build.tags];
  for (const t of o.extraTags ?? []) if (!tags.includes(t)) tags.push(t);
  return {
    ...config,
    image: o.image ?? config.image,
    build: { ...config.build, tags },
    test: {
      ...config.test,
      command: [...config.test.command, ...(o.testArgs ?? [])],
      shards: o.shards ?? config.test.shards,
    },
  };
}
