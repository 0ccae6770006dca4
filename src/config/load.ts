// Loads pallet.yml: parse (YAML with source positions), validate (JSON Schema, then checks a schema
// cannot express), resolve defaults, apply input overrides. Every problem found is reported at
// once, one `file:line:col key: message` line each, sorted by position (see docs/pallet-yml.md).
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ConfigError, UserError } from '../errors.js';
import type { PalletConfig } from './types.js';
import { parseYaml, scalarSource, toConfigError, type YamlSource } from './yaml-source.js';
import { schemaProblems } from './schema-check.js';
import { semanticProblems } from './semantic-checks.js';
import { resolveConfig } from './resolve.js';
import { applyOverrides, validateOverrides, type ConfigOverrides } from './overrides.js';
import { isWithin, toUserError, type Problem } from './problems.js';
import { buildFileProblems } from './build-files.js';
import { environmentNames, environmentProblems, footprintOf, overlayDocument, sharedHostProblems } from './environments.js';

export type { ConfigOverrides } from './overrides.js';
export { ConfigErrors } from './problems.js';

const HINT = 'see docs/pallet-yml.md for every key, its type and default';

/** How a path is shown in messages: relative to the cwd (like compilers do), absolute when outside it. */
export function displayPath(file: string, cwd = process.cwd()): string {
  const abs = path.resolve(cwd, file);
  const rel = path.relative(cwd, abs);
  if (rel === '') return path.basename(abs);
  return rel === '..' || rel.startsWith(`..${path.sep}`) || path.isAbsolute(rel) ? abs : rel;
}

function byPosition(a: ConfigError, b: ConfigError): number {
  return a.line - b.line || a.column - b.column || a.message.localeCompare(b.message);
}

/** What to check besides the file itself. */
export interface LoadOptions {
  /**
   * Also check the files a build reads (Dockerfile, .dockerignore, a non-empty context, the
   * wheelhouse directory; see build-files.ts). Set for the commands that build (build, ci);
   * deploy, rollback, test and push build nothing and run from checkouts that may lack them.
   */
  buildFiles?: boolean;
  /**
   * The environment to load (input `environment`, flag `--environment`): with `environments` in
   * the file, its overlay is merged over the base; without, the name is only carried along.
   */
  environment?: string;
  /**
   * The command acts on hosts (deploy, rollback, status, ...): a file with `environments` then
   * needs one named. Without it (build, test, push, ci) the base is loaded without `deploy`.
   */
  needsEnvironment?: boolean;
  /**
   * With `environments` in the file and none named: take the first one declared instead of refusing
   * (review apps take their deploy section from it, e.g. staging).
   */
  firstEnvironment?: boolean;
  /** How messages name the environment option: `input 'environment'` (default) or `--environment`. */
  where?: 'input' | 'flag';
}

/** Problems of a parsed document, schema first; semantic problems under a schema problem are dropped. */
function validateDocument(src: YamlSource, file: string, overrides: ConfigOverrides, options: LoadOptions): ConfigError[] {
  const data = src.data;
  if (data === null || data === undefined) {
    return [toConfigError(src, { path: [], message: 'the file is empty; expected a mapping with at least app and image' })];
  }
  if (typeof data !== 'object' || Array.isArray(data)) {
    return [toConfigError(src, { path: [], message: 'expected a mapping with keys app, image, build, test, deploy' })];
  }
  const overridden = new Set(overrides.image !== undefined ? ['image'] : []);
  const schema = schemaProblems(data).filter((p) => !(p.message === 'required key is missing' && overridden.has(String(p.path[0])) && p.path.length === 1));
  const ctx = { dir: path.dirname(file), show: (abs: string) => displayPath(abs), overridden };
  const semantic = semanticProblems(data, ctx);
  const files = options.buildFiles ? buildFileProblems(data, ctx) : [];
  const below = [...semantic, ...files].filter((s) => !schema.some((p) => isWithin(s.path, p.path)));
  const seen = new Set<string>();
  const errors: ConfigError[] = [];
  for (const p of [...schema, ...below] as Problem[]) {
    const e = toConfigError(src, p);
    if (!seen.has(e.message)) errors.push(e);
    seen.add(e.message);
  }
  return errors.sort(byPosition);
}

/**
 * Reads, validates and resolves the config file (and with `buildFiles`, the files a build reads).
 * Throws a UserError (a ConfigError for one problem, a ConfigErrors listing all of them
 * otherwise) before anything else runs.
 */
export function loadConfig(file: string, overrides: ConfigOverrides = {}, options: LoadOptions = {}): PalletConfig {
  validateOverrides(overrides);
  const absolute = path.resolve(file);
  const shown = displayPath(absolute);
  let text: string;
  try {
    text = readFileSync(absolute, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new UserError(`config file ${shown} not found`, 'create a pallet.yml or point the `config` input at it');
    if (code === 'EISDIR') throw new UserError(`config file ${shown} is a directory`, 'point the `config` input at the pallet.yml file');
    throw new UserError(`cannot read config file ${shown}: ${(e as Error).message}`);
  }
  const { source, errors: syntax } = parseYaml(text, shown);
  if (syntax.length) throw toUserError(syntax, HINT);
  const selected = selectEnvironment(source, absolute, overrides, options);
  const config = resolveConfig(selected.data as Record<string, unknown>, absolute, (p) => scalarSource(selected, p));
  const names = environmentNames(source.data);
  const environment = selected.name ?? options.environment;
  return applyOverrides({ ...config, ...(environment !== undefined ? { environment } : {}), ...(names.length ? { environments: names } : {}) }, overrides);
}

/**
 * Validates the document and picks what to resolve. Without `environments`: the file itself.
 * With: every environment's merged document is validated (a problem in production's overlay is
 * found while deploying staging), each problem once, marked with the environments it is in when
 * not all; then the named one is returned, or the base without `deploy` for a command that
 * needs no hosts. Throws the UserError listing every problem.
 */
function selectEnvironment(source: YamlSource, file: string, overrides: ConfigOverrides, options: LoadOptions): YamlSource & { name?: string } {
  const names = environmentNames(source.data);
  const envProblems = source.data && typeof source.data === 'object' && !Array.isArray(source.data) ? environmentProblems(source.data as Record<string, unknown>) : [];
  if (envProblems.length) throw toUserError(envProblems.map((p) => toConfigError(source, p)).sort(byPosition), HINT);
  if (names.length === 0) {
    const errors = validateDocument(source, file, overrides, options);
    if (errors.length) throw toUserError(errors, HINT);
    return source;
  }
  const label = options.where === 'flag' ? '--environment' : "input 'environment'";
  const wanted = options.environment ?? (options.firstEnvironment ? names[0] : undefined);
  if (wanted !== undefined && !names.includes(wanted)) {
    throw toUserError([toConfigError(source, { path: ['environments'], message: `has no environment '${wanted}' (named by ${label}); declared: ${names.join(', ')}` })], HINT);
  }
  if (wanted === undefined && options.needsEnvironment) {
    throw toUserError([toConfigError(source, { path: ['environments'], message: `declares ${names.join(', ')}: name the one to act on with ${label}` })],
      `e.g. ${options.where === 'flag' ? '--environment' : 'environment:'} ${names[0]}`);
  }
  const found = new Map<string, { error: ConfigError; in: string[] }>();
  const docs = new Map<string, YamlSource>();
  for (const name of names) {
    const doc = overlayDocument(source.doc, name);
    const merged: YamlSource = { ...source, doc, data: doc.toJS({ maxAliasCount: 100 }) };
    docs.set(name, merged);
    for (const e of validateDocument(merged, file, overrides, options)) {
      const key = `${e.line}:${e.column}:${e.message}`;
      found.set(key, { error: e, in: [...(found.get(key)?.in ?? []), name] });
    }
  }
  const errors = [...found.values()].map(({ error: e, in: where }) => (where.length === names.length ? e
    : new ConfigError(e.file, e.line, e.column, e.key, `${e.detail} (environment ${where.join(', ')})`)));
  if (errors.length) throw toUserError(errors.sort(byPosition), HINT);
  const clashes = sharedHostProblems(names.map((n) => footprintOf(n, docs.get(n)!.data as Record<string, unknown>)));
  if (clashes.length) throw toUserError(clashes.map((p) => toConfigError(source, p)), HINT);
  if (wanted !== undefined) return { ...docs.get(wanted)!, name: wanted };
  // No hosts needed (build, test, push, ci): the base, without deploy and environments.
  const base = Object.fromEntries(Object.entries(source.data as Record<string, unknown>).filter(([k]) => k !== 'deploy' && k !== 'environments'));
  return { ...source, data: base };
}
