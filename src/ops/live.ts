// Pure: finding a role's live container on a host by its labels (pallet.app, pallet.role,
// pallet.tag; set by every way pallet starts a role) instead of by a fixed container name, so
// exec and logs work however the role's containers are named and run.

/** Running containers of one role, newest first: `ID<TAB>TAG<TAB>NAME` per line. */
export function liveContainersArgv(app: string, role: string): string[] {
  return ['docker', 'ps', '--filter', `label=pallet.app=${app}`, '--filter', `label=pallet.role=${role}`,
    '--format', '{{.ID}}\t{{.Label "pallet.tag"}}\t{{.Names}}'];
}

export interface LiveContainer {
  id: string;
  tag: string;
  name: string;
}

/** The newest running container (docker ps lists newest first), or undefined when none runs. */
export function parseLiveContainer(stdout: string): LiveContainer | undefined {
  const first = stdout.split('\n').map((l) => l.trim()).find(Boolean);
  if (!first) return undefined;
  const [id, tag, name] = first.split('\t');
  return { id, tag: tag ?? '', name: name ?? '' };
}
