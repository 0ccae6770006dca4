// The pull request a GitHub Actions run is about, read from its event payload (GITHUB_EVENT_PATH,
// the webhook's JSON: docs.github.com/en/webhooks/webhook-events-and-payloads#pull_request), and
// the rule that keeps forks out: code from another repository never gets a review deploy (its
// image would run with this repository's secrets on our hosts).
import { readFileSync } from 'node:fs';
import { UserError } from '../errors.js';

/** What a pull_request (or pull_request_target) event says about its pull request. */
export interface PullRequestEvent {
  event: string;
  number: number;
  /** opened, synchronize, reopened, closed, ... */
  action: string;
  /** owner/name of the head branch's repository ('' when that repository was deleted). */
  headRepository: string;
  /** owner/name of the repository the pull request is to. */
  baseRepository: string;
}

type Obj = Record<string, unknown>;
const obj = (v: unknown): Obj => (typeof v === 'object' && v !== null ? (v as Obj) : {});

/** The run's pull request event, or undefined outside one (push, workflow_dispatch, the CLI). Throws when the payload cannot be read. */
export function pullRequestEvent(env: NodeJS.ProcessEnv, read: (file: string) => string = (f) => readFileSync(f, 'utf8')): PullRequestEvent | undefined {
  const event = env.GITHUB_EVENT_NAME ?? '';
  if (!event.startsWith('pull_request') || !env.GITHUB_EVENT_PATH) return undefined;
  let payload: Obj;
  try {
    payload = obj(JSON.parse(read(env.GITHUB_EVENT_PATH)));
  } catch (e) {
    throw new UserError(`cannot read the ${event} event payload (GITHUB_EVENT_PATH): ${(e as Error).message}`);
  }
  const pr = obj(payload.pull_request);
  return {
    event, number: Number(pr.number ?? payload.number), action: String(payload.action ?? ''),
    headRepository: String(obj(obj(pr.head).repo).full_name ?? ''), baseRepository: String(obj(obj(pr.base).repo).full_name ?? env.GITHUB_REPOSITORY ?? ''),
  };
}

/**
 * Refuses a review deploy for a pull request from another repository (a fork, or one whose head
 * repository is gone): throws a UserError before anything is contacted. Same-repository pull
 * requests and runs outside a pull request event pass.
 */
export function refuseForkDeploy(e: PullRequestEvent | undefined): void {
  if (!e) return;
  if (e.headRepository && e.headRepository === e.baseRepository) return;
  throw new UserError(`review deploy refused: pull request #${e.number} comes from ${e.headRepository ? `the fork ${e.headRepository}` : 'a repository that no longer exists'}, not ${e.baseRepository}; code from a fork never runs on the review hosts with this repository's secrets`,
    'the pull request is still built and tested (command test); to preview it, push its branch to this repository and open the pull request from there');
}
