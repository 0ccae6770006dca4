// The state one Swarm deploy (or rollback) carries from step to step, and what it reports.
import type { HostConnection } from '../ssh/connection.js';
import type { CleanupLedger } from '../util/cleanup.js';
import { StepError, type DeployMode } from '../deploy/types.js';
import type { HeldLock } from '../deploy/lock.js';
import type { HostState } from '../deploy/commands.js';
import type { SwarmPlan } from './plan.js';
import type { ServiceInfo } from './commands.js';
import type { Phase } from '../engine/rollout.js';

/** Hooks for tests (fault injection while Swarm updates a service). Never set in production. */
export interface SwarmHooks {
  afterServiceDeploy?: (info: { service: string; tag: string }) => Promise<void>;
}

export interface SwarmRun {
  plan: SwarmPlan;
  mode: DeployMode;
  conn: HostConnection;
  ledger: CleanupLedger;
  runId: string;
  actor: string;
  signal: AbortSignal;
  hooks: SwarmHooks;
  /** TAG and REVERT kept on the manager (/var/lib/pallet/APP). */
  before: HostState;
  target: string;
  /** deploy: the manifest digest of the target tag, resolved once; services and jobs run `image:tag@digest`. */
  digest?: string;
  /** deploy: why a digest without a passing test record is deployed anyway (audit log). */
  untested?: string;
  /** Each service as found in preflight (undefined: not created yet). */
  found: Map<string, ServiceInfo | undefined>;
  lock?: HeldLock;
  recorded: boolean;
  /** Per-deploy DOCKER_CONFIG directory on the manager holding the registry login. */
  dockerConfig?: string;
  /** Eligible (ready, active) nodes: the task count of global services. */
  nodes: number;
  downNodes: string[];
}

export interface SwarmServiceResult {
  service: string;
  role: string;
  /** Tag before the deploy ('' = the service did not exist). */
  oldTag: string;
  newTag: string;
  running: number;
  desired: number;
  /** updated | unchanged | rolled back by Swarm | reverted | removed | not started | ... */
  result: string;
  /** Nodes whose task is not on the expected tag (half-done work, named in the summary). */
  behind: string[];
  ms: number;
}

/** Where a Swarm deploy stopped: the engine's phases. */
export type SwarmPhase = Phase;

export interface SwarmReport {
  target: 'swarm';
  ok: boolean;
  mode: DeployMode;
  plan: SwarmPlan;
  phase: SwarmPhase;
  error?: string;
  failedStep?: string;
  /** The service the failure happened on (or 'manager'). */
  failedService?: string;
  reverted: boolean;
  revertProblems: string[];
  oldTag: string;
  newTag: string;
  services: SwarmServiceResult[];
  /** Anything a person should look at: nodes down, tasks not on the expected tag. */
  notes: string[];
}

/** A failure at a known service (or the manager) and step; `host` names the service. */
export class SwarmStepError extends StepError {
  constructor(where: string, step: string, detail: string, readonly rolledBackBySwarm = false) {
    super(where, step, detail);
    this.name = 'SwarmStepError';
  }

  get where(): string { return this.host; }
}
