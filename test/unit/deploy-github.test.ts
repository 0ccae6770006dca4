import { startDeployment } from '../../src/github/deployment.js';
import { startFakeGitHubApi, type FakeGitHubApi } from '../helpers/github-api.js';
import { CliReporter, setReporter } from '../../src/util/reporter.js';
import { deployOutputs, failureMessage } from '../../src/deploy/report.js';
import type { DeployReport } from '../../src/deploy/index.js';

describe('GitHub deployment (local API stand-in)', () => {
  let api: FakeGitHubApi;
  let warnings: string[];
  beforeEach(async () => {
    api = await startFakeGitHubApi();
    warnings = [];
    setReporter(new CliReporter(() => undefined, (l) => warnings.push(l)));
  });
  afterEach(() => api.close());
  const env = () => ({ GITHUB_REPOSITORY: 'acme/shop', GITHUB_SHA: 'deadbeef', GITHUB_API_URL: api.url, GITHUB_RUN_ID: '5', GITHUB_SERVER_URL: 'https://github.example' });

  test('creates the deployment, then in_progress and success statuses with the environment URL', async () => {
    const t = await startDeployment({ env: env(), token: 'tok', environment: 'production', url: 'https://shop.example/', tag: 'build-9', description: 'deploy shop build-9' });
    await t.status('success', 'done');
    expect(api.calls.map((c) => `${c.method} ${c.path}`)).toEqual([
      'POST /repos/acme/shop/deployments',
      `POST /repos/acme/shop/deployments/${t.id}/statuses`,
      `POST /repos/acme/shop/deployments/${t.id}/statuses`,
    ]);
    expect(api.calls[0].body).toMatchObject({ ref: 'deadbeef', environment: 'production', auto_merge: false, required_contexts: [], payload: { tag: 'build-9' } });
    expect(api.calls[2].body).toMatchObject({ state: 'success', environment_url: 'https://shop.example/', log_url: 'https://github.example/acme/shop/actions/runs/5' });
    expect(api.calls[0].authorization).toBe('token tok');
  });

  test('API failures are warnings, never errors', async () => {
    api.failWith = 500;
    const t = await startDeployment({ env: env(), token: 'tok', environment: 'production', tag: 't', description: 'd' });
    await t.status('failure', 'x');
    expect(warnings.join('\n')).toMatch(/GitHub deployment not recorded/);
  });

  test('does nothing without a repository or token', async () => {
    await (await startDeployment({ env: { GITHUB_API_URL: api.url }, token: 'tok', environment: 'p', tag: 't', description: 'd' })).status('success', 'x');
    await (await startDeployment({ env: { ...env(), GITHUB_TOKEN: '' }, environment: 'p', tag: 't', description: 'd' })).status('success', 'x');
    expect(api.calls).toEqual([]);
  });
});

describe('deploy outputs and failure message', () => {
  const base = (over: Partial<DeployReport>): DeployReport => ({
    ok: false, mode: 'deploy', phase: 'rolling', reverted: true, revertProblems: [],
    plan: { app: 'shop', image: 'i', hosts: [], taskHost: 'a', tasks: [], roles: [], keep: 5, cron: [] },
    hosts: [
      { host: 'a', roles: ['web'], oldTag: 'build-1', newTag: 'build-2', restartMs: 1, health: 'web: ok', reverted: true },
      { host: 'b', roles: ['web'], oldTag: 'build-1', newTag: 'build-2', restartMs: 0, health: 'web: candidate FAILED', reverted: false },
    ],
    failedHost: 'b', failedStep: 'health (web)', error: 'health (web) failed on b: new version never served: no HTTP 200',
    ...over,
  });
  test('outputs', () => {
    expect(deployOutputs(base({}), 'build-2')).toEqual({ tag: 'build-2', digest: '', 'previous-tag': 'build-1', 'deployed-hosts': '', reverted: 'true' });
    expect(deployOutputs(base({ ok: true, reverted: false }), 'build-2')['deployed-hosts']).toBe('a,b');
  });
  test('message names the host, the step and what was undone', () => {
    expect(failureMessage(base({}))).toBe('deploy health (web) failed on b: new version never served: no HTTP 200 — rolled back: a; every host stays on its previous tag');
    expect(failureMessage(base({ phase: 'tasks', failedHost: 'a', failedStep: "task 'deploy'", error: "task 'deploy' failed on a: exit 1", reverted: false })))
      .toBe("deploy task 'deploy' failed on a: exit 1 — no host was restarted; every host still runs its previous tag");
  });
});
