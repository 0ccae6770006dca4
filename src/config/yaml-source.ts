// The YAML side of loading: parse with the Document API so every node keeps its source range,
// report syntax errors and duplicate keys with line:column, and map a key path back to the node
// it names (for `file:line:col key: message`).
import { isAlias, isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, visit, type Document, type Node } from 'yaml';
import { ConfigError } from '../errors.js';
import { formatKeyPath, type KeyPath, type Problem } from './problems.js';

export interface YamlSource {
  /** Name used in messages (relative to the cwd). */
  displayName: string;
  doc: Document;
  lineCounter: LineCounter;
  /** Plain JS value of the document (null for an empty file). */
  data: unknown;
}

function keyString(key: unknown): string {
  if (isScalar(key)) return String(key.value);
  return String(key);
}

// yaml's own messages are fine; a few common ones get a hint of what to do instead.
const SYNTAX_HINTS: Record<string, string> = {
  TAB_AS_INDENT: 'tabs are not allowed for indentation; indent with spaces',
  MULTIPLE_DOCS: 'the file holds more than one YAML document (---); pallet.yml must be a single document',
};

/** Parses the text; returns syntax errors and duplicate keys as ConfigErrors (empty when fine). */
export function parseYaml(text: string, displayName: string): { source: YamlSource; errors: ConfigError[] } {
  const lineCounter = new LineCounter();
  // Duplicate keys are found by our own walk below, which knows the key path.
  const doc = parseDocument(text, { lineCounter, uniqueKeys: false, prettyErrors: false });
  const errors: ConfigError[] = [];
  for (const e of doc.errors) {
    const { line, col } = lineCounter.linePos(e.pos[0]);
    const detail = SYNTAX_HINTS[e.code] ?? e.message.replace(/\.$/, '');
    errors.push(new ConfigError(displayName, line, col, '', `invalid YAML: ${detail}`));
  }
  const source: YamlSource = { displayName, doc, lineCounter, data: null };
  if (errors.length === 0) {
    findUnknownAliases(source, errors);
    findDuplicateKeys(source, doc.contents, [], errors);
  }
  if (errors.length === 0) {
    try {
      source.data = doc.toJS({ maxAliasCount: 100 });
    } catch (e) {
      errors.push(new ConfigError(displayName, 1, 1, '', `invalid YAML: ${(e as Error).message}`));
    }
  }
  return { source, errors };
}

// yaml only notices an alias without anchor when converting, without a position; find it first.
function findUnknownAliases(src: YamlSource, errors: ConfigError[]): void {
  visit(src.doc, {
    Alias(_, node) {
      if (node.resolve(src.doc) !== undefined) return;
      const { line, col } = src.lineCounter.linePos(offsetOf(node) ?? 0);
      errors.push(new ConfigError(src.displayName, line, col, '', `invalid YAML: alias *${node.source} has no anchor &${node.source} before it`));
    },
  });
}

function findDuplicateKeys(src: YamlSource, node: unknown, path: KeyPath, errors: ConfigError[]): void {
  if (isMap(node)) {
    const seen = new Map<string, number>();
    for (const pair of node.items) {
      const k = keyString(pair.key);
      const here = offsetOf(pair.key) ?? offsetOf(node) ?? 0;
      const first = seen.get(k);
      if (first !== undefined) {
        const { line, col } = src.lineCounter.linePos(here);
        const firstLine = src.lineCounter.linePos(first).line;
        errors.push(new ConfigError(src.displayName, line, col, formatKeyPath([...path, k]), `duplicate key (first set on line ${firstLine})`));
      } else {
        seen.set(k, here);
      }
      findDuplicateKeys(src, pair.value, [...path, k], errors);
    }
  } else if (isSeq(node)) {
    node.items.forEach((item, i) => findDuplicateKeys(src, item, [...path, i], errors));
  }
}

function offsetOf(node: unknown): number | undefined {
  const range = (node as Node | null)?.range;
  return range ? range[0] : undefined;
}

/** The node a path names, and the key node it hangs from (undefined for list items and the root). */
function walk(src: YamlSource, path: KeyPath): { node: unknown; key: unknown; depth: number } {
  let node: unknown = src.doc.contents;
  let key: unknown;
  let depth = 0;
  for (const seg of path) {
    if (isAlias(node)) node = node.resolve(src.doc);
    if (isMap(node)) {
      // The last pair wins, as in the parsed value.
      const pair = [...node.items].reverse().find((p) => isPair(p) && keyString(p.key) === String(seg));
      if (!pair) break;
      key = pair.key;
      node = pair.value;
    } else if (isSeq(node) && typeof seg === 'number' && seg < node.items.length) {
      key = undefined;
      node = node.items[seg];
    } else {
      break;
    }
    depth++;
  }
  return { node, key, depth };
}

/** line:column (1-based) a problem points at: the key of its node, the list item, or the nearest ancestor found. */
export function positionOf(src: YamlSource, problem: Problem): { line: number; col: number } {
  const path = problem.at === 'parent' ? problem.path.slice(0, -1) : problem.path;
  const { node, key } = walk(src, path);
  const offset = offsetOf(key) ?? offsetOf(node) ?? offsetOf(src.doc.contents) ?? 0;
  return src.lineCounter.linePos(offset);
}

/** The source text of a scalar (so `1.10` stays "1.10" when coerced to a string), if it is one. */
export function scalarSource(src: YamlSource, path: KeyPath): string | undefined {
  const { node, depth } = walk(src, path);
  if (depth !== path.length || !isScalar(node)) return undefined;
  return typeof node.source === 'string' ? node.source : undefined;
}

export function toConfigError(src: YamlSource, p: Problem): ConfigError {
  const { line, col } = positionOf(src, p);
  return new ConfigError(src.displayName, line, col, formatKeyPath(p.path), p.message);
}
