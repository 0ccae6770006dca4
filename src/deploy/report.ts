// Outputs and the job summary of a deploy or rollback.
import { formatBytes, formatDuration, reporter } from '../util/reporter.js';
import type { DeployReport } from './index.js';

export function deployOutputs(rep: DeployReport, tag: string | undefined): Record<string, string> {
  const previous = [...new Set(rep.hosts.map((h) => h.oldTag).filter(Boolean))];
  const targets = [...new Set(rep.hosts.map((h) => h.newTag).filter(Boolean))];
  const digests = [...new Set(rep.hosts.map((h) => h.digest ?? '').filter(Boolean))];
  return {
    tag: tag ?? (targets.length === 1 ? targets[0] : targets.join(',')),
    digest: digests.join(','),
    'previous-tag': previous.join(','),
    'deployed-hosts': rep.ok ? rep.hosts.map((h) => h.host).join(',') : '',
    reverted: String(rep.reverted),
    ...(rep.backup ? { backup: rep.backup.id } : {}),
  };
}

/** The first line a person reads when it failed: which host, which step, what happened next. */
export function failureMessage(rep: DeployReport): string {
  const where = rep.failedHost && rep.failedStep ? `${rep.failedStep} failed on ${rep.failedHost}` : `failed at ${rep.phase}`;
  const what = rep.error ?? 'unknown error';
  const after = rep.phase === 'rolling'
    ? ` — rolled back: ${rep.hosts.filter((h) => h.reverted).map((h) => h.host).join(', ') || 'no host had switched'}; every ${rep.revertProblems.length ? 'other ' : ''}host stays on its previous tag`
    : rep.phase === 'tasks' || rep.phase === 'pull' || rep.phase === 'record' ? ' — no host was restarted; every host still runs its previous tag' : '';
  const problems = rep.revertProblems.length ? `; revert problems: ${rep.revertProblems.join('; ')}` : '';
  return `${rep.mode} ${where}: ${what.startsWith(`${rep.failedStep} failed on`) ? what.split(': ').slice(1).join(': ') : what}${after}${problems}`;
}

export function writeDeploySummary(rep: DeployReport): void {
  const s = reporter().summary;
  s.heading(`${rep.mode === 'rollback' ? 'Rollback' : 'Deploy'} of ${rep.plan.app}${rep.environment ? ` to ${rep.environment}` : ''}: ${rep.ok ? 'succeeded' : 'FAILED'}`);
  if (!rep.ok) s.text(failureMessage(rep));
  if (rep.untested) s.text(`Deployed without a passing test record: ${rep.untested}.`);
  if (rep.backup) {
    s.table(['backup', 'host', 'size', 'took'], [[rep.backup.id, rep.backup.host, formatBytes(rep.backup.size), formatDuration(rep.backup.ms)]]);
  }
  s.table(
    ['host', 'roles', 'old tag', 'new tag', 'digest', 'pull', 'restart', 'health', 'reverted'],
    rep.hosts.map((h) => [
      h.host, h.roles.join('+'), h.oldTag || '(none)', h.newTag || '-', h.digest ? shortDigest(h.digest) : '-',
      h.pullMs === undefined ? '-' : formatDuration(h.pullMs),
      h.restartMs ? formatDuration(h.restartMs) : '-',
      h.lost ? `unreachable: ${h.lost}` : h.health, h.reverted ? 'yes' : 'no',
    ]),
  );
}

/** `sha256:` and the first 12 hex digits, as docker shortens image IDs. */
export function shortDigest(digest: string): string {
  return digest.slice(0, 'sha256:'.length + 12);
}
