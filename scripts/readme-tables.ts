// Prints the README's inputs and outputs tables from action.yml (`npx tsx scripts/readme-tables.ts`);
// test/unit/docs.test.ts fails when the README's tables drift from action.yml.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import YAML from 'yaml';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export function actionTables(actionYmlText: string): { inputs: string; outputs: string } {
  const a = YAML.parse(actionYmlText);
  const esc = (s: string) => String(s).replace(/\|/g, '\\|').replace(/\n/g, ' ');
  const inputs = [
    '| input | required | default | description |',
    '|---|---|---|---|',
    ...Object.entries<Record<string, unknown>>(a.inputs).map(([k, v]) =>
      `| \`${k}\` | ${v.required ? 'yes' : 'no'} | ${v.default === undefined ? '' : `\`${esc(String(v.default))}\``} | ${esc(String(v.description))} |`),
  ].join('\n');
  const outputs = [
    '| output | description |',
    '|---|---|',
    ...Object.entries<Record<string, unknown>>(a.outputs).map(([k, v]) => `| \`${k}\` | ${esc(String(v.description))} |`),
  ].join('\n');
  return { inputs, outputs };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  const t = actionTables(readFileSync(path.join(root, 'action.yml'), 'utf8'));
  process.stdout.write(`${t.inputs}\n\n${t.outputs}\n`);
}
