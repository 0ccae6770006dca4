// `lab up --swarm`: the lab's hosts form one Docker Swarm, host 1 the only manager, the others
// workers (advertised on the lab network). Idempotent: nodes already in the swarm are left alone.
// The ingress routing mesh needs IPVS, which the lab's kernel lacks, so apps publish in host mode.
import { sshArgs, type LabKeys } from './keys.js';
import { log, run } from './util.js';
import type { LabHost, LabSwarm } from '../helpers/lab.js';

async function onHost(keys: LabKeys, h: LabHost, command: string): Promise<string> {
  const r = await run('ssh', [...sshArgs(keys, h.sshPort), command], { timeoutMs: 60_000 });
  return r.stdout.trim();
}

const STATE = "docker info --format '{{.Swarm.LocalNodeState}} {{.Swarm.ControlAvailable}}'";

export async function ensureSwarm(hosts: LabHost[], keys: LabKeys): Promise<LabSwarm> {
  const [manager, ...workers] = hosts;
  const state = await onHost(keys, manager, STATE);
  if (!state.startsWith('active')) {
    await onHost(keys, manager, `docker swarm init --advertise-addr ${manager.ip} >/dev/null`);
    log(`swarm initialised on ${manager.name} (${manager.ip})`);
  } else if (!state.endsWith('true')) {
    throw new Error(`${manager.name} is in a swarm but not a manager; run lab down first`);
  }
  const token = await onHost(keys, manager, 'docker swarm join-token -q worker');
  for (const w of workers) {
    if ((await onHost(keys, w, STATE)).startsWith('active')) continue;
    // The token travels as an argument inside the lab only (a throw-away swarm on loopback hosts).
    await onHost(keys, w, `docker swarm join --token ${token} ${manager.ip}:2377 >/dev/null`);
    log(`${w.name} joined the swarm`);
  }
  const ready = await onHost(keys, manager, "docker node ls --format '{{.Status}}' | grep -c Ready || true");
  if (Number(ready) !== hosts.length) log(`swarm: ${ready}/${hosts.length} nodes ready so far`);
  return { manager: manager.address, nodes: hosts.length };
}
