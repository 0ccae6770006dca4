import * as core from '@actions/core';
import { UserError } from '../errors.js';
import { reporter } from './reporter.js';

/** Reports a failure the way a person can act on: the message and the hint, a stack only for bugs. */
export function reportFailure(e: unknown): void {
  const r = reporter();
  const err = e instanceof Error ? e : new Error(String(e));
  const text = e instanceof UserError
    ? (e.hint ? `${e.message}\n  hint: ${e.hint}` : e.message)
    : `unexpected error: ${err.message}`;
  if (!(e instanceof UserError)) r.debug(err.stack ?? '');
  if (r.kind === 'actions') {
    core.setFailed(text); // one error annotation, and the step fails
  } else {
    r.error(text);
    if (!(e instanceof UserError)) process.stderr.write((err.stack ?? '') + '\n');
  }
}
