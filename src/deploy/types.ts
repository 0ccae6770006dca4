// The state one deploy (or rollback) carries from step to step.
import type { HostConnection } from '../ssh/connection.js';
import type { CleanupLedger } from '../util/cleanup.js';
import type { DeployPlan } from './plan.js';
import type { HostState } from './commands.js';
import type { HeldLock } from './lock.js';

export type DeployMode = 'deploy' | 'rollback';

export interface HostRecord {
  label: string;
  conn: HostConnection;
  /** TAG and REVERT as found in preflight. */
  before: HostState;
  /** Tag this host should run at the end (the new tag, or its rollback target). */
  target: string;
  roles: string[];
  lock?: HeldLock;
  /** REVERT file was rewritten in the record step (restore on failure). */
  recorded: boolean;
  pullMs?: number;
  /** The manifest digest this host runs at the end (`sha256:...`), when known. */
  digest?: string;
  /**
   * The app repository's image tags on the host (listTagsArgv's output), read right after the
   * pull so that finishing does not wait for it; an Error if that failed.
   */
  tagListing?: Promise<string | Error>;
  /** false: the host has no deploy.env_file (allowed with deploy.env); its containers get none. */
  hostEnvFile?: boolean;
  /** Release tags that have a deploy.env file on this host (of the target and the previous tag). */
  releaseEnv?: Set<string>;
  /** deploy.proxy.static: the target release's files were placed on this host (and whether they were there before). */
  staticPlaced?: { tag: string; existed: boolean };
  restartMs: number;
  health: string[];
  reverted: boolean;
  /** Set when this host could not be reached any more. */
  lost?: string;
}

/** Hooks for tests (fault injection at known points of a deploy). Never set in production. */
export interface DeployHooks {
  /** After each rolling batch of a role, before the next one starts. */
  afterBatch?: (info: { role: string; batch: string[]; index: number }) => Promise<void>;
  /** On each host and role, after its new container started and before its health wait (every target of SSH hosts). */
  beforeHealth?: (info: { host: string; role: string }) => Promise<void>;
  /** On each host, right before its pull command starts (the other hosts may be pulling already). */
  beforePull?: (host: string) => Promise<void>;
}

export interface DeployRun {
  plan: DeployPlan;
  mode: DeployMode;
  hosts: Map<string, HostRecord>;
  ledger: CleanupLedger;
  runId: string;
  actor: string;
  signal: AbortSignal;
  hooks: DeployHooks;
  /** (host, role) pairs restarted so far, in order: what a revert must undo. */
  touched: { host: string; role: string }[];
  /** Roles behind the proxy: what each (host, role) switch did, keyed by proxySwitchKey. */
  proxySwitches?: Map<string, ProxySwitch>;
  /** Proxy mode, first deploy with tls auto on several hosts: the (host, role) keys given challenge-only routes (prepareProxies). */
  challengeRoutes?: Set<string>;
  /** How messages name inputs: `input 'tag'` (the action) or `--tag` (the CLI). */
  where?: 'input' | 'flag';
  /** deploy: the manifest digest every host pulls (resolved once from the tag, or given). */
  digest?: string;
  /** deploy: deployed without a passing test record (allow-untested or require_tested: false); said in the audit line. */
  untested?: string;
  /** The rendered deploy.env file (holds secret values: only ever sent on stdin); unset without deploy.env. */
  appEnv?: string;
  /** deploy.backup: the dump taken before the release tasks. */
  backup?: { host: string; id: string; size: number; ms: number };
  /** deploy.maintenance.during_tasks put the page up (each host's switch takes it down; a failure, finish). */
  maintenanceOn?: boolean;
}

/** One (host, role) switch behind the proxy: enough to switch back, or to retire the old containers. */
export interface ProxySwitch {
  /** Container the route pointed at before this deploy ('' = no route yet). */
  previous: string;
  /** Every container of the role found before the switch: stopped once the whole rollout is done. */
  old: string[];
  /** Containers this deploy started (the last one is the live candidate). */
  started: string[];
  /** The route points at the last started container. */
  switched: boolean;
}

export function proxySwitchKey(host: string, role: string): string {
  return `${host}\t${role}`;
}

/** A failure at a known host and step: the message a person reads first. */
export class StepError extends Error {
  constructor(readonly host: string, readonly step: string, readonly detail: string) {
    super(`${step} failed on ${host}: ${detail}`);
    this.name = 'StepError';
  }
}

export function hostRecord(run: DeployRun, label: string): HostRecord {
  const h = run.hosts.get(label);
  if (!h) throw new Error(`unknown host ${label}`);
  return h;
}
