// Bounded parallelism across hosts, collecting every host's outcome (one failure does not
// hide the others).
import pLimit from 'p-limit';

export const HOST_CONCURRENCY = Number(process.env.PALLET_SSH_CONCURRENCY) || 8;

export type Outcome<T> = { host: string; ok: true; value: T } | { host: string; ok: false; error: unknown };

export async function forEachHost<T>(hosts: string[], fn: (host: string) => Promise<T>, concurrency = HOST_CONCURRENCY): Promise<Outcome<T>[]> {
  const limit = pLimit(Math.max(1, concurrency));
  return Promise.all(
    hosts.map((host) =>
      limit(async (): Promise<Outcome<T>> => {
        try {
          return { host, ok: true, value: await fn(host) };
        } catch (error) {
          return { host, ok: false, error };
        }
      }),
    ),
  );
}

export function failures<T>(outcomes: Outcome<T>[]): { host: string; error: unknown }[] {
  return outcomes.filter((o): o is { host: string; ok: false; error: unknown } => !o.ok);
}

/** One fresh attempt at a host whose connection dropped (the master may be gone; ssh then connects directly, bounded by ConnectTimeout). */
export async function reachableAgain(conn: { run(argv: readonly string[]): Promise<{ exitCode: number }> }): Promise<boolean> {
  try {
    return (await conn.run(['true'])).exitCode === 0;
  } catch {
    return false;
  }
}
