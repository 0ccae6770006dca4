// The job graph the reusable workflow (.github/workflows/pallet.yml) produces for each event, evaluated
// from the real YAML (test/helpers/workflow-sim.ts: GitHub's expression evaluator, the `run:` steps
// through bash, matrices expanded): which jobs run, in which GitHub environment, in which order, with
// which secrets. Through the example callers where there is one, so their `with:` and `secrets:` count.
// The invariants:
//   - a pull request runs plan and test only, and no job it runs references a secret;
//   - a push builds, tests and pushes once, then deploys that digest to each environment in order, each
//     deploy in its GitHub environment with that environment's secrets, a later one only after the earlier
//     one succeeded (also if GitHub started them the other way round);
//   - a manual run rolls back the one environment asked for;
//   - review apps (`review: true`) only for a pull_request from a branch of the repository itself: its
//     digest deployed in GitHub environment review/pr-N, removed on close outside any environment; a
//     fork's pull request (and pull_request_target, and Dependabot) still runs no job that references a
//     secret;
// and the blocks "the checks fail a workflow that breaks an invariant" show that a workflow breaking one
// of them fails these checks.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { REPO_ROOT } from '../helpers/lab.js';
import {
  GITHUB_TOKEN, loadWorkflow, runCaller, runWorkflow, secretsReferenced, triggeredBy,
  type ActionStub, type GitEvent, type SecretWorld, type WorkflowRun,
} from '../helpers/workflow-sim.js';

type Obj = Record<string, unknown>;

const DIGEST = `sha256:${'d1'.repeat(32)}`;
const PUSH_MAIN: GitEvent = { name: 'push', ref: 'refs/heads/main' };
const PUSH_BRANCH: GitEvent = { name: 'push', ref: 'refs/heads/feature' };
const PULL_REQUEST: GitEvent = { name: 'pull_request', ref: 'refs/pull/12/merge' };
const TAG: GitEvent = { name: 'push', ref: 'refs/tags/v1.2.3' };
const dispatch = (inputs: Record<string, string>): GitEvent => ({ name: 'workflow_dispatch', ref: 'refs/heads/main', inputs });
type PullRequestAction = NonNullable<GitEvent['pullRequest']>['action'];
/** A pull request event with its payload: from a branch of acme/shop, or from a fork (mallory/shop). */
const pullRequest = (action: PullRequestAction, options: { fork?: boolean; number?: number; name?: 'pull_request' | 'pull_request_target'; actor?: string } = {}): GitEvent => ({
  name: options.name ?? 'pull_request',
  ref: options.name === 'pull_request_target' ? 'refs/heads/main' : `refs/pull/${options.number ?? 12}/merge`,
  pullRequest: { number: options.number ?? 12, action, fork: options.fork ?? false },
  ...(options.actor ? { actor: options.actor } : {}),
});

/** Secrets as staging-production.yml expects them: registry in the repository, SSH and app secrets per environment. */
const ENVIRONMENT_SECRETS: SecretWorld = {
  repository: { REGISTRY_USERNAME: 'ci-user', REGISTRY_PASSWORD: 'ci-password', SECRET_KEY: 'repository-secret-key' },
  environments: {
    staging: { DEPLOY_SSH_KEY: 'staging-key', DEPLOY_KNOWN_HOSTS: 'staging-hosts', SECRET_KEY: 'staging-secret-key' },
    production: { DEPLOY_SSH_KEY: 'production-key', DEPLOY_KNOWN_HOSTS: 'production-hosts', SECRET_KEY: 'production-secret-key' },
  },
  sameOrganization: true,
};
/** Secrets as pallet.yml (one environment, mapped by name) expects them: all in the repository. */
const REPOSITORY_SECRETS: SecretWorld = {
  repository: { REGISTRY_USERNAME: 'ci-user', REGISTRY_PASSWORD: 'ci-password', DEPLOY_SSH_KEY: 'repository-key', DEPLOY_KNOWN_HOSTS: 'repository-hosts', SECRET_KEY: 'repository-secret-key' },
  environments: { production: { DEPLOY_SSH_KEY: 'production-key-unreachable' } },
  sameOrganization: false,
};

/** Secrets as review-apps.yml expects them: repository secrets for the review hosts (GitHub creates review/pr-N empty), production's own. */
const REVIEW_SECRETS: SecretWorld = {
  repository: { REGISTRY_USERNAME: 'ci-user', REGISTRY_PASSWORD: 'ci-password', DEPLOY_SSH_KEY: 'review-key', DEPLOY_KNOWN_HOSTS: 'review-hosts', SECRET_KEY: 'repository-secret-key' },
  environments: { production: { DEPLOY_SSH_KEY: 'production-key', DEPLOY_KNOWN_HOSTS: 'production-hosts', SECRET_KEY: 'production-secret-key' } },
  sameOrganization: true,
};

/** pallet-action: ci pushes DIGEST; `fail` lists command:environment pairs that fail. */
function pallet(fail: string[] = []): ActionStub {
  return (call): { outputs?: Record<string, string>; error?: string } => {
    if (fail.includes(`${call.command}:${call.environment ?? ''}`)) return { error: `${call.command} failed` };
    if (call.command === 'ci') {
      const tag = call.with.tag || 'build-7';
      return { outputs: { image: `registry.example.com/shop:${tag}`, tag, digest: DIGEST } };
    }
    if (call.command === 'deploy') return { outputs: { 'deployed-hosts': `${call.with.environment}-1.example.com` } };
    if (call.command === 'review-deploy') {
      const n = call.with['pull-request'];
      return { outputs: { 'review-url': `https://pr-${n}.review.example.com`, 'review-app': `shop-pr-${n}` } };
    }
    return {};
  };
}

const reusable = () => loadWorkflow(REPO_ROOT, '.github/workflows/pallet.yml');
const run = (caller: string, event: GitEvent, world: SecretWorld, options: { fail?: string[]; schedule?: 'reverse'; called?: Obj } = {}) => {
  const result = runCaller(REPO_ROOT, caller, event, world, pallet(options.fail), { schedule: options.schedule, called: options.called });
  if (!result.triggered || !result.run) throw new Error(`${caller} does not run for ${event.name} ${event.ref}`);
  return result.run;
};

/** What ran, job by job and leg by leg, in start order: job (environment) result. */
const started = (r: WorkflowRun) => r.started.map((l) => `${l.job}${l.environment ? ` (${l.environment})` : ''} ${l.result}`);
const calls = (r: WorkflowRun) => r.calls.map((c) => `${c.command}${c.environment ? ` ${c.environment}` : ''}`);

/** Whether leg a is done before leg b starts, by needs (transitively) or by a one-at-a-time, fail-fast matrix. */
function before(r: WorkflowRun, a: { job: string; index: number }, b: { job: string; index: number }): boolean {
  if (a.job === b.job) {
    const job = r.jobs[a.job];
    return job.maxParallel === 1 && job.failFast && a.index < b.index;
  }
  const needs = (id: string): string[] => r.jobs[id].needs.flatMap((n) => [n, ...needs(n)]);
  return needs(b.job).includes(a.job);
}

/** The jobs, and the pallet commands, of the review apps: the only ones with secrets a pull request may run. */
const REVIEW_JOBS = ['review', 'review-destroy'];
const REVIEW_COMMANDS = ['ci', 'review-deploy', 'review-destroy'];

/**
 * The invariants, as problems found in a run: [] when the run keeps them. `deployTo` is the environment
 * order a push must follow, `rollback` the one environment a manual run may touch, `review` the pull
 * request whose review app a run deploys, `reviewDestroy` the one whose review app it removes (no other
 * run may touch a review app).
 */
function problems(r: WorkflowRun, event: GitEvent, expect: { deployTo?: string[]; rollback?: string; review?: number; reviewDestroy?: number } = {}): string[] {
  const found: string[] = [];
  if (event.name === 'pull_request' || event.name === 'pull_request_target') {
    // Review jobs only for a pull_request (not _target) from a branch of this repository, not by Dependabot.
    const trusted = event.name === 'pull_request' && event.pullRequest?.fork === false && event.actor !== 'dependabot[bot]';
    const what = `${event.name}${event.pullRequest?.fork ? ' from a fork' : ''}`;
    for (const leg of r.started) {
      const refs = r.jobs[leg.job].secretsReferenced;
      if (refs.length && !(trusted && REVIEW_JOBS.includes(leg.job))) found.push(`${what}: job ${leg.job} references secrets ${refs.join(', ')}`);
    }
    for (const c of r.calls.filter((c) => c.command !== 'test' && !(trusted && REVIEW_COMMANDS.includes(c.command)))) found.push(`${what}: pallet ${c.command} ran`);
  }
  for (const leg of r.started) {
    const refs = r.jobs[leg.job].secretsReferenced;
    // review-destroy is the one exception, on purpose: entering review/pr-N would record a new deployment
    // of the app it removes, and that environment never holds secrets of its own (GitHub creates it empty).
    const destroyOnly = leg.job === 'review-destroy' && r.calls.filter((c) => c.job === leg.job).every((c) => c.command === 'review-destroy');
    if (!leg.environment && !destroyOnly && refs.some((s) => ['DEPLOY_SSH_KEY', 'DEPLOY_KNOWN_HOSTS', 'ssh-private-key', '*'].includes(s))) {
      found.push(`job ${leg.job} reads deploy secrets in no GitHub environment`);
    }
  }
  for (const c of r.calls.filter((c) => c.command === 'review-deploy')) {
    const environment = `review/pr-${c.with['pull-request']}`;
    if (c.environment !== environment) found.push(`review-deploy of pull request ${c.with['pull-request'] || '(none)'} runs in ${c.environment ? `GitHub environment ${c.environment}` : 'no GitHub environment'}`);
    if (c.with.digest !== DIGEST) found.push(`${environment} was not given ci's digest: ${c.with.digest || 'none'}`);
  }
  for (const c of r.calls.filter((c) => c.command === 'review-destroy')) {
    if (c.environment) found.push(`review-destroy of pull request ${c.with['pull-request']} runs in GitHub environment ${c.environment} (a new deployment of a removed app)`);
  }
  const reviewCalls = r.calls.filter((c) => c.command.startsWith('review-')).map((c) => `${c.command} ${c.with['pull-request'] || '(none)'}`);
  const reviewExpected = [
    ...(expect.review !== undefined ? [`review-deploy ${expect.review}`] : []),
    ...(expect.reviewDestroy !== undefined ? [`review-destroy ${expect.reviewDestroy}`] : []),
  ];
  if (JSON.stringify(reviewCalls) !== JSON.stringify(reviewExpected)) found.push(`review apps: expected ${JSON.stringify(reviewExpected)}, ran ${JSON.stringify(reviewCalls)}`);
  if (expect.review !== undefined) {
    const order = r.calls.map((c) => c.command);
    if (JSON.stringify(order) !== JSON.stringify(['ci', 'review-deploy'])) found.push(`review of pull request ${expect.review} ran ${JSON.stringify(order)}, not ci then review-deploy`);
  }
  if (expect.reviewDestroy !== undefined && r.calls.length !== 1) found.push(`review-destroy of pull request ${expect.reviewDestroy} ran ${JSON.stringify(r.calls.map((c) => c.command))}`);
  for (const c of r.calls.filter((c) => c.command === 'deploy' || c.command === 'rollback')) {
    if (!c.environment) found.push(`${c.command} of ${c.with.environment || 'production'} runs in no GitHub environment`);
    else if (c.with.environment !== c.environment) found.push(`${c.command} of ${c.with.environment} runs in GitHub environment ${c.environment}`);
  }
  if (expect.deployTo) {
    const ci = r.calls.filter((c) => c.command === 'ci');
    if (ci.length !== 1) found.push(`ci ran ${ci.length} times`);
    const deploys = r.calls.filter((c) => c.command === 'deploy');
    for (const c of deploys) if (c.with.digest !== DIGEST) found.push(`${c.with.environment} was not given ci's digest: ${c.with.digest || 'none'}`);
    // Every deploy happens after the deploys of the environments before it in the list.
    deploys.forEach((c, i) => {
      const position = expect.deployTo!.indexOf(c.with.environment);
      const earlier = deploys.slice(0, i).map((d) => d.with.environment);
      for (const previous of expect.deployTo!.slice(0, position)) {
        if (!earlier.includes(previous)) found.push(`deployed to ${c.with.environment} before ${previous}`);
      }
    });
    // And the graph guarantees it: each environment's job ends before the next one starts.
    const legs = expect.deployTo.map((e) => deploys.find((c) => c.with.environment === e)).map((c) => c && { job: c.job, index: c.leg, environment: c.with.environment });
    for (let i = 1; i < legs.length; i++) {
      const [a, b] = [legs[i - 1], legs[i]];
      if (a && b && !before(r, a, b)) found.push(`${b.environment} may run before ${a.environment} ends (job ${b.job}: max-parallel ${r.jobs[b.job].maxParallel ?? 'unlimited'}, fail-fast ${r.jobs[b.job].failFast})`);
    }
  }
  if (expect.rollback !== undefined) {
    const touched = r.calls.filter((c) => c.command !== 'test').map((c) => `${c.command}${c.with.environment ? ` ${c.with.environment}` : ''}`);
    if (JSON.stringify(touched) !== JSON.stringify([`rollback ${expect.rollback}`])) found.push(`a rollback of ${expect.rollback} ran ${JSON.stringify(touched)}`);
  }
  return found;
}

describe('push to the default branch: build once, then staging, then production (staging-production.yml, secrets: inherit)', () => {
  const r = run('examples/workflows/staging-production.yml', PUSH_MAIN, ENVIRONMENT_SECRETS);

  test('plan, ci once, then one deploy job per environment in order, each in its GitHub environment', () => {
    expect(started(r)).toEqual(['plan success', 'ci success', 'deploy (staging) success', 'deploy (production) success']);
    expect(r.jobs.test.result).toBe('skipped');
    expect(r.jobs.rollback.result).toBe('skipped');
    expect(r.jobs.ci.needs).toEqual(['plan']);
    expect(r.jobs.deploy.needs).toEqual(['plan', 'ci']);
    expect(r.jobs.deploy.legs.map((l) => [l.matrix, l.environment])).toEqual([
      [{ environment: 'staging' }, 'staging'],
      [{ environment: 'production' }, 'production'],
    ]);
    expect(calls(r)).toEqual(['ci', 'deploy staging', 'deploy production']);
    expect(problems(r, PUSH_MAIN, { deployTo: ['staging', 'production'] })).toEqual([]);
  });

  test('every environment gets the digest ci pushed, by tag and digest', () => {
    for (const c of r.calls.filter((c) => c.command === 'deploy')) {
      expect([c.environment, c.with.tag, c.with.digest]).toEqual([c.with.environment, 'build-7', DIGEST]);
    }
    expect(r.outputs).toMatchObject({ tag: 'build-7', digest: DIGEST, 'deployed-hosts': 'production-1.example.com' });
  });

  test("each deploy job uses its own environment's secrets, the build the repository's", () => {
    const [ci, staging, production] = r.calls;
    expect([ci.with['registry-username'], ci.with['registry-password']]).toEqual(['ci-user', 'ci-password']);
    expect([staging.with['ssh-private-key'], staging.with['ssh-known-hosts']]).toEqual(['staging-key', 'staging-hosts']);
    expect([production.with['ssh-private-key'], production.with['ssh-known-hosts']]).toEqual(['production-key', 'production-hosts']);
    expect(JSON.parse(staging.env.PALLET_APP_SECRETS)).toMatchObject({ SECRET_KEY: 'staging-secret-key' });
    expect(JSON.parse(production.env.PALLET_APP_SECRETS)).toMatchObject({ SECRET_KEY: 'production-secret-key' });
  });

  test('which secrets each job references: none in plan and test, the registry in ci, the deploy set in deploy, rollback and review, SSH only in review-destroy', () => {
    const registry = ['REGISTRY_PASSWORD', 'REGISTRY_USERNAME', 'registry-password', 'registry-username'];
    const deploy = ['*', 'DEPLOY_KNOWN_HOSTS', 'DEPLOY_SSH_KEY', ...registry, 'app-secrets', 'ssh-known-hosts', 'ssh-private-key'].sort();
    expect(Object.fromEntries(Object.values(r.jobs).map((j) => [j.id, j.secretsReferenced]))).toEqual({
      plan: [], test: [], ci: registry, deploy, rollback: deploy, review: deploy,
      'review-destroy': ['DEPLOY_KNOWN_HOSTS', 'DEPLOY_SSH_KEY', 'ssh-known-hosts', 'ssh-private-key'],
    });
  });

  test('one concurrency group per environment, the same the rollback job takes', () => {
    expect(r.jobs.deploy.legs.map((l) => l.concurrency)).toEqual(['pallet-deploy-acme/shop-.-staging', 'pallet-deploy-acme/shop-.-production']);
    const rollback = run('examples/workflows/staging-production.yml', dispatch({ environment: 'staging', tag: '' }), ENVIRONMENT_SECRETS);
    expect(rollback.jobs.rollback.legs[0].concurrency).toBe('pallet-deploy-acme/shop-.-staging');
    // The spelled-out examples use the same groups (app in the repository root).
    const spelled = loadWorkflow(REPO_ROOT, 'examples/workflows/deploy.yml').jobs as Record<string, { concurrency?: { group: string } }>;
    expect([spelled.staging.concurrency?.group, spelled.production.concurrency?.group]).toEqual([
      'pallet-deploy-${{ github.repository }}-.-staging', 'pallet-deploy-${{ github.repository }}-.-production',
    ]);
  });

  test('a failed staging deploy stops production: its job is cancelled, production untouched', () => {
    const failed = run('examples/workflows/staging-production.yml', PUSH_MAIN, ENVIRONMENT_SECRETS, { fail: ['deploy:staging'] });
    expect(started(failed)).toEqual(['plan success', 'ci success', 'deploy (staging) failure']);
    expect(failed.jobs.deploy.legs.map((l) => l.result)).toEqual(['failure', 'cancelled']);
    expect(calls(failed)).toEqual(['ci', 'deploy staging']);
  });

  test('production waits for the hand-over of a successful staging deploy, also if GitHub started it first', () => {
    const reversed = run('examples/workflows/staging-production.yml', PUSH_MAIN, ENVIRONMENT_SECRETS, { schedule: 'reverse' });
    expect(started(reversed)).toEqual(['plan success', 'ci success', 'deploy (production) failure']);
    const production = reversed.jobs.deploy.legs[1];
    expect(production.steps.find((s) => s.outcome === 'failure')?.label).toBe('Wait for staging to run this build');
    expect(calls(reversed)).toEqual(['ci']);
    expect(problems(reversed, PUSH_MAIN, { deployTo: ['staging', 'production'] })).toEqual([]);
  });

  test('three environments: each one hands over to the next', () => {
    const called = reusable();
    const r3 = runWorkflow(called, {
      event: PUSH_MAIN,
      inputs: { ...defaults(called), environments: 'qa, staging\nproduction' },
      secretsFor: (e) => ({ DEPLOY_SSH_KEY: `${e}-key`, DEPLOY_KNOWN_HOSTS: `${e}-hosts` }),
      action: pallet(),
    });
    expect(calls(r3)).toEqual(['ci', 'deploy qa', 'deploy staging', 'deploy production']);
    expect(r3.jobs.deploy.legs.map((l) => l.steps.filter((s) => s.uses?.startsWith('actions/download-artifact@') && s.ran).map((s) => s.with?.name))).toEqual([
      [], ['pallet-deployed-._pallet.yml-qa'], ['pallet-deployed-._pallet.yml-staging'],
    ]);
    expect(problems(r3, PUSH_MAIN, { deployTo: ['qa', 'staging', 'production'] })).toEqual([]);
  });

  test('from another organization `secrets: inherit` passes nothing: the deploy stops before any host, saying why', () => {
    const elsewhere = run('examples/workflows/staging-production.yml', PUSH_MAIN, { ...ENVIRONMENT_SECRETS, sameOrganization: false });
    expect(calls(elsewhere)).toEqual(['ci']);
    const step = elsewhere.jobs.deploy.legs[0].steps.find((s) => s.outcome === 'failure');
    expect(step?.label).toBe('Secrets in use');
    expect(step?.log).toContain("::error::ssh-private-key: none for staging. Set DEPLOY_SSH_KEY as a secret of the staging environment");
    expect(step?.log).toContain("only to a workflow of the caller's organization or enterprise");
    expect(elsewhere.jobs.deploy.legs.map((l) => l.result)).toEqual(['failure', 'cancelled']);
  });
});

describe('explicit mapping of the declared secrets (pallet.yml: one environment)', () => {
  test('push: plan, ci, one deploy in production, with the mapped repository secrets', () => {
    const r = run('examples/workflows/pallet.yml', PUSH_MAIN, REPOSITORY_SECRETS);
    expect(started(r)).toEqual(['plan success', 'ci success', 'deploy (production) success']);
    const deploy = r.calls[1];
    expect([deploy.environment, deploy.with['ssh-private-key'], deploy.with['ssh-known-hosts'], deploy.with.digest]).toEqual(['production', 'repository-key', 'repository-hosts', DIGEST]);
    expect(JSON.parse(deploy.env.PALLET_APP_SECRETS)).toMatchObject({ SECRET_KEY: 'repository-secret-key' });
    expect(problems(r, PUSH_MAIN, { deployTo: ['production'] })).toEqual([]);
  });

  test('a mapped secret wins over its conventional name; without app-secrets the whole secrets context is the app secrets', () => {
    const called = reusable();
    const r = runWorkflow(called, {
      event: PUSH_MAIN,
      inputs: defaults(called),
      secretsFor: () => ({ 'ssh-private-key': 'mapped-key', DEPLOY_SSH_KEY: 'named-key', DEPLOY_KNOWN_HOSTS: 'named-hosts', 'registry-password': 'mapped-password', REGISTRY_PASSWORD: 'named-password', github_token: GITHUB_TOKEN }),
      action: pallet(),
    });
    const deploy = r.calls.find((c) => c.command === 'deploy')!;
    expect([deploy.with['ssh-private-key'], deploy.with['ssh-known-hosts'], deploy.with['registry-password']]).toEqual(['mapped-key', 'named-hosts', 'mapped-password']);
    expect(JSON.parse(deploy.env.PALLET_APP_SECRETS)).toMatchObject({ DEPLOY_SSH_KEY: 'named-key', github_token: GITHUB_TOKEN });
    expect(r.jobs.deploy.legs[0].steps.find((s) => s.label === 'Secrets in use')?.log).toContain("ssh-private-key: the caller's mapping");
  });

  test('workflow_dispatch rolls back production', () => {
    const r = run('examples/workflows/pallet.yml', dispatch({ tag: 'build-5' }), REPOSITORY_SECRETS);
    expect(started(r)).toEqual(['plan success', 'rollback (production) success']);
    expect(r.calls[0].with).toMatchObject({ command: 'rollback', tag: 'build-5', environment: 'production', 'ssh-private-key': 'repository-key' });
    expect(problems(r, dispatch({}), { rollback: 'production' })).toEqual([]);
  });
});

describe('pull_request: build and test only, no secret referenced', () => {
  test('pull-request.yml: plan and test run, the caller passes no secret and no job that runs references one', () => {
    const result = runCaller(REPO_ROOT, 'examples/workflows/pull-request.yml', PULL_REQUEST, ENVIRONMENT_SECRETS, pallet());
    expect(result.secrets).toBe('none');
    const r = result.run!;
    expect(started(r)).toEqual(['plan success', 'test success']);
    expect(['ci', 'deploy', 'rollback'].map((j) => r.jobs[j].result)).toEqual(['skipped', 'skipped', 'skipped']);
    expect(calls(r)).toEqual(['test']);
    expect(problems(r, PULL_REQUEST)).toEqual([]);
  });

  test('the jobs a pull request can run reference no secret anywhere (not only in the steps that run)', () => {
    const jobs = reusable().jobs as Record<string, Obj>;
    expect([secretsReferenced(jobs.plan), secretsReferenced(jobs.test)]).toEqual([[], []]);
  });

  test('even with secrets: inherit, a pull request runs no job that references a secret', () => {
    const called = reusable();
    const r = runWorkflow(called, { event: PULL_REQUEST, inputs: { ...defaults(called), environments: 'staging production' }, secretsFor: () => ENVIRONMENT_SECRETS.repository, action: pallet() });
    expect(started(r)).toEqual(['plan success', 'test success']);
    expect(problems(r, PULL_REQUEST)).toEqual([]);
  });

  test('a pull request cannot ask for more: flow deploy (or rollback) fails the plan and nothing else starts', () => {
    const called = reusable();
    for (const flow of ['deploy', 'rollback']) {
      const r = runWorkflow(called, { event: PULL_REQUEST, inputs: { ...defaults(called), flow }, secretsFor: () => ENVIRONMENT_SECRETS.repository, action: pallet() });
      expect(started(r)).toEqual(['plan failure']);
      expect(r.started[0].steps[0].log).toContain(`::error::a pull_request run builds and tests only: flow '${flow}' is refused`);
      expect(r.calls).toEqual([]);
    }
  });

  test('the examples that run for pull requests: pull-request.yml passes no secret; review-apps.yml does (review: true), and a fork\'s pull request runs nothing that references one', () => {
    const dir = path.join(REPO_ROOT, 'examples/workflows');
    const examples = readdirSync(dir).filter((f) => f.endsWith('.yml')).map((f) => `examples/workflows/${f}`);
    const forPullRequests = examples.filter((f) => triggeredBy(loadWorkflow(REPO_ROOT, f), PULL_REQUEST));
    expect(forPullRequests).toEqual(['examples/workflows/pull-request.yml', 'examples/workflows/review-apps.yml']);
    // The one that runs for closed pull requests is the one that removes review apps.
    expect(examples.filter((f) => triggeredBy(loadWorkflow(REPO_ROOT, f), pullRequest('closed')))).toEqual(['examples/workflows/review-apps.yml']);
    const plain = loadWorkflow(REPO_ROOT, 'examples/workflows/pull-request.yml').jobs as Record<string, Obj>;
    expect([Object.values(plain).map((j) => j.secrets ?? null), secretsReferenced(plain)]).toEqual([[null], []]);
    const review = loadWorkflow(REPO_ROOT, 'examples/workflows/review-apps.yml').jobs as Record<string, Obj>;
    expect(Object.values(review).map((j) => [j.secrets, j.with])).toEqual([['inherit', { review: true }]]);
    for (const action of ['opened', 'synchronize', 'reopened', 'closed'] as const) {
      const event = pullRequest(action, { fork: true });
      const r = run('examples/workflows/review-apps.yml', event, ENVIRONMENT_SECRETS);
      expect([action, problems(r, event)]).toEqual([action, []]);
    }
  });
});

describe('workflow_dispatch: rollback of one environment', () => {
  test.each(['staging', 'production'])('staging-production.yml rolls back %s only, with its secrets', (environment) => {
    const event = dispatch({ environment, tag: '' });
    const r = run('examples/workflows/staging-production.yml', event, ENVIRONMENT_SECRETS);
    expect(started(r)).toEqual(['plan success', `rollback (${environment}) success`]);
    expect(['test', 'ci', 'deploy'].map((j) => r.jobs[j].result)).toEqual(['skipped', 'skipped', 'skipped']);
    expect(r.calls[0].with).toMatchObject({ command: 'rollback', environment, tag: '', 'ssh-private-key': `${environment}-key` });
    expect(problems(r, event, { rollback: environment })).toEqual([]);
  });
});

describe('a version tag: production only (release.yml)', () => {
  test('the tag builds, tests and pushes that version once and deploys it to production', () => {
    const r = run('examples/workflows/release.yml', TAG, ENVIRONMENT_SECRETS);
    expect(started(r)).toEqual(['plan success', 'ci success', 'deploy (production) success']);
    expect(r.calls[0].with).toMatchObject({ command: 'ci', tag: 'v1.2.3', 'build-args': 'APP_VERSION=v1.2.3' });
    expect(r.calls[1].with).toMatchObject({ command: 'deploy', tag: 'v1.2.3', digest: DIGEST, environment: 'production', 'ssh-private-key': 'production-key' });
    expect(problems(r, TAG, { deployTo: ['production'] })).toEqual([]);
  });

  test('which example runs for which push', () => {
    const runsFor = (event: GitEvent) => ['pallet.yml', 'staging-production.yml', 'release.yml', 'deploy.yml', 'pull-request.yml', 'review-apps.yml']
      .filter((f) => triggeredBy(loadWorkflow(REPO_ROOT, `examples/workflows/${f}`), event));
    expect(runsFor(TAG)).toEqual(['release.yml']);
    expect(runsFor(PUSH_MAIN)).toEqual(['pallet.yml', 'staging-production.yml', 'deploy.yml', 'review-apps.yml']);
    expect(runsFor(PUSH_BRANCH)).toEqual([]);
  });
});

describe('the steps spelled out (deploy.yml)', () => {
  test('ci, then staging, then production (needs), each in its environment with its secrets and ci\'s digest', () => {
    const workflow = loadWorkflow(REPO_ROOT, 'examples/workflows/deploy.yml');
    const world = ENVIRONMENT_SECRETS;
    const r = runWorkflow(workflow, { event: PUSH_MAIN, secretsFor: (e) => ({ ...world.repository, ...(e ? world.environments[e] : {}) }), action: pallet() });
    expect(started(r)).toEqual(['ci success', 'staging (staging) success', 'production (production) success']);
    expect(r.jobs.production.needs).toEqual(['ci', 'staging']);
    expect(r.calls.slice(1).map((c) => [c.environment, c.with.digest, c.with['ssh-private-key'], c.env.SECRET_KEY])).toEqual([
      ['staging', DIGEST, 'staging-key', 'staging-secret-key'],
      ['production', DIGEST, 'production-key', 'production-secret-key'],
    ]);
    expect(problems(r, PUSH_MAIN, { deployTo: ['staging', 'production'] })).toEqual([]);
    const failed = runWorkflow(workflow, { event: PUSH_MAIN, secretsFor: (e) => ({ ...world.repository, ...(e ? world.environments[e] : {}) }), action: pallet(['deploy:staging']) });
    expect(failed.jobs.production.result).toBe('skipped');
  });
});

describe('review apps (review-apps.yml: review: true, secrets: inherit)', () => {
  const review = (event: GitEvent, world: SecretWorld = REVIEW_SECRETS) => run('examples/workflows/review-apps.yml', event, world);
  /** The reusable workflow called directly, secrets as `secrets: inherit` gives them. */
  const direct = (event: GitEvent, inputs: Record<string, unknown>) => {
    const called = reusable();
    return runWorkflow(called, {
      event, inputs: { ...defaults(called), ...inputs }, action: pallet(),
      secretsFor: (e) => ({ ...REVIEW_SECRETS.repository, ...(e ? REVIEW_SECRETS.environments[e] ?? {} : {}), github_token: GITHUB_TOKEN }),
    });
  };

  describe.each(['opened', 'synchronize', 'reopened'] as const)('a pull request from a branch of the repository, %s', (action) => {
    const event = pullRequest(action);
    const r = review(event);

    test('plan, then review in environment review/pr-12: ci, then review-deploy of ci\'s digest with pull-request 12', () => {
      expect(started(r)).toEqual(['plan success', 'review (review/pr-12) success']);
      expect(['test', 'ci', 'deploy', 'rollback', 'review-destroy'].map((j) => r.jobs[j].result)).toEqual(['skipped', 'skipped', 'skipped', 'skipped', 'skipped']);
      expect(calls(r)).toEqual(['ci review/pr-12', 'review-deploy review/pr-12']);
      const [ci, deploy] = r.calls;
      expect(ci.with).toMatchObject({ command: 'ci', 'registry-username': 'ci-user', 'registry-password': 'ci-password' });
      expect(deploy.with).toMatchObject({ command: 'review-deploy', 'pull-request': '12', tag: 'build-7', digest: DIGEST, 'ssh-private-key': 'review-key', 'ssh-known-hosts': 'review-hosts', 'registry-password': 'ci-password' });
      expect(JSON.parse(deploy.env.PALLET_APP_SECRETS)).toMatchObject({ SECRET_KEY: 'repository-secret-key' });
      expect(problems(r, event, { review: 12 })).toEqual([]);
    });

    test('the environment\'s URL is the review app\'s address, also an output of the workflow', () => {
      expect(r.jobs.review.legs[0].environmentUrl).toBe('https://pr-12.review.example.com');
      expect(r.outputs).toMatchObject({ 'review-url': 'https://pr-12.review.example.com', tag: 'build-7', digest: DIGEST });
      expect(r.jobs.plan.outputs).toMatchObject({ flow: 'review', 'pull-request': '12' });
    });

    test('one concurrency group per app and pull request, cancelling the older run, shared with review-destroy', () => {
      expect([r.jobs.review.legs[0].concurrency, r.jobs.review.legs[0].cancelInProgress]).toEqual(['pallet-review-acme/shop-.-pr-12', true]);
      const destroy = review(pullRequest('closed'));
      expect(destroy.jobs['review-destroy'].legs[0].concurrency).toBe('pallet-review-acme/shop-.-pr-12');
      expect(review(pullRequest(action, { number: 13 })).jobs.review.legs[0].concurrency).toBe('pallet-review-acme/shop-.-pr-13');
    });
  });

  test('closed: review-destroy only, with pull-request 12, in no environment, the pull request\'s last commit checked out', () => {
    const event = pullRequest('closed');
    const r = review(event);
    expect(started(r)).toEqual(['plan success', 'review-destroy success']);
    expect(r.calls.map((c) => [c.command, c.environment, c.with['pull-request'], c.with['ssh-private-key'], c.with['ssh-known-hosts']])).toEqual([
      ['review-destroy', undefined, '12', 'review-key', 'review-hosts'],
    ]);
    expect(r.jobs['review-destroy'].legs[0].steps[0].with).toEqual({ ref: 'feed000000000000000000000000000000000feed' });
    expect(problems(r, event, { reviewDestroy: 12 })).toEqual([]);
  });

  test.each(['opened', 'synchronize', 'reopened'] as const)('a fork\'s pull request, %s: plan and test only, as without review', (action) => {
    const event = pullRequest(action, { fork: true });
    const r = review(event);
    expect(started(r)).toEqual(['plan success', 'test success']);
    expect(calls(r)).toEqual(['test']);
    expect(r.started.flatMap((l) => r.jobs[l.job].secretsReferenced)).toEqual([]);
    expect(problems(r, event)).toEqual([]);
  });

  test('a fork\'s pull request closed: plan only (it never had a review app), nothing that uses secrets', () => {
    const event = pullRequest('closed', { fork: true });
    const r = review(event);
    expect(started(r)).toEqual(['plan success']);
    expect(r.jobs.plan.outputs.flow).toBe('none');
    expect(r.calls).toEqual([]);
    expect(problems(r, event)).toEqual([]);
  });

  test('a Dependabot pull request (GitHub gives it no secrets): test, and nothing on close', () => {
    const opened = pullRequest('opened', { actor: 'dependabot[bot]' });
    expect(started(review(opened))).toEqual(['plan success', 'test success']);
    expect(problems(review(opened), opened)).toEqual([]);
    const closed = pullRequest('closed', { actor: 'dependabot[bot]' });
    expect(started(review(closed))).toEqual(['plan success']);
  });

  test('pull_request_target never gets a review app, from a fork or not', () => {
    for (const fork of [false, true]) {
      for (const action of ['opened', 'synchronize', 'closed'] as const) {
        const event = pullRequest(action, { fork, name: 'pull_request_target' });
        const r = direct(event, { review: true });
        expect([fork, action, started(r), calls(r)]).toEqual([fork, action, ['plan success', 'test success'], ['test']]);
        expect(problems(r, event)).toEqual([]);
      }
    }
  });

  test('without review: true a pull request stays test, whatever happens to it (pull-request.yml and the default)', () => {
    const plain = runCaller(REPO_ROOT, 'examples/workflows/pull-request.yml', pullRequest('opened'), REVIEW_SECRETS, pallet()).run!;
    expect(started(plain)).toEqual(['plan success', 'test success']);
    expect(problems(plain, pullRequest('opened'))).toEqual([]);
    for (const action of ['opened', 'synchronize', 'reopened', 'closed'] as const) {
      for (const fork of [false, true]) {
        const event = pullRequest(action, { fork });
        const r = direct(event, {});
        expect([action, fork, started(r), calls(r)]).toEqual([action, fork, ['plan success', 'test success'], ['test']]);
        expect(problems(r, event)).toEqual([]);
      }
    }
  });

  test('flow: test asks for tests only, also with review: true; flow deploy is still refused', () => {
    expect(started(direct(pullRequest('opened'), { review: true, flow: 'test' }))).toEqual(['plan success', 'test success']);
    const refused = direct(pullRequest('opened'), { review: true, flow: 'deploy' });
    expect(started(refused)).toEqual(['plan failure']);
    expect(refused.started[0].steps[0].log).toContain("::error::a pull_request run builds and tests only: flow 'deploy' is refused");
  });

  test('a push to main deploys production as usual: review: true changes nothing there', () => {
    const r = review(PUSH_MAIN);
    expect(started(r)).toEqual(['plan success', 'ci success', 'deploy (production) success']);
    expect(r.calls[1].with).toMatchObject({ command: 'deploy', environment: 'production', digest: DIGEST, 'ssh-private-key': 'production-key' });
    expect(problems(r, PUSH_MAIN, { deployTo: ['production'] })).toEqual([]);
  });

  test('without the SSH secrets the review job stops before it builds, saying where to set them', () => {
    const { DEPLOY_SSH_KEY: _key, ...withoutKey } = REVIEW_SECRETS.repository;
    const r = review(pullRequest('opened'), { ...REVIEW_SECRETS, repository: withoutKey });
    expect(started(r)).toEqual(['plan success', 'review (review/pr-12) failure']);
    expect(r.calls).toEqual([]);
    const step = r.jobs.review.legs[0].steps.find((s) => s.outcome === 'failure');
    expect(step?.label).toBe('Secrets in use');
    expect(step?.log).toContain('::error::ssh-private-key: none for review/pr-12. Set DEPLOY_SSH_KEY as a repository (or organization) secret');
    expect(step?.log).toContain('ssh-known-hosts: DEPLOY_KNOWN_HOSTS (secrets: inherit');
  });

  test('the plan reads the event only through env:, never interpolated into its script', () => {
    const plan = (reusable().jobs as Record<string, { steps: { run?: string; env?: Record<string, string> }[] }>).plan.steps[0];
    expect(plan.run).not.toContain('${{');
    expect(plan.env).toMatchObject({ PULL_REQUEST: '${{ github.event.pull_request.number }}', HEAD_REPOSITORY: '${{ github.event.pull_request.head.repo.full_name }}' });
  });
});

describe('the checks fail a workflow that breaks an invariant', () => {
  /** The reusable workflow with one textual change (which must apply). */
  const mutated = (from: string | RegExp, to: string): Obj => {
    const text = readFileSync(path.join(REPO_ROOT, '.github/workflows/pallet.yml'), 'utf8');
    const changed = text.replace(from, to);
    if (changed === text) throw new Error(`mutation does not apply: ${from}`);
    return YAML.parse(changed) as Obj;
  };
  const stagingThenProduction = (called: Obj, event: GitEvent, schedule?: 'reverse') =>
    run('examples/workflows/staging-production.yml', event, ENVIRONMENT_SECRETS, { called, schedule });

  test('a job of the pull-request flow that references a secret', () => {
    const called = mutated('          command: test\n', '          command: test\n          registry-password: ${{ secrets.REGISTRY_PASSWORD }}\n');
    const r = runWorkflow(called, { event: PULL_REQUEST, inputs: defaults(called), secretsFor: () => ENVIRONMENT_SECRETS.repository, action: pallet() });
    expect(problems(r, PULL_REQUEST)).toEqual(['pull_request: job test references secrets REGISTRY_PASSWORD']);
  });

  test('a plan that lets a pull request choose the deploy flow', () => {
    const called = mutated('case "$FLOW" in auto|test) FLOW=test ;;', 'case "$FLOW" in auto) FLOW=test ;; deploy) ;;');
    const r = runWorkflow(called, { event: PULL_REQUEST, inputs: { ...defaults(called), flow: 'deploy' }, secretsFor: () => ENVIRONMENT_SECRETS.repository, action: pallet() });
    expect(problems(r, PULL_REQUEST)).toEqual([
      expect.stringMatching(/^pull_request: job ci references secrets REGISTRY_PASSWORD/),
      expect.stringMatching(/^pull_request: job deploy references secrets \*, DEPLOY_KNOWN_HOSTS, DEPLOY_SSH_KEY/),
      'pull_request: pallet ci ran',
    ]);
  });

  test('a deploy job that lost its environment:', () => {
    const r = stagingThenProduction(mutated('    environment: ${{ matrix.environment }}\n', ''), PUSH_MAIN);
    // Outside its environment the job sees none of staging's secrets: it stops at "Secrets in use".
    expect(problems(r, PUSH_MAIN, { deployTo: ['staging', 'production'] })).toEqual([
      'job deploy reads deploy secrets in no GitHub environment',
    ]);
    // With the secrets mapped from the repository it would deploy, outside any environment.
    const mapped = runWorkflow(mutated('    environment: ${{ matrix.environment }}\n', ''), {
      event: PUSH_MAIN, inputs: { ...defaults(reusable()), environments: 'staging production' },
      secretsFor: () => ({ 'ssh-private-key': 'key', 'ssh-known-hosts': 'hosts' }), action: pallet(),
    });
    expect(problems(mapped, PUSH_MAIN, { deployTo: ['staging', 'production'] })).toEqual([
      'job deploy reads deploy secrets in no GitHub environment',
      'job deploy reads deploy secrets in no GitHub environment',
      'deploy of staging runs in no GitHub environment',
      'deploy of production runs in no GitHub environment',
    ]);
  });

  test('deploy jobs that may run side by side (no max-parallel: 1)', () => {
    const r = stagingThenProduction(mutated('      max-parallel: 1\n', ''), PUSH_MAIN);
    expect(problems(r, PUSH_MAIN, { deployTo: ['staging', 'production'] })).toEqual([
      'production may run before staging ends (job deploy: max-parallel unlimited, fail-fast true)',
    ]);
  });

  test('production deployed before staging: without the hand-over, a production job started first deploys', () => {
    const called = mutated(/      - name: Wait for [\s\S]*?(?=      - uses: actions\/checkout@)/, '');
    expect(problems(stagingThenProduction(called, PUSH_MAIN), PUSH_MAIN, { deployTo: ['staging', 'production'] })).toEqual([]);
    expect(problems(stagingThenProduction(called, PUSH_MAIN, 'reverse'), PUSH_MAIN, { deployTo: ['staging', 'production'] })).toEqual([
      'deployed to production before staging',
    ]);
  });

  test('a rollback that touches more than the environment asked for', () => {
    const called = mutated("    if: needs.plan.outputs.flow == 'deploy'\n", "    if: needs.plan.outputs.flow != 'test'\n");
    const event = dispatch({ environment: 'staging', tag: '' });
    expect(problems(stagingThenProduction(called, event), event, { rollback: 'staging' })).toEqual([
      'a rollback of staging ran ["ci","rollback staging"]',
    ]);
  });

  describe('review apps', () => {
    const fromFork = pullRequest('opened', { fork: true });

    test('a plan without the fork check: a fork\'s pull request deploys a review app with the secrets', () => {
      const called = mutated('[ "$HEAD_REPOSITORY" != "$REPOSITORY" ] || ', '');
      const r = runWorkflow(called, { event: fromFork, inputs: { ...defaults(called), review: true }, secretsFor: () => REVIEW_SECRETS.repository, action: pallet() });
      expect(problems(r, fromFork)).toEqual([
        expect.stringMatching(/^pull_request from a fork: job review references secrets \*, DEPLOY_KNOWN_HOSTS, DEPLOY_SSH_KEY/),
        'pull_request from a fork: pallet ci ran',
        'pull_request from a fork: pallet review-deploy ran',
        'review apps: expected [], ran ["review-deploy 12"]',
      ]);
    });

    test('a plan that gives pull_request_target a review app', () => {
      const called = mutated('if [ "$EVENT" = pull_request ] && ', 'if [ "$EVENT" != merge_group ] && ');
      const event = pullRequest('opened', { name: 'pull_request_target' });
      const r = runWorkflow(called, { event, inputs: { ...defaults(called), review: true }, secretsFor: () => REVIEW_SECRETS.repository, action: pallet() });
      expect(problems(r, event)).toEqual([
        expect.stringMatching(/^pull_request_target: job review references secrets \*/),
        'pull_request_target: pallet ci ran',
        'pull_request_target: pallet review-deploy ran',
        'review apps: expected [], ran ["review-deploy 12"]',
      ]);
    });

    test('a plan that ignores the review input', () => {
      const called = mutated('[ "$REVIEW" = true ] && ', '');
      const event = pullRequest('opened');
      const r = runWorkflow(called, { event, inputs: defaults(called), secretsFor: () => REVIEW_SECRETS.repository, action: pallet() });
      expect(problems(r, event)).toEqual(['review apps: expected [], ran ["review-deploy 12"]']);
    });

    test('a review job that lost its environment', () => {
      const called = mutated(/    environment:\n      name: review\/pr-[^\n]*\n      url: [^\n]*\n/, '');
      const event = pullRequest('opened');
      const r = runWorkflow(called, { event, inputs: { ...defaults(called), review: true }, secretsFor: () => REVIEW_SECRETS.repository, action: pallet() });
      expect(problems(r, event, { review: 12 })).toEqual([
        'job review reads deploy secrets in no GitHub environment',
        'review-deploy of pull request 12 runs in no GitHub environment',
      ]);
    });

    test('a review-destroy that enters review/pr-N (a new deployment of the app it removes)', () => {
      const called = mutated("    if: needs.plan.outputs.flow == 'review-destroy'\n", "    if: needs.plan.outputs.flow == 'review-destroy'\n    environment: review/pr-${{ needs.plan.outputs.pull-request }}\n");
      const event = pullRequest('closed');
      const r = runWorkflow(called, { event, inputs: { ...defaults(called), review: true }, secretsFor: () => REVIEW_SECRETS.repository, action: pallet() });
      expect(problems(r, event, { reviewDestroy: 12 })).toEqual([
        'review-destroy of pull request 12 runs in GitHub environment review/pr-12 (a new deployment of a removed app)',
      ]);
    });

    test('a review app deployed without ci\'s digest', () => {
      const called = mutated(/(command: review-deploy[\s\S]*?)          digest: \$\{\{ steps\.ci\.outputs\.digest \}\}\n/, '$1');
      const event = pullRequest('synchronize');
      const r = runWorkflow(called, { event, inputs: { ...defaults(called), review: true }, secretsFor: () => REVIEW_SECRETS.repository, action: pallet() });
      expect(problems(r, event, { review: 12 })).toEqual(["review/pr-12 was not given ci's digest: none"]);
    });

    test('a closed pull request that deploys instead of removing', () => {
      const called = mutated('opened|synchronize|reopened) FLOW=review ;;', 'opened|synchronize|reopened|closed) FLOW=review ;;');
      const event = pullRequest('closed');
      const r = runWorkflow(called, { event, inputs: { ...defaults(called), review: true }, secretsFor: () => REVIEW_SECRETS.repository, action: pallet() });
      expect(problems(r, event, { reviewDestroy: 12 })).toEqual([
        'review apps: expected ["review-destroy 12"], ran ["review-deploy 12"]',
        'review-destroy of pull request 12 ran ["ci","review-deploy"]',
      ]);
    });
  });
});

describe('actions/* in every workflow: majors that run on Node 24', () => {
  // The first majors declaring `runs.using: node24` (older ones declare node20 and are forced onto Node 24
  // with a deprecation notice): checkout v5, setup-node v5, upload-artifact v6, download-artifact v7.
  const FIRST_NODE24: Record<string, number> = { checkout: 5, 'setup-node': 5, 'upload-artifact': 6, 'download-artifact': 7 };
  const files = ['.github/workflows', 'examples/workflows'].flatMap((d) => readdirSync(path.join(REPO_ROOT, d)).filter((f) => f.endsWith('.yml')).map((f) => `${d}/${f}`));
  test.each(files)('%s', (file) => {
    const uses = [...readFileSync(path.join(REPO_ROOT, file), 'utf8').matchAll(/uses:\s*actions\/([\w-]+)@v(\d+)/g)];
    for (const [, name, major] of uses) {
      expect([name, name in FIRST_NODE24]).toEqual([name, true]);
      expect([name, Number(major) >= FIRST_NODE24[name]]).toEqual([name, true]);
    }
  });
});

/** The reusable workflow's inputs at their defaults. */
function defaults(called: Obj): Record<string, unknown> {
  const inputs = ((called.on as Obj).workflow_call as Obj).inputs as Record<string, { default?: unknown }>;
  return Object.fromEntries(Object.entries(inputs).map(([k, v]) => [k, v.default ?? '']));
}
