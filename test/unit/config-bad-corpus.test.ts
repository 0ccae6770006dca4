// The bad pallet.yml corpus: every file in test/fixtures/config/bad/ is wrong in one (rarely
// more) way, and its `# expect: line:col key: message` header lines say exactly what the loader
// must report. One test per file; the loader must also never accept any of them.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../../src/config/load.js';
import { ConfigError, UserError } from '../../src/errors.js';

const BAD = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../fixtures/config/bad');
const files = readdirSync(BAD).filter((f) => f.endsWith('.yml')).sort();

function expected(file: string): string {
  const shown = path.relative(process.cwd(), file);
  const lines = readFileSync(file, 'utf8').split('\n').filter((l) => l.startsWith('# expect: ')).map((l) => l.slice('# expect: '.length));
  if (lines.length === 0) throw new Error(`${file} has no '# expect:' header`);
  return lines.map((l) => `${shown}:${l}`).join('\n');
}

function loadError(file: string): UserError {
  try {
    loadConfig(file);
  } catch (e) {
    if (e instanceof UserError) return e;
    throw e;
  }
  throw new Error(`${file} was accepted`);
}

test('the corpus has at least 40 bad files', () => {
  expect(files.length).toBeGreaterThanOrEqual(40);
});

test.each(files)('%s is rejected with its exact message', (name) => {
  const file = path.join(BAD, name);
  const err = loadError(file);
  expect(err.message).toBe(expected(file));
  if (!err.message.includes('\n')) {
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).file).toBe(path.relative(process.cwd(), file));
  }
  expect(err.hint).toBeTruthy();
});
