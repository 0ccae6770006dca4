// Validates the parsed document against PALLET_SCHEMA with ajv and turns ajv's errors into
// Problems with key paths and human messages ("expected a list of paths", "unknown key; did you
// mean 'dockerfile'?"). For oneOf/anyOf only the branch matching the value's type is reported.
import AjvModule, { type ErrorObject } from 'ajv';
import { PALLET_SCHEMA } from './schema.js';
import { unknownKeyMessage } from './did-you-mean.js';
import type { KeyPath, Problem } from './problems.js';

// ajv is CommonJS; under NodeNext its default export is the module object.
const Ajv = ((AjvModule as unknown as { default?: typeof AjvModule }).default ?? AjvModule) as unknown as typeof AjvModule.default;

type SchemaNode = Record<string, unknown>;

const ajv = new Ajv({ allErrors: true, verbose: true, coerceTypes: false, useDefaults: false, strict: true, allowUnionTypes: true });
ajv.addVocabulary(['x-expected', 'x-message']);
const validate = ajv.compile(PALLET_SCHEMA);

const TYPE_NAMES: Record<string, string> = {
  string: 'a string', integer: 'a whole number', number: 'a number', boolean: 'true or false',
  array: 'a list', object: 'a mapping', null: 'nothing',
};

function jsonType(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v;
}

function typeMatches(type: unknown, v: unknown): boolean {
  const t = jsonType(v);
  const types = Array.isArray(type) ? type : [type];
  return types.some((x) => x === t || (x === 'number' && t === 'integer'));
}

/** '/test/services/1/image' -> ['test', 'services', 1, 'image'] (numbers where the data is a list). */
function toKeyPath(pointer: string, data: unknown): KeyPath {
  const path: KeyPath = [];
  let cur: unknown = data;
  for (const raw of pointer.split('/').slice(1)) {
    const seg = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (Array.isArray(cur)) {
      path.push(Number(seg));
      cur = cur[Number(seg)];
    } else {
      path.push(seg);
      cur = cur && typeof cur === 'object' ? (cur as Record<string, unknown>)[seg] : undefined;
    }
  }
  return path;
}

function expectedOf(schema: SchemaNode | undefined, fallbackType: unknown): string {
  const annotated = schema?.['x-expected'];
  if (typeof annotated === 'string') return annotated;
  const types = (Array.isArray(fallbackType) ? fallbackType : [fallbackType]).map((t) => TYPE_NAMES[String(t)] ?? String(t));
  return types.length > 1 ? `${types.slice(0, -1).join(', ')} or ${types[types.length - 1]}` : types[0];
}

/** Drops errors of oneOf branches the value was not meant for (by type), keeping the branch that fits. */
function pruneUnionBranches(errors: ErrorObject[]): ErrorObject[] {
  const drop = new Set<ErrorObject>();
  for (const e of errors) {
    if (e.keyword !== 'oneOf' && e.keyword !== 'anyOf') continue;
    const branches = e.schema as SchemaNode[];
    const fit = branches.findIndex((b) => typeMatches(b.type, e.data));
    const prefix = `${e.schemaPath}/`;
    const below = (o: ErrorObject) =>
      o !== e && o.schemaPath.startsWith(prefix) && (o.instancePath === e.instancePath || o.instancePath.startsWith(`${e.instancePath}/`));
    for (const o of errors) {
      if (below(o) && Number(o.schemaPath.slice(prefix.length).split('/')[0]) !== fit) drop.add(o);
    }
    if (fit >= 0 && errors.some((o) => below(o) && !drop.has(o))) drop.add(e);
  }
  return errors.filter((e) => !drop.has(e));
}

function problemOf(e: ErrorObject, data: unknown): Problem | undefined {
  const path = toKeyPath(e.instancePath, data);
  const parent = e.parentSchema as SchemaNode | undefined;
  const custom = typeof parent?.['x-message'] === 'string' ? (parent['x-message'] as string) : undefined;
  const p = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'additionalProperties': {
      const key = String(p.additionalProperty);
      const known = Object.keys((parent?.properties as SchemaNode | undefined) ?? {});
      return { path: [...path, key], message: unknownKeyMessage(key, known) };
    }
    case 'required':
      return { path: [...path, String(p.missingProperty)], message: 'required key is missing', at: 'parent' };
    case 'type':
      return { path, message: `expected ${expectedOf(parent, p.type)}` };
    case 'oneOf':
    case 'anyOf':
      return { path, message: custom ?? `expected ${expectedOf(parent, undefined)}` };
    case 'enum':
      return { path, message: `expected one of ${(p.allowedValues as unknown[]).map(String).join(', ')}` };
    case 'const':
      return { path, message: `expected ${String(p.allowedValue)}` };
    case 'pattern':
      return { path, message: custom ?? `must match ${String(p.pattern)}` };
    case 'minimum':
      return { path, message: `must be >= ${String(p.limit)}` };
    case 'exclusiveMinimum':
      return { path, message: `must be > ${String(p.limit)}` };
    case 'maximum':
      return { path, message: `must be <= ${String(p.limit)}` };
    case 'exclusiveMaximum':
      return { path, message: `must be < ${String(p.limit)}` };
    case 'minLength':
      return { path, message: p.limit === 1 ? 'must not be empty' : `must be at least ${String(p.limit)} characters` };
    case 'maxLength':
      return { path, message: `must be at most ${String(p.limit)} characters` };
    case 'minItems':
      return { path, message: p.limit === 1 ? 'must not be empty' : `must have at least ${String(p.limit)} items` };
    case 'minProperties':
    case 'maxProperties':
      return { path, message: custom ?? `${e.keyword === 'minProperties' ? 'at least' : 'at most'} ${String(p.limit)} keys expected` };
    default:
      return { path, message: e.message ?? 'is invalid' };
  }
}

/** Schema problems of a parsed pallet.yml (empty when it conforms). */
export function schemaProblems(data: unknown): Problem[] {
  if (validate(data)) return [];
  const problems: Problem[] = [];
  for (const e of pruneUnionBranches(validate.errors ?? [])) {
    const p = problemOf(e, data);
    if (p) problems.push(p);
  }
  return problems;
}
