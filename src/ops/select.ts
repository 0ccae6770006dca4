// Pure: which roles and hosts a day-2 command (status, exec, logs, lock) works on, from the deploy
// plan (SSH fleet) or the Swarm plan, and the --role/--host/--all-hosts flags. Unknown names fail
// before any host is contacted, naming the roles or hosts that exist.
import { UserError } from '../errors.js';
import { closestKey } from '../config/did-you-mean.js';
import type { DeployPlan, RolePlan } from '../deploy/plan.js';
import type { ServicePlan, SwarmPlan } from '../swarm/plan.js';
import type { SshTarget } from '../ssh/host.js';
import { inputLabel, type Where } from '../ssh/material.js';

export interface Selection {
  /** Roles in restart order (web, worker, beat, the rest). */
  roles: RolePlan[];
  /** Hosts in plan order; each is in at least one selected role. */
  hosts: SshTarget[];
}

export interface SelectFlags {
  role?: string;
  host?: string;
  allHosts?: boolean;
  /** How messages name the flags: `--role` (CLI, default) or `input 'role'` (the action). */
  where?: Where;
}

const label = (f: SelectFlags, name: string) => inputLabel(name, f.where ?? 'flag');

function unknown(what: string, name: string, known: string[], field: string): UserError {
  const close = closestKey(name, known);
  return new UserError(
    `${field}: unknown ${what} '${name}'${close ? `; did you mean '${close}'?` : ''} (this app's ${what}s: ${known.join(', ')})`,
    `pick one of the ${what}s of deploy.roles in pallet.yml`,
  );
}

/**
 * The role named by --role among `roles` (a fleet's roles or a swarm's services), or undefined
 * for "every role". Throws naming the known roles.
 */
export function findRole<R extends { role: string }>(roles: R[], name: string | undefined, field = '--role'): R | undefined {
  if (name === undefined || name === '') return undefined;
  const role = roles.find((r) => r.role === name);
  if (!role) throw unknown('role', name, roles.map((r) => r.role), field);
  return role;
}

/** The role a command about one role uses when --role is absent: web if there is one, else the first role. */
export function defaultRole<R extends { web: boolean }>(roles: R[]): R {
  return roles.find((r) => r.web) ?? roles[0];
}

/** Whether `name` spells the host: its label, `host`, `host:port`, `user@host` or `user@host:port`. */
function namesHost(t: SshTarget, name: string): boolean {
  return [t.label, t.host, `${t.host}:${t.port}`, `${t.user}@${t.host}:${t.port}`, `${t.user}@${t.host}`].includes(name.trim());
}

/**
 * The host `name` refers to: its label as written in pallet.yml, `host`, `host:port` or
 * `user@host:port`. Throws naming the hosts that exist (of the role, when one is given).
 */
export function findHost(plan: DeployPlan, name: string, role?: RolePlan, field = '--host'): SshTarget {
  const pool = role ? plan.hosts.filter((t) => role.hosts.includes(t.label)) : plan.hosts;
  const hit = pool.filter((t) => namesHost(t, name));
  if (hit.length === 1) return hit[0];
  if (hit.length > 1) {
    throw new UserError(`${field}: '${name}' matches several hosts (${hit.map((t) => t.label).join(', ')})`, 'name the host with its port, as written in pallet.yml');
  }
  const elsewhere = role && plan.hosts.some((t) => namesHost(t, name));
  if (elsewhere) {
    throw new UserError(`${field}: host '${name}' does not run role ${role.role} (its hosts: ${pool.map((t) => t.label).join(', ')})`, 'pick one of those hosts, or another --role');
  }
  throw unknown('host', name, pool.map((t) => t.label), field);
}

/** status, logs and lock: every role (or the one named) on every one of its hosts (or the one named). */
export function selectForView(plan: DeployPlan, f: SelectFlags): Selection {
  const role = findRole(plan.roles, f.role, label(f, 'role'));
  const roles = role ? [role] : plan.roles;
  const inRoles = plan.hosts.filter((t) => roles.some((r) => r.hosts.includes(t.label)));
  if (!f.host) return { roles, hosts: inRoles };
  const host = findHost(plan, f.host, role, label(f, 'host'));
  return { roles: roles.filter((r) => r.hosts.includes(host.label)), hosts: [host] };
}

/**
 * exec: one role (--role, else web, else the first) on one host: --host, else the role's first
 * host; --all-hosts runs on every host of the role. --host and --all-hosts together are an error.
 */
export function selectForExec(plan: DeployPlan, f: SelectFlags): { role: RolePlan; hosts: SshTarget[] } {
  const role = findRole(plan.roles, f.role, label(f, 'role')) ?? defaultRole(plan.roles);
  if (f.host && f.allHosts) throw new UserError(`${label(f, 'host')} and ${label(f, 'all-hosts')} exclude each other`, 'name one host, or run on every host of the role with --all-hosts');
  const ofRole = plan.hosts.filter((t) => role.hosts.includes(t.label));
  if (f.allHosts) return { role, hosts: ofRole };
  return { role, hosts: [f.host ? findHost(plan, f.host, role, label(f, 'host')) : ofRole[0]] };
}

/**
 * A Swarm's one SSH host, the manager. --host may name it (any spelling findHost takes) and
 * nothing else: Swarm places the tasks on its nodes, so there is no host to pick.
 */
export function swarmManager(plan: SwarmPlan, f: SelectFlags): SshTarget {
  if (f.host && !namesHost(plan.manager, f.host)) {
    throw new UserError(
      `${label(f, 'host')}: ${plan.app} runs on a Docker Swarm (deploy.swarm), reached through its manager ${plan.manager.label}; Swarm places the tasks on its nodes, so there is no host '${f.host}' to pick`,
      `drop ${label(f, 'host')}; ${label(f, 'role')} picks the service, and \`pallet status\` shows the node of every task`,
    );
  }
  return plan.manager;
}

/** Swarm status: the service of --role, else every service (rollout order); --host as swarmManager. */
export function selectSwarmServices(plan: SwarmPlan, f: SelectFlags): ServicePlan[] {
  swarmManager(plan, f);
  const service = findRole(plan.services, f.role, label(f, 'role'));
  return service ? [service] : plan.services;
}

/**
 * Swarm exec and logs: one service, the one of --role, else web, else the first. --all-hosts is
 * refused: Swarm runs an exec once, as one task, on a node of its choosing.
 */
export function selectSwarmService(plan: SwarmPlan, f: SelectFlags): ServicePlan {
  swarmManager(plan, f);
  if (f.allHosts) {
    throw new UserError(`${label(f, 'all-hosts')}: ${plan.app} runs on a Docker Swarm (deploy.swarm), where exec runs once, as one Swarm task`, `drop ${label(f, 'all-hosts')}`);
  }
  return findRole(plan.services, f.role, label(f, 'role')) ?? defaultRole(plan.services);
}
