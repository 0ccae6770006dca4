// Prints docs/targets.md's support table from the targets' declarations in
// src/engine/capabilities.ts (`npx tsx scripts/targets-table.ts`); test/unit/docs.test.ts fails
// when the page drifts from them.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CAPABILITIES, DEPLOY_KEYS, TARGETS, type Support } from '../src/engine/capabilities.js';

const cell = (s: Support) => (s === 'yes' ? 'yes' : `no: ${s.reason.replace(/\|/g, '\\|')}`);

/** The Markdown table: one row per deploy key, one column per target, with the reason for each "no". */
export function targetsTable(): string {
  return [
    `| key | ${TARGETS.map((t) => `\`${t}\``).join(' | ')} |`,
    `|---|${TARGETS.map(() => '---').join('|')}|`,
    ...DEPLOY_KEYS.map((k) => `| \`${k}\` | ${TARGETS.map((t) => cell(CAPABILITIES[t][k])).join(' | ')} |`),
  ].join('\n');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  process.stdout.write(`${targetsTable()}\n`);
}
