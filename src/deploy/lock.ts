// The app's deploy lock on a host: atomic `mkdir`, an owner line saying who holds it since
// when, released only with the token that took it. Recorded in the ledger before it is taken
// so a cancelled job still releases it (post step, fresh connection).
import { randomBytes } from 'node:crypto';
import { UserError, errorMessage } from '../errors.js';
import { failures, forEachHost } from './parallel.js';
import { reporter } from '../util/reporter.js';
import type { CleanupLedger, CleanupItem } from '../util/cleanup.js';
import type { HostConnection } from '../ssh/connection.js';
import { acquireLockArgv, lockOwner, parseLockAttempt, releaseLockArgv } from './commands.js';

export interface LockOptions {
  app: string;
  runId: string;
  actor: string;
  /** Seconds to wait for another deploy's lock (0 = fail at once). */
  timeout: number;
  breakStale: boolean;
  signal: AbortSignal;
  /** Seconds to wait for the previous deploy's containers to stop (see retireLaterArgv); 0 = do not wait. */
  retireWait?: number;
  pollSeconds?: number;
}

export interface HeldLock {
  token: string;
  item: CleanupItem;
  /** The app's state read under the lock, as it was when it was taken (parseState's input). */
  state: string;
}

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => { clearTimeout(t); resolve(); }, { once: true });
  });

export async function acquireLock(conn: HostConnection, ledger: CleanupLedger, o: LockOptions): Promise<HeldLock> {
  const token = randomBytes(12).toString('hex');
  const item: CleanupItem = { kind: 'deploy-lock', host: conn.name, app: o.app, token, sshArgs: conn.directPrefix() };
  const owner = lockOwner(o.runId, o.actor, new Date());
  const poll = (o.pollSeconds ?? 2) * 1000;
  const deadline = Date.now() + o.timeout * 1000;
  const maxAttempts = Math.ceil((o.timeout * 1000) / poll) + 2;
  let breakStale = o.breakStale;
  let holder = '';
  for (let attempt = 1; attempt <= maxAttempts; attempt++) {
    ledger.add(item);
    const r = await conn.run(acquireLockArgv(o.app, token, owner, breakStale, o.retireWait ?? 0));
    reportRetireWait(conn.name, r.stdout);
    let res;
    try {
      res = parseLockAttempt(r.exitCode, r.stdout);
    } catch (e) {
      ledger.done(item);
      throw new Error(`${(e as Error).message} on ${conn.name}: ${r.stderr.trim()}`);
    }
    if (res.acquired) {
      if (res.broke !== undefined) reporter().warning(`break-lock: removed the deploy lock of ${o.app} on ${conn.name} held by ${res.broke || 'an unknown owner'}`);
      return { token, item, state: r.stdout };
    }
    ledger.done(item);
    breakStale = false; // break at most once: a lock that reappears belongs to a live deploy
    holder = res.holder;
    if (attempt === 1 && o.timeout > 0) reporter().info(`${conn.name}: deploy lock of ${o.app} is held by ${holder}; waiting up to ${o.timeout}s`);
    if (Date.now() + poll > deadline || o.signal.aborted) break;
    await sleep(poll, o.signal);
  }
  throw new UserError(
    `${conn.name}: the deploy lock of ${o.app} is held by ${holder}${o.timeout > 0 ? ` (waited ${o.timeout}s)` : ''}: another deploy is running`,
    'wait for it to finish, raise lock-timeout to wait longer, or if that deploy crashed and left the lock behind, run again with break-lock: true',
  );
}

export async function releaseLock(conn: HostConnection, ledger: CleanupLedger, app: string, lock: HeldLock): Promise<void> {
  await conn.check(releaseLockArgv(app, lock.token), 'releasing the deploy lock');
  ledger.done(lock.item);
}

/** Says what the lock script saw of the previous deploy's retire (acquireLockArgv's WAITED and RETIRE-GONE lines). */
function reportRetireWait(host: string, stdout: string): void {
  const gone = /^RETIRE-GONE (\d+)$/m.exec(stdout);
  if (gone) reporter().warning(`${host}: the previous deploy's retire (pid ${gone[1]}) ended before it released the lock (host restarted?); this deploy stops what it left`);
  const waited = /^WAITED (\S+)$/m.exec(stdout);
  if (waited && !gone) reporter().info(`${host}: waited ${waited[1]}s for the previous deploy's containers to stop`);
}

/**
 * Takes the app's deploy lock on every host of `conns`, or on none: when one is held, the others
 * are given back and a UserError says `${what} refused, nothing was changed`, naming the holders.
 * Returns the locks by host name (release each with releaseLock).
 */
export async function lockEvery(conns: HostConnection[], ledger: CleanupLedger, o: LockOptions, what: string, retry: string): Promise<Map<string, HeldLock>> {
  const locks = new Map<string, HeldLock>();
  const taken = await forEachHost(conns.map((c) => c.name), async (label) => {
    locks.set(label, await acquireLock(conns.find((c) => c.name === label)!, ledger, o));
  });
  const refused = failures(taken);
  if (refused.length) {
    await Promise.all([...locks].map(([label, l]) => releaseLock(conns.find((c) => c.name === label)!, ledger, o.app, l).catch(() => undefined)));
    throw new UserError(`${what} refused, nothing was changed: ${refused.map((f) => errorMessage(f.error)).join('; ')}`,
      `wait until the deploy is done (pallet lock status shows who holds the lock), then ${retry}; if that run died and left the lock behind, pallet lock release frees it`);
  }
  return locks;
}

/**
 * Seconds a day-2 command waits for a deploy's background retire before it takes the lock: the
 * proxy's drain, the longest stop_timeout, and 10 s of slack.
 */
export function retireWaitSeconds(drainTimeout: number | undefined, stopTimeouts: number[]): number {
  return (drainTimeout ?? 0) + Math.max(0, ...stopTimeouts) + 10;
}

/**
 * Runs `fn` under the app's deploy lock of every host of `conns` (lockEvery: all or none, refused
 * with a UserError while one is held), then gives every lock back; a lock that cannot be released
 * is warned about and left to the cleanup ledger.
 */
export async function withLockEvery<T>(conns: HostConnection[], ledger: CleanupLedger, o: LockOptions, what: string, retry: string, fn: () => Promise<T>): Promise<T> {
  const locks = await lockEvery(conns, ledger, o, what, retry);
  try {
    return await fn();
  } finally {
    await Promise.all([...locks].map(([label, l]) => releaseLock(conns.find((c) => c.name === label)!, ledger, o.app, l)
      .catch((e: unknown) => reporter().warning(`${label}: could not release the deploy lock (${errorMessage(e)}); it is retried at cleanup`))));
  }
}
