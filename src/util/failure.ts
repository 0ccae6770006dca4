import * as core from '@actions/core';
import { UserError } from '../errors.js';
import { engineUserError } from '../docker/engine-errors.js';
import { HostConnectionError } from '../ssh/connection.js';
import { VERSION } from '../version.js';
import { reporter } from './reporter.js';

/** What a defect report asks for: pallet's fault, so say where and with what to report it. */
export function bugReportHint(where: 'actions' | 'cli'): string {
  const debug = where === 'actions' ? 're-run the job with debug logging on (ACTIONS_STEP_DEBUG) for the stack trace' : 'include the stack trace printed below';
  return `this is a defect in pallet ${VERSION}, not in your project: please report it on the pallet-action issue tracker with this message, the command you ran and your pallet.yml (without secrets); ${debug}`;
}

/** A host that stopped answering over ssh is the network's or the host's doing, not a defect: say what to check. */
function lostHost(e: unknown): UserError | undefined {
  if (!(e instanceof HostConnectionError)) return undefined;
  return new UserError(e.message, `check that ${e.host} is up and reachable over ssh, then look at it with 'pallet status'; a deploy lock left there is released by the post step, or with 'pallet lock release'`);
}

/**
 * Reports a failure the way a person can act on: the message and the hint. Engine errors a user
 * can cause (docker/engine-errors.ts) are reported like any UserError; anything else is a defect
 * in pallet: "unexpected error", how to report it, and the stack (debug log in Actions).
 */
export function reportFailure(e: unknown): void {
  const r = reporter();
  const known = engineUserError(e) ?? lostHost(e);
  const err = e instanceof Error ? e : new Error(String(e));
  const text = known
    ? (known.hint ? `${known.message}\n  hint: ${known.hint}` : known.message)
    : `unexpected error: ${err.message}\n  ${bugReportHint(r.kind)}`;
  if (!(e instanceof UserError)) r.debug(err.stack ?? '');
  if (r.kind === 'actions') {
    core.setFailed(text); // one error annotation, and the step fails
  } else {
    r.error(text);
    if (!known) process.stderr.write((err.stack ?? '') + '\n');
  }
}
