// Outputs and the job summary of a Swarm deploy or rollback: one row per service.
import { formatDuration, reporter } from '../util/reporter.js';
import type { SwarmReport } from './types.js';

export function swarmOutputs(rep: SwarmReport, tag: string | undefined): Record<string, string> {
  return {
    tag: tag ?? rep.newTag,
    'previous-tag': rep.oldTag,
    // A swarm has no host list of its own: the manager the deploy went through.
    'deployed-hosts': rep.ok ? rep.plan.manager.label : '',
    reverted: String(rep.reverted),
  };
}

/** The first line a person reads when it failed: which service, which step, what happened next. */
export function swarmFailureMessage(rep: SwarmReport): string {
  const where = rep.failedService && rep.failedStep ? `${rep.failedStep} failed on ${rep.failedService}` : `failed at ${rep.phase}`;
  const what = (rep.error ?? 'unknown error').replace(/^.* failed on \S+: /, '');
  const after = rep.phase === 'rolling'
    ? ` — reverted=true: ${rep.services.filter((s) => s.result !== 'not started' && s.result !== 'unchanged').map((s) => `${s.service} ${s.result}`).join(', ') || 'no service had changed'}`
    : rep.phase === 'tasks' || rep.phase === 'pull' || rep.phase === 'record' ? ' — no service was touched; every service still runs its previous image' : '';
  const problems = rep.revertProblems.length ? `; revert problems: ${rep.revertProblems.join('; ')}` : '';
  return `${rep.mode} ${where}: ${what}${after}${problems}`;
}

export function writeSwarmSummary(rep: SwarmReport): void {
  const s = reporter().summary;
  s.heading(`${rep.mode === 'rollback' ? 'Rollback' : 'Deploy'} of ${rep.plan.app} to Docker Swarm (${rep.plan.manager.label}): ${rep.ok ? 'succeeded' : 'FAILED'}`);
  if (!rep.ok) s.text(swarmFailureMessage(rep));
  const image = (tag: string) => (tag ? `${rep.plan.image}:${tag}` : '(none)');
  s.table(
    ['service', 'old image', 'new image', 'tasks running/desired', 'time', 'result'],
    rep.services.map((x) => [x.service, image(x.oldTag), image(x.newTag), `${x.running}/${x.desired}`, x.ms ? formatDuration(x.ms) : '-', x.result]),
  );
  if (rep.notes.length) s.list(rep.notes);
}
