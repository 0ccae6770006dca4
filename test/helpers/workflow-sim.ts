// Runs a GitHub workflow's job graph on this machine, far enough to say which jobs run for an event, in
// which GitHub environment, in which order, with which secrets: the real YAML, its `if:` and `${{ }}`
// expressions through GitHub's own expression evaluator (@actions/expressions, from
// actions/languageservices), its `run:` steps through bash with a temporary GITHUB_OUTPUT, matrices
// expanded in the order GitHub documents, artifacts kept in memory. Actions are not run: checkout is a
// no-op, upload/download-artifact use the in-memory store, pallet-action is a stub the test gives.
//
// What it models of GitHub (and nothing more):
// - a job runs when every job it needs succeeded, unless its `if:` calls a status function; its `if:`
//   and a step's `if:` are ANDed with success() otherwise;
// - matrix legs are created in the order of the values (first key outermost), started one after the
//   other in `schedule` order (default: that order; 'reverse' to ask what happens if GitHub started them
//   the other way round); with fail-fast, a failed leg cancels the legs not yet started;
// - a matrix job's outputs are those of its last successful leg;
// - the secrets context of a job comes from the caller (`secretsFor(environment)`), see callerSecrets();
//   also for a pull request from a fork, where GitHub would withhold them: the checks look at which
//   secrets a job that ran references, not at what GitHub would have given it;
// - a pull request's activity types (`on.pull_request.types`, default opened, synchronize, reopened) and
//   the event payload's action, number and head/base repositories (githubContext);
// - a job's `environment:` as a name or a mapping (its `url` evaluated after the steps), `concurrency:`
//   as a group or a mapping (group, cancel-in-progress); queueing and cancelling are not modelled.
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { Evaluator, Lexer, Parser, data, type Expr } from '@actions/expressions';
import { ContextAccess, FunctionCall, IndexAccess, Literal, Logical, Binary, Unary, Grouping } from '@actions/expressions/ast';
import { truthy } from '@actions/expressions/result';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

// ---------------------------------------------------------------------------------------------------
// Expressions

const CONTEXTS = ['github', 'inputs', 'needs', 'matrix', 'strategy', 'secrets', 'steps', 'runner', 'env', 'vars', 'job', 'jobs'];
const STATUS_FUNCTIONS = ['success', 'always', 'failure', 'cancelled'];
const FUNCTIONS = [...STATUS_FUNCTIONS.map((name) => ({ name, minArgs: 0, maxArgs: 0 })), { name: 'hashFiles', minArgs: 1, maxArgs: 255 }];
const TEMPLATE = /\$\{\{([\s\S]*?)\}\}/g;
const WHOLE = /^\s*\$\{\{([\s\S]*)\}\}\s*$/;

export type Status = { success: boolean; failure: boolean };

function parse(source: string): Expr {
  const lexed = new Lexer(source).lex();
  return new Parser(lexed.tokens, CONTEXTS, FUNCTIONS).parse();
}

function toData(value: unknown): data.ExpressionData {
  if (value === undefined) return new data.Null();
  return JSON.parse(JSON.stringify(value), data.reviver) as data.ExpressionData;
}

function toJs(d: data.ExpressionData): unknown {
  return JSON.parse(JSON.stringify(d, data.replacer));
}

function evaluate(source: string, context: Obj, status: Status = { success: true, failure: false }): data.ExpressionData {
  const ctx = new data.Dictionary();
  for (const [k, v] of Object.entries(context)) ctx.add(k, toData(v));
  const bool = (b: boolean) => () => new data.BooleanData(b);
  const functions = new Map([
    ['success', { name: 'success', minArgs: 0, maxArgs: 0, call: bool(status.success) }],
    ['failure', { name: 'failure', minArgs: 0, maxArgs: 0, call: bool(status.failure) }],
    ['always', { name: 'always', minArgs: 0, maxArgs: 0, call: bool(true) }],
    ['cancelled', { name: 'cancelled', minArgs: 0, maxArgs: 0, call: bool(false) }],
  ]);
  return new Evaluator(parse(source), ctx, functions).evaluate();
}

/** A value of the YAML with its `${{ }}` evaluated: a whole-string expression keeps its type, anything else is a string. */
export function evalValue(value: unknown, context: Obj): unknown {
  if (typeof value !== 'string') return value;
  const whole = WHOLE.exec(value);
  if (whole && !whole[1].includes('}}')) return toJs(evaluate(whole[1], context));
  return value.replace(TEMPLATE, (_m, src: string) => evaluate(src, context).coerceString());
}

/** As GitHub passes it to an action input or an environment variable: a string. */
export function evalString(value: unknown, context: Obj): string {
  if (value === undefined || value === null) return '';
  if (typeof value !== 'string') return String(value);
  const whole = WHOLE.exec(value);
  if (whole && !whole[1].includes('}}')) return evaluate(whole[1], context).coerceString();
  return value.replace(TEMPLATE, (_m, src: string) => evaluate(src, context).coerceString());
}

/** An `if:` (with or without `${{ }}`), ANDed with success() unless it calls a status function itself. */
export function evalCondition(condition: unknown, context: Obj, status: Status): boolean {
  if (condition === undefined || condition === null) return status.success;
  if (typeof condition === 'boolean') return condition && status.success;
  const source = WHOLE.exec(String(condition))?.[1] ?? String(condition);
  const expr = parse(source);
  const usesStatus = walk(expr).some((e) => e instanceof FunctionCall && STATUS_FUNCTIONS.includes(e.functionName.lexeme.toLowerCase()));
  return truthy(evaluate(usesStatus ? source : `success() && (${source})`, context, status));
}

function walk(expr: Expr): Expr[] {
  const children: Expr[] =
    expr instanceof Logical ? expr.args
      : expr instanceof Binary ? [expr.left, expr.right]
        : expr instanceof Unary ? [expr.expr]
          : expr instanceof Grouping ? [expr.group]
            : expr instanceof IndexAccess ? [expr.expr, expr.index]
              : expr instanceof FunctionCall ? expr.args
                : [];
  return [expr, ...children.flatMap(walk)];
}

/** Every expression source in a YAML value (strings with `${{ }}`; `if:` values are expressions as a whole). */
function expressionsIn(value: unknown, key?: string): string[] {
  if (typeof value === 'string') {
    if (key === 'if' && !value.includes('${{')) return [value];
    return [...value.matchAll(TEMPLATE)].map((m) => m[1]);
  }
  if (Array.isArray(value)) return value.flatMap((v) => expressionsIn(v));
  if (isObj(value)) return Object.entries(value).flatMap(([k, v]) => expressionsIn(v, k));
  return [];
}

/** The secret names the expressions in a YAML value read; '*' for the whole context (toJSON(secrets)). */
export function secretsReferenced(value: unknown): string[] {
  const names = new Set<string>();
  for (const source of expressionsIn(value)) {
    const all = walk(parse(source));
    const named = new Set<Expr>();
    for (const e of all) {
      if (e instanceof IndexAccess && e.expr instanceof ContextAccess && e.expr.name.lexeme.toLowerCase() === 'secrets' && e.index instanceof Literal) {
        names.add(e.index.literal.coerceString());
        named.add(e.expr);
      }
    }
    for (const e of all) {
      if (e instanceof ContextAccess && e.name.lexeme.toLowerCase() === 'secrets' && !named.has(e)) names.add('*');
    }
  }
  return [...names].sort();
}

// ---------------------------------------------------------------------------------------------------
// Events and callers

export interface GitEvent {
  name: 'push' | 'pull_request' | 'pull_request_target' | 'workflow_dispatch';
  /** refs/heads/main, refs/tags/v1.2.3, refs/pull/12/merge */
  ref: string;
  /** workflow_dispatch inputs */
  inputs?: Record<string, string>;
  /** pull_request(_target): the pull request and what happened to it; from a fork, its head is another owner's repository. */
  pullRequest?: { number: number; action: 'opened' | 'synchronize' | 'reopened' | 'closed'; fork: boolean };
  /** Who triggered the run (default octocat), e.g. dependabot[bot]. */
  actor?: string;
}

export const REPOSITORY = 'acme/shop';
export const FORK_REPOSITORY = 'mallory/shop';

export function githubContext(event: GitEvent): Obj {
  const tag = event.ref.startsWith('refs/tags/');
  const pr = event.pullRequest;
  const head = pr?.fork ? FORK_REPOSITORY : REPOSITORY;
  return {
    event_name: event.name,
    ref: event.ref,
    ref_name: event.ref.replace(/^refs\/(heads|tags)\//, ''),
    ref_type: tag ? 'tag' : 'branch',
    repository: REPOSITORY,
    repository_owner: 'acme',
    sha: 'c0ffee0000000000000000000000000000c0ffee',
    run_id: 4242,
    run_number: 7,
    run_attempt: 1,
    actor: event.actor ?? 'octocat',
    workspace: '/home/runner/work/shop/shop',
    event: pr
      ? {
        inputs: event.inputs ?? {},
        action: pr.action,
        number: pr.number,
        pull_request: {
          number: pr.number,
          state: pr.action === 'closed' ? 'closed' : 'open',
          head: { ref: 'feature', sha: 'feed000000000000000000000000000000000feed', repo: { full_name: head, fork: pr.fork } },
          base: { ref: 'main', sha: 'ba5e000000000000000000000000000000000ba5e', repo: { full_name: REPOSITORY, fork: false } },
        },
      }
      : { inputs: event.inputs ?? {} },
  };
}

const glob = (pattern: string) => new RegExp(`^${pattern.replace(/[.+^$()|[\]\\]/g, '\\$&').replace(/\*\*/g, '\u0000').replace(/\*/g, '[^/]*').replace(/\u0000/g, '.*').replace(/\?/g, '.')}$`);

/** Whether a workflow's `on:` starts it for this event (branch and tag filters of push). */
export function triggeredBy(workflow: Obj, event: GitEvent): boolean {
  const on = workflow.on;
  const events: Obj = typeof on === 'string' ? { [on]: null } : Array.isArray(on) ? Object.fromEntries(on.map((e) => [e, null])) : (on as Obj);
  if (!(event.name in events)) return false;
  if (event.name === 'pull_request' || event.name === 'pull_request_target') {
    // Activity types: GitHub's default is opened, synchronize and reopened (closed only when listed).
    const types = ((events[event.name] ?? {}) as { types?: string[] }).types ?? ['opened', 'synchronize', 'reopened'];
    return types.includes(event.pullRequest?.action ?? 'opened');
  }
  if (event.name !== 'push') return true;
  const filter = (events.push ?? {}) as { branches?: string[]; tags?: string[] };
  if (!filter.branches && !filter.tags) return true;
  const name = event.ref.replace(/^refs\/(heads|tags)\//, '');
  const list = event.ref.startsWith('refs/tags/') ? filter.tags : filter.branches;
  return (list ?? []).some((p) => glob(p).test(name));
}

export interface SecretWorld {
  /** Repository (and organisation) secrets of the caller. */
  repository: Record<string, string>;
  /** Environment secrets, by environment. */
  environments: Record<string, Record<string, string>>;
  /** Whether the caller is in the reusable workflow's organization: `secrets: inherit` passes nothing otherwise. */
  sameOrganization: boolean;
}

export const GITHUB_TOKEN = 'ghs_run_token';

/**
 * The secrets context of a called workflow's job, by how the caller passes secrets:
 * - `secrets: inherit` (same organization or enterprise): the caller's secrets, and the environment's
 *   secrets for a job with `environment:` (which win); across organizations nothing;
 * - a mapping: exactly the mapped names, evaluated in the caller's job (no environment: its environments'
 *   secrets never reach the called workflow, actions/runner#4453);
 * - no `secrets:`: none. github_token always.
 */
export function callerSecrets(callerJob: Obj, world: SecretWorld, callerContext: Obj): (environment?: string) => Record<string, string> {
  const spec = callerJob.secrets;
  if (spec === 'inherit') {
    return (environment) => world.sameOrganization
      ? { ...world.repository, ...(environment ? world.environments[environment] ?? {} : {}), github_token: GITHUB_TOKEN }
      : { github_token: GITHUB_TOKEN };
  }
  if (isObj(spec)) {
    const ctx = { ...callerContext, secrets: world.repository };
    const mapped = Object.fromEntries(Object.entries(spec).map(([k, v]) => [k, evalString(v, ctx)]));
    return () => ({ ...mapped, github_token: GITHUB_TOKEN });
  }
  return () => ({ github_token: GITHUB_TOKEN });
}

/** The inputs a caller's `with:` passes, typed as the called workflow declares them (and checked against it). */
export function callInputs(callerJob: Obj, called: Obj, callerContext: Obj): Record<string, unknown> {
  const declared = ((called.on as Obj).workflow_call as Obj).inputs as Record<string, { type: string; required?: boolean }>;
  const given = (callerJob.with ?? {}) as Obj;
  const unknown = Object.keys(given).filter((k) => !(k in declared));
  if (unknown.length) throw new Error(`inputs the called workflow does not declare: ${unknown.join(', ')}`);
  const out: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(given)) {
    const v = evalValue(value, callerContext);
    const type = declared[name].type;
    out[name] = type === 'number' ? Number(v ?? 0) : type === 'boolean' ? v === true || v === 'true' : v === null || v === undefined ? '' : String(v);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------
// Running a workflow

export interface ActionCall {
  job: string;
  leg: number;
  environment?: string;
  command: string;
  with: Record<string, string>;
  env: Record<string, string>;
}

export interface ActionStub {
  (call: ActionCall): { outputs?: Record<string, string>; error?: string };
}

export interface StepRun {
  label: string;
  uses?: string;
  ran: boolean;
  outcome: 'success' | 'failure' | 'skipped';
  with?: Record<string, string>;
  env?: Record<string, string>;
  outputs: Record<string, string>;
  log?: string;
}

export interface LegRun {
  job: string;
  index: number;
  matrix?: Obj;
  environment?: string;
  /** environment.url, evaluated once the steps ran (it may read their outputs, as on GitHub). */
  environmentUrl?: string;
  concurrency?: string;
  cancelInProgress?: boolean;
  result: 'success' | 'failure' | 'cancelled';
  steps: StepRun[];
  outputs: Record<string, string>;
}

export interface JobRun {
  id: string;
  needs: string[];
  result: 'success' | 'failure' | 'skipped' | 'cancelled';
  legs: LegRun[];
  maxParallel?: number;
  failFast: boolean;
  matrixKeys: string[];
  /** Secret names any step of the job reads (static, whether or not the step runs); '*' = the whole context. */
  secretsReferenced: string[];
  outputs: Record<string, string>;
  /** Why the job failed before any leg started. */
  error?: string;
}

export interface WorkflowRun {
  jobs: Record<string, JobRun>;
  /** Legs in the order they started. */
  started: LegRun[];
  /** pallet-action calls in the order they happened. */
  calls: ActionCall[];
  /** on.workflow_call.outputs, evaluated. */
  outputs: Record<string, string>;
}

export interface RunOptions {
  event: GitEvent;
  /** The `inputs` context (a called workflow's inputs, or workflow_dispatch's). */
  inputs?: Record<string, unknown>;
  secretsFor: (environment?: string) => Record<string, string>;
  action: ActionStub;
  schedule?: 'matrix-order' | 'reverse';
}

function stepLabel(step: Obj, i: number): string {
  return String(step.name ?? step.id ?? step.uses ?? `run #${i + 1}`);
}

function matrixLegs(strategy: Obj | undefined, context: Obj): { keys: string[]; legs: Obj[] | undefined } {
  if (!strategy?.matrix) return { keys: [], legs: undefined };
  const matrix = evalValue(strategy.matrix, context);
  if (!isObj(matrix)) throw new Error('matrix must be a mapping');
  if ('include' in matrix || 'exclude' in matrix) throw new Error('matrix include/exclude is not modelled');
  const keys = Object.keys(matrix);
  let legs: Obj[] = [{}];
  for (const key of keys) {
    const values = evalValue(matrix[key], context);
    if (!Array.isArray(values) || values.length === 0) throw new Error(`matrix.${key} must be a non-empty list, got ${JSON.stringify(values)}`);
    // The first key varies slowest: {a:1,b:x},{a:1,b:y},{a:2,b:x}, ... (GitHub's documented order).
    legs = legs.flatMap((leg) => values.map((v) => ({ ...leg, [key]: v })));
  }
  return { keys, legs };
}

function parseOutputFile(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    const heredoc = /^([^=<]+)<<(.+)$/.exec(line);
    if (heredoc) {
      const body: string[] = [];
      for (i++; i < lines.length && lines[i] !== heredoc[2]; i++) body.push(lines[i]);
      out[heredoc[1]] = body.join('\n');
    } else if (line.includes('=')) {
      out[line.slice(0, line.indexOf('='))] = line.slice(line.indexOf('=') + 1);
    }
  }
  return out;
}

/** Runs the jobs of a parsed workflow for one event. */
export function runWorkflow(workflow: Obj, options: RunOptions): WorkflowRun {
  const jobsSpec = workflow.jobs as Record<string, Obj>;
  const github = githubContext(options.event);
  const inputs = options.inputs ?? {};
  const store = new Map<string, string>();
  const runs: Record<string, JobRun> = {};
  const started: LegRun[] = [];
  const calls: ActionCall[] = [];
  const scratch = mkdtempSync(path.join(tmpdir(), 'workflow-sim-'));

  const needsOf = (id: string): string[] => {
    const n = jobsSpec[id].needs;
    return n === undefined ? [] : Array.isArray(n) ? n.map(String) : [String(n)];
  };
  // Jobs in an order that respects needs (YAML order among the ready ones).
  const order: string[] = [];
  while (order.length < Object.keys(jobsSpec).length) {
    const ready = Object.keys(jobsSpec).find((id) => !order.includes(id) && needsOf(id).every((n) => order.includes(n)));
    if (!ready) throw new Error('needs form a cycle');
    order.push(ready);
  }

  try {
    for (const id of order) {
      const job = jobsSpec[id];
      const needs = needsOf(id);
      const needsContext = Object.fromEntries(needs.map((n) => [n, { result: runs[n].result, outputs: runs[n].outputs }]));
      const base = { github, inputs, needs: needsContext, vars: {} };
      const allSucceeded = needs.every((n) => runs[n].result === 'success');
      const anyFailed = needs.some((n) => runs[n].result === 'failure');
      const strategy = job.strategy as Obj | undefined;
      const run: JobRun = {
        id, needs, result: 'skipped', legs: [], failFast: strategy?.['fail-fast'] !== false,
        maxParallel: strategy?.['max-parallel'] as number | undefined, matrixKeys: [],
        secretsReferenced: secretsReferenced({ env: job.env, steps: job.steps }), outputs: {},
      };
      runs[id] = run;
      if (!evalCondition(job.if, base, { success: allSucceeded, failure: anyFailed })) continue;

      let expanded: ReturnType<typeof matrixLegs>;
      try {
        expanded = matrixLegs(strategy, base);
      } catch (e) {
        // GitHub fails the job when its strategy does not evaluate ("Error when evaluating 'strategy'").
        run.result = 'failure';
        run.error = (e as Error).message;
        continue;
      }
      const { keys, legs } = expanded;
      run.matrixKeys = keys;
      const legList = legs ?? [undefined];
      const indices = legList.map((_, i) => i);
      if (options.schedule === 'reverse') indices.reverse();
      const done: LegRun[] = [];
      let failed = false;
      for (const index of indices) {
        const matrix = legList[index];
        const strategyContext = { 'fail-fast': run.failFast, 'job-index': index, 'job-total': legList.length, 'max-parallel': run.maxParallel ?? legList.length };
        const jobContext = { ...base, matrix: matrix ?? {}, strategy: strategyContext };
        const envSpec = job.environment;
        const environmentValue = isObj(envSpec) ? envSpec.name : envSpec;
        const environment = environmentValue === undefined ? undefined : evalString(environmentValue, jobContext) || undefined;
        const concurrencySpec = job.concurrency;
        const concurrency = concurrencySpec === undefined ? undefined : evalString(isObj(concurrencySpec) ? concurrencySpec.group : concurrencySpec, jobContext);
        const cancelSpec = isObj(concurrencySpec) ? concurrencySpec['cancel-in-progress'] : undefined;
        const cancelInProgress = cancelSpec === undefined ? undefined : truthy(toData(evalValue(cancelSpec, jobContext)));
        const leg: LegRun = { job: id, index, matrix, environment, concurrency, cancelInProgress, result: 'success', steps: [], outputs: {} };
        if (failed && run.failFast) {
          leg.result = 'cancelled';
          done.push(leg);
          continue;
        }
        started.push(leg);
        const secrets = options.secretsFor(environment);
        const temp = path.join(scratch, `${id}-${index}`);
        mkdirSync(temp, { recursive: true });
        const runner = { temp, os: 'Linux', arch: 'X64' };
        const jobEnv: Record<string, string> = {};
        for (const [k, v] of Object.entries((job.env ?? {}) as Obj)) jobEnv[k] = evalString(v, { ...jobContext, secrets, runner, env: {} });
        const steps: Record<string, { outputs: Record<string, string>; outcome: string; conclusion: string }> = {};
        let stepFailed = false;
        for (const [i, step] of ((job.steps ?? []) as Obj[]).entries()) {
          const label = evalString(stepLabel(step, i), { ...jobContext, secrets, runner, env: jobEnv, steps });
          const stepEnvContext = { ...jobContext, secrets, runner, steps, env: jobEnv };
          const record: StepRun = { label, uses: step.uses as string | undefined, ran: false, outcome: 'skipped', outputs: {} };
          leg.steps.push(record);
          if (!evalCondition(step.if, stepEnvContext, { success: !stepFailed, failure: stepFailed })) continue;
          record.ran = true;
          const env: Record<string, string> = { ...jobEnv };
          for (const [k, v] of Object.entries((step.env ?? {}) as Obj)) env[k] = evalString(v, stepEnvContext);
          record.env = env;
          const ctx = { ...stepEnvContext, env };
          let error: string | undefined;
          if (typeof step.run === 'string') {
            const script = evalString(step.run, ctx);
            const outFile = path.join(temp, `output-${i}`);
            writeFileSync(outFile, '');
            const file = path.join(temp, `step-${i}.sh`);
            writeFileSync(file, script);
            const res = spawnSync('bash', ['--noprofile', '--norc', '-eo', 'pipefail', file], {
              encoding: 'utf8',
              env: { PATH: process.env.PATH, HOME: temp, RUNNER_TEMP: temp, GITHUB_OUTPUT: outFile, GITHUB_EVENT_NAME: options.event.name, ...env },
            });
            record.log = `${res.stdout}${res.stderr}`;
            record.outputs = parseOutputFile(readFileSync(outFile, 'utf8'));
            if (res.status !== 0) error = `exit ${res.status}: ${record.log.trim()}`;
          } else if (typeof step.uses === 'string') {
            const withValues = Object.fromEntries(Object.entries((step.with ?? {}) as Obj).map(([k, v]) => [k, evalString(v, ctx)]));
            record.with = withValues;
            const uses = step.uses;
            if (/^actions\/checkout@/.test(uses)) {
              // nothing to model
            } else if (/^actions\/upload-artifact@/.test(uses)) {
              const file = withValues.path;
              if (!existsSync(file)) error = `no file at ${file}`;
              else if (store.has(withValues.name) && withValues.overwrite !== 'true') error = `an artifact named ${withValues.name} exists`;
              else store.set(withValues.name, readFileSync(file, 'utf8'));
            } else if (/^actions\/download-artifact@/.test(uses)) {
              const content = store.get(withValues.name);
              if (content === undefined) error = `Unable to download artifact(s): Artifact not found for name: ${withValues.name}`;
              else {
                mkdirSync(withValues.path, { recursive: true });
                writeFileSync(path.join(withValues.path, 'digest'), content);
              }
            } else if (/^pallet-action\/pallet-action@|^\.\/?$/.test(uses)) {
              const call: ActionCall = { job: id, leg: index, environment, command: withValues.command, with: withValues, env };
              calls.push(call);
              const result = options.action(call);
              record.outputs = result.outputs ?? {};
              error = result.error;
            } else {
              throw new Error(`${id}: no model of ${uses}`);
            }
          }
          record.outcome = error ? 'failure' : 'success';
          if (error) {
            record.log = error;
            stepFailed = true;
          }
          if (typeof step.id === 'string') steps[step.id] = { outputs: record.outputs, outcome: record.outcome, conclusion: record.outcome };
        }
        leg.result = stepFailed ? 'failure' : 'success';
        if (stepFailed) failed = true;
        for (const [k, v] of Object.entries((job.outputs ?? {}) as Obj)) {
          leg.outputs[k] = evalString(v, { ...jobContext, secrets, runner, env: jobEnv, steps });
        }
        if (isObj(envSpec) && envSpec.url !== undefined) leg.environmentUrl = evalString(envSpec.url, { ...jobContext, runner, env: jobEnv, steps });
        done.push(leg);
      }
      run.legs = [...done].sort((a, b) => a.index - b.index);
      run.result = done.some((l) => l.result === 'failure') ? 'failure' : done.some((l) => l.result === 'cancelled') ? 'cancelled' : 'success';
      for (const leg of done.filter((l) => l.result === 'success')) {
        for (const [k, v] of Object.entries(leg.outputs)) if (v !== '') run.outputs[k] = v;
      }
    }
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }

  const outputs: Record<string, string> = {};
  const declared = isObj(workflow.on) && isObj((workflow.on as Obj).workflow_call) ? (((workflow.on as Obj).workflow_call as Obj).outputs ?? {}) as Record<string, Obj> : {};
  const jobsContext = Object.fromEntries(Object.entries(runs).map(([k, r]) => [k, { result: r.result, outputs: r.outputs }]));
  for (const [k, spec] of Object.entries(declared)) outputs[k] = evalString(spec.value, { github, inputs, jobs: jobsContext });
  return { jobs: runs, started, calls, outputs };
}

/** A workflow file of this repository, parsed. */
export function loadWorkflow(root: string, file: string): Obj {
  return YAML.parse(readFileSync(path.join(root, file), 'utf8')) as Obj;
}

export interface CallerRun {
  triggered: boolean;
  /** How the caller passes secrets. */
  secrets?: 'inherit' | 'mapping' | 'none';
  inputs?: Record<string, unknown>;
  run?: WorkflowRun;
}

/**
 * Runs a caller workflow (examples/workflows/*) for an event: whether it starts, what its job that calls
 * the reusable workflow passes, and the reusable workflow's run with that.
 */
export function runCaller(root: string, callerFile: string, event: GitEvent, world: SecretWorld, action: ActionStub, options: { schedule?: RunOptions['schedule']; called?: Obj } = {}): CallerRun {
  const caller = loadWorkflow(root, callerFile);
  if (!triggeredBy(caller, event)) return { triggered: false };
  const called = options.called ?? loadWorkflow(root, '.github/workflows/pallet.yml');
  const calling = Object.values(caller.jobs as Record<string, Obj>).filter((j) => typeof j.uses === 'string' && /(^|\/)\.github\/workflows\/pallet\.yml(@|$)/.test(j.uses));
  if (calling.length !== 1) throw new Error(`${callerFile}: expected one job calling the reusable workflow, found ${calling.length}`);
  const job = calling[0];
  const dispatchInputs = event.name === 'workflow_dispatch' ? event.inputs ?? {} : {};
  const callerContext = { github: githubContext(event), inputs: dispatchInputs, vars: {} };
  if (job.if !== undefined && !evalCondition(job.if, callerContext, { success: true, failure: false })) return { triggered: true };
  const declaredSecrets = Object.keys((((called.on as Obj).workflow_call as Obj).secrets ?? {}) as Obj);
  if (isObj(job.secrets)) {
    const undeclared = Object.keys(job.secrets).filter((k) => !declaredSecrets.includes(k));
    if (undeclared.length) throw new Error(`${callerFile}: maps secrets the called workflow does not declare: ${undeclared.join(', ')}`);
  }
  const inputs = callInputs(job, called, callerContext);
  const declaredInputs = ((called.on as Obj).workflow_call as Obj).inputs as Record<string, { default?: unknown; type: string }>;
  const allInputs = Object.fromEntries(Object.entries(declaredInputs).map(([k, d]) => [k, k in inputs ? inputs[k] : d.default ?? (d.type === 'number' ? 0 : d.type === 'boolean' ? false : '')]));
  const run = runWorkflow(called, { event, inputs: allInputs, secretsFor: callerSecrets(job, world, callerContext), action, schedule: options.schedule });
  return { triggered: true, secrets: job.secrets === 'inherit' ? 'inherit' : isObj(job.secrets) ? 'mapping' : 'none', inputs, run };
}
