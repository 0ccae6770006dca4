// The one rollout engine: the order of the phases of a deploy or rollback, what a failure at each
// point means, when the rollout is undone, and that the hosts are finished and let go whatever
// happened. It is the same for every target; what differs (SSH hosts with a published port or
// behind the proxy, a Docker Swarm) is a driver (src/deploy/driver.ts, src/swarm/driver.ts).
import { errorMessage } from '../errors.js';
import { reporter } from '../util/reporter.js';
import { StepError } from '../deploy/types.js';
import type { Target } from './capabilities.js';

/** Where a deploy stopped (`done` = it went through). `proxy` is the proxy-preparing part of `pull`. */
export type Phase = 'preflight' | 'pull' | 'proxy' | 'record' | 'tasks' | 'rolling' | 'finish' | 'done';

/** What every target reports of a run; the drivers' reports add their per-host or per-service rows. */
export interface RolloutOutcome {
  ok: boolean;
  phase: Phase;
  error?: string;
  /** The host (or Swarm service, or `manager`) and the step that failed, when known. */
  failedAt?: string;
  failedStep?: string;
  /** The rollout was undone (a failure while rolling). */
  reverted: boolean;
  revertProblems: string[];
}

/**
 * A deploy target: the phases the engine runs, in order. Each throws to fail its phase: a
 * StepError names the host (or service) and the step; a UserError in `preflight` or
 * `chooseTargets` means nothing was changed and is thrown on to the caller.
 */
export interface RolloutDriver {
  readonly target: Target;
  /** Connect, check the hosts, read their state, take the deploy lock. */
  preflight(): Promise<void>;
  /** Which release each host goes to (deploy: the tag; rollback: the named one or each host's REVERT). */
  chooseTargets(): void;
  /** Title of the prepare group, e.g. `Pulling IMAGE:TAG`. */
  prepareTitle(): string;
  /** Get the release onto the hosts (and whatever else must be ready before a change). May set outcome.phase (`proxy`). */
  prepare(outcome: RolloutOutcome): Promise<void>;
  /** Keep what runs now as the revert target. */
  record(): Promise<void>;
  /** Release tasks (migrations) once; undefined: this run has none. */
  tasksTitle(): string | undefined;
  tasks(): Promise<void>;
  /** Roll every role to the release; `cancelled()` throws when the run was cancelled. */
  roll(cancelled: () => void): Promise<void>;
  /** What a revert would touch now (named in the warning), empty: nothing changed yet. */
  touched(): string[];
  /** Undo the rollout; returns what could not be undone. */
  revert(): Promise<string[]>;
  /** Write TAG/REVERT and the audit line (`result` as written there), prune; also after failures. */
  finish(outcome: RolloutOutcome, result: string): Promise<void>;
  /** Give back locks and credentials and close connections (best effort; the ledger retries). */
  release(): Promise<void>;
}

/**
 * Runs the phases of `d` and returns the outcome. Throws only when nothing was changed
 * (preflight or the choice of targets failed): the caller reports that as a refusal.
 */
export async function runRollout(d: RolloutDriver, signal: AbortSignal, outcome: RolloutOutcome): Promise<RolloutOutcome> {
  const r = reporter();
  const cancelled = () => { if (signal.aborted) throw new StepError('-', 'cancelled', errorMessage(signal.reason ?? 'cancelled')); };
  const note = (e: unknown) => {
    outcome.error = errorMessage(e);
    if (e instanceof StepError) { outcome.failedAt = e.host; outcome.failedStep = e.step; }
  };
  try {
    await d.preflight();
    d.chooseTargets();
    try {
      cancelled();
      outcome.phase = 'pull';
      await r.group(d.prepareTitle(), () => d.prepare(outcome));
      cancelled();
      outcome.phase = 'record';
      await d.record();
      const tasks = d.tasksTitle();
      if (tasks) {
        outcome.phase = 'tasks';
        await r.group(tasks, () => d.tasks());
      }
      outcome.phase = 'rolling';
      await d.roll(cancelled);
      outcome.phase = 'finish';
      outcome.ok = true;
    } catch (e) {
      note(e);
      if (outcome.phase === 'rolling') {
        // The rollout is undone: what switched goes back; the rest never changed.
        outcome.reverted = true;
        const touched = d.touched();
        r.warning(`${outcome.error}: ${touched.length ? `reverting ${touched.join(', ')}` : 'nothing had switched yet'}`);
        if (touched.length) outcome.revertProblems.push(...(await r.group('Reverting', () => d.revert())));
        for (const p of outcome.revertProblems) r.error(`revert: ${p}`);
      }
    }
    const result = outcome.ok ? 'success' : `failed at ${outcome.phase}`;
    await r.group('Finishing', () => d.finish(outcome, result));
    if (outcome.ok) outcome.phase = 'done';
  } catch (e) {
    if (!outcome.error) note(e);
    if (outcome.phase === 'preflight') throw e; // nothing changed; the error says why
  } finally {
    await d.release();
  }
  return outcome;
}
