// The GitHub side of review apps: which pull requests are closed (their review apps are stale)
// and marking a destroyed review app's deployments inactive. Optional, like deployment.ts: without
// a repository or token it does nothing, and API failures are warnings.
// REST: GET /repos/{owner}/{repo}/pulls/{n}; GET /repos/{owner}/{repo}/deployments?environment=;
// POST /repos/{owner}/{repo}/deployments/{id}/statuses {state: inactive}.
import { getOctokit } from '@actions/github';
import { errorMessage } from '../errors.js';
import { reporter } from '../util/reporter.js';

function client(env: NodeJS.ProcessEnv, token?: string): { octokit: ReturnType<typeof getOctokit>; owner: string; repo: string } | undefined {
  const full = env.GITHUB_REPOSITORY;
  const t = token || env.GITHUB_TOKEN;
  if (!full || !t) return undefined;
  const [owner, repo] = full.split('/');
  return { octokit: getOctokit(t, { baseUrl: env.GITHUB_API_URL || 'https://api.github.com' }), owner, repo };
}

/** The pull requests among `numbers` that GitHub says are closed (merged or not). Empty without a token; a failed lookup is a warning and counts as open. */
export async function closedPullRequests(env: NodeJS.ProcessEnv, token: string | undefined, numbers: number[]): Promise<Set<number>> {
  const c = client(env, token);
  const closed = new Set<number>();
  if (!c) return closed;
  await Promise.all(numbers.map(async (n) => {
    try {
      const res = await c.octokit.rest.pulls.get({ owner: c.owner, repo: c.repo, pull_number: n });
      if ((res.data as { state?: string }).state === 'closed') closed.add(n);
    } catch (e) {
      reporter().warning(`could not ask GitHub whether pull request #${n} is closed: ${errorMessage(e)}`);
    }
  }));
  return closed;
}

/** Marks every deployment of GitHub environment `environment` inactive (the pull request page then shows it so); returns how many. */
export async function deactivateDeployments(env: NodeJS.ProcessEnv, token: string | undefined, environment: string): Promise<number> {
  const c = client(env, token);
  if (!c) return 0;
  try {
    const res = await c.octokit.rest.repos.listDeployments({ owner: c.owner, repo: c.repo, environment, per_page: 100 });
    const ids = (res.data as { id: number }[]).map((d) => d.id);
    for (const id of ids) {
      await c.octokit.rest.repos.createDeploymentStatus({ owner: c.owner, repo: c.repo, deployment_id: id, state: 'inactive', description: 'review app removed' });
    }
    return ids.length;
  } catch (e) {
    reporter().warning(`GitHub deployments of ${environment} not marked inactive: ${errorMessage(e)}`);
    return 0;
  }
}
