// Pure: `pallet lock status` and `pallet lock release`. The lock is the deploy lock of
// src/deploy/lock.ts (a lock/ directory with an owner line `run ID by ACTOR since TIME`).
// Release removes it only if the owner is still the one the operator was shown, so a deploy
// that took the lock in between is never broken by accident.
import { stateDir } from '../deploy/commands.js';

// A lock marked "retiring" is held by the host itself while it stops the previous containers
// after a deploy behind the proxy (see retireLaterArgv): a line RETIRING follows the owner.
const LOCK_STATUS = `d="$1"
if [ -d "$d/lock" ]; then printf 'HELD %s\\n' "$(cat "$d/lock/owner" 2>/dev/null)"; else echo FREE; fi
[ -f "$d/lock/retiring" ] && echo RETIRING
exit 0`;

export function lockStatusArgv(app: string): string[] {
  return ['sh', '-c', LOCK_STATUS, 'sh', stateDir(app)];
}

/** True when the lock is held by the host's retire of the previous containers (lockStatusArgv's RETIRING). */
export function lockRetiring(stdout: string): boolean {
  return /^RETIRING$/m.test(stdout);
}

/** undefined = free, else the owner line ('' when the owner file is missing). */
export function parseLockStatus(stdout: string): string | undefined {
  const held = /^HELD ?(.*)$/m.exec(stdout);
  if (held) return held[1].trim();
  if (/^FREE$/m.test(stdout)) return undefined;
  throw new Error(`unexpected lock status output: ${stdout.trim() || '(none)'}`);
}

const RELEASE_IF_OWNER = `d="$1"; want="$2"
[ -d "$d/lock" ] || { echo FREE; exit 0; }
have="$(cat "$d/lock/owner" 2>/dev/null)"
[ "$have" = "$want" ] || { printf 'CHANGED %s\\n' "$have"; exit 1; }
rm -rf "$d/lock" && echo RELEASED`;

/** Removes the lock only while its owner line is still `owner`. */
export function releaseIfOwnerArgv(app: string, owner: string): string[] {
  return ['sh', '-c', RELEASE_IF_OWNER, 'sh', stateDir(app), owner];
}

export type ReleaseOutcome = { kind: 'released' } | { kind: 'free' } | { kind: 'changed'; owner: string };

export function parseRelease(exitCode: number, stdout: string): ReleaseOutcome {
  if (exitCode === 0 && /^RELEASED$/m.test(stdout)) return { kind: 'released' };
  if (exitCode === 0 && /^FREE$/m.test(stdout)) return { kind: 'free' };
  const changed = /^CHANGED ?(.*)$/m.exec(stdout);
  if (exitCode === 1 && changed) return { kind: 'changed', owner: changed[1].trim() };
  throw new Error(`could not release the lock (exit ${exitCode}): ${stdout.trim() || 'no output'}`);
}

export interface LockOwner {
  runId: string;
  actor: string;
  since: string;
}

/** `run 77.1 by octo since 2026-...` (lockOwner in src/deploy/commands.ts) -> its parts. */
export function parseLockOwner(owner: string): LockOwner | undefined {
  const m = /^run (\S+) by (.*) since (\S+)$/.exec(owner.trim());
  return m ? { runId: m[1], actor: m[2], since: m[3] } : undefined;
}

/**
 * Whether `lock release` may remove this lock without --force: only a lock of the same run
 * (a re-run of the same GitHub Actions run, any attempt), or of a local run by the same user.
 * Anything else may be a deploy in progress.
 */
export function isOwnLock(owner: string, me: { runId: string; actor: string }): boolean {
  const o = parseLockOwner(owner);
  if (!o) return false;
  const runOf = (id: string) => id.replace(/\.\d+$/, '');
  if (!o.runId.startsWith('local-') && !me.runId.startsWith('local-')) return runOf(o.runId) === runOf(me.runId);
  return o.runId.startsWith('local-') && me.runId.startsWith('local-') && o.actor === me.actor;
}
