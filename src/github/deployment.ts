// GitHub deployment and its statuses, so the environment page shows what runs where. Entirely
// optional: without a repository or token it does nothing, and API failures are warnings.
import { getOctokit } from '@actions/github';
import { errorMessage } from '../errors.js';
import { reporter } from '../util/reporter.js';

export interface DeploymentRequest {
  env: NodeJS.ProcessEnv;
  token?: string;
  environment: string;
  /** environment_url on the statuses (deploy.url in the config). */
  url?: string;
  tag: string;
  description: string;
}

export type DeploymentState = 'in_progress' | 'success' | 'failure' | 'error';

export interface DeploymentTracker {
  id?: number;
  status(state: DeploymentState, description: string): Promise<void>;
}

const NOOP: DeploymentTracker = { status: async () => undefined };

export async function startDeployment(req: DeploymentRequest): Promise<DeploymentTracker> {
  const repo = req.env.GITHUB_REPOSITORY;
  const token = req.token || req.env.GITHUB_TOKEN;
  const ref = req.env.GITHUB_SHA || req.env.GITHUB_REF_NAME;
  if (!repo || !token || !ref) return NOOP;
  const [owner, name] = repo.split('/');
  const octokit = getOctokit(token, { baseUrl: req.env.GITHUB_API_URL || 'https://api.github.com' });
  const logUrl = req.env.GITHUB_RUN_ID ? `${req.env.GITHUB_SERVER_URL || 'https://github.com'}/${repo}/actions/runs/${req.env.GITHUB_RUN_ID}` : undefined;
  let id: number;
  try {
    const res = await octokit.rest.repos.createDeployment({
      owner, repo: name, ref, environment: req.environment, auto_merge: false, required_contexts: [],
      description: req.description.slice(0, 140), payload: { tag: req.tag }, production_environment: req.environment === 'production',
    });
    id = (res.data as { id?: number }).id as number;
    if (!id) throw new Error(`no deployment id in the answer (HTTP ${res.status})`);
  } catch (e) {
    reporter().warning(`GitHub deployment not recorded: ${errorMessage(e)}`);
    return NOOP;
  }
  const tracker: DeploymentTracker = {
    id,
    async status(state, description) {
      try {
        await octokit.rest.repos.createDeploymentStatus({
          owner, repo: name, deployment_id: id, state, description: description.slice(0, 140),
          ...(req.url ? { environment_url: req.url } : {}), ...(logUrl ? { log_url: logUrl } : {}), auto_inactive: true,
        });
      } catch (e) {
        reporter().warning(`GitHub deployment status '${state}' not recorded: ${errorMessage(e)}`);
      }
    },
  };
  await tracker.status('in_progress', `${req.description} started`);
  return tracker;
}
