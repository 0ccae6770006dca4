// Step 6: every (host, role) touched so far goes back to the tag it ran before, with the same
// stop/start/health. Hosts in parallel; on a host, roles in reverse order of the rollout.
import { errorMessage } from '../errors.js';
import { reporter } from '../util/reporter.js';
import { containerName, stopRemoveArgv } from './commands.js';
import { forEachHost, failures, reachableAgain } from './parallel.js';
import { switchRole } from './restart.js';
import { revertBehindProxy } from './proxy/rollout.js';
import type { DeployRun } from './types.js';

export async function revertTouched(run: DeployRun): Promise<string[]> {
  const byHost = new Map<string, string[]>();
  for (const t of run.touched) byHost.set(t.host, [...(byHost.get(t.host) ?? []).filter((r) => r !== t.role), t.role]);
  const problems: string[] = [];
  const outcomes = await forEachHost([...byHost.keys()], async (label) => {
    const h = run.hosts.get(label)!;
    if (h.lost && (await reachableAgain(h.conn))) {
      // The connection dropped but the host answers: revert it like the others rather than leave
      // it half-switched.
      reporter().info(`${label}: reachable again after "${h.lost}"; reverting it`);
      h.lost = undefined;
    }
    if (h.lost) {
      // Still unreachable: every command would wait out a connect timeout; a person has to look.
      problems.push(`${label}: unreachable (${h.lost}); could not be reverted, check ${[...byHost.get(label)!].join(', ')} on it when it is back`);
      return;
    }
    let ok = true;
    for (const roleName of [...byHost.get(label)!].reverse()) {
      const role = run.plan.roles.find((r) => r.role === roleName)!;
      const back = h.before.tag;
      try {
        if (role.behindProxy) {
          await revertBehindProxy(run, label, role);
        } else if (back) {
          await switchRole(run, label, role, back);
        } else {
          // First deploy to this host: nothing to go back to, so do not leave the failed version up.
          await h.conn.check(stopRemoveArgv(run.plan.app, roleName, role.stopTimeout, role.stopSignal), `removing ${containerName(run.plan.app, roleName)}`);
          reporter().warning(`${label}: ${roleName} had no previous version; its failed container was removed`);
        }
      } catch (e) {
        ok = false;
        problems.push(`${label} ${roleName}: ${errorMessage(e)}`);
      }
    }
    h.reverted = ok;
  });
  for (const f of failures(outcomes)) problems.push(`${f.host}: ${errorMessage(f.error)}`);
  return problems;
}
