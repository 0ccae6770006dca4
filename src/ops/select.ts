// Pure: which roles and hosts a day-2 command (status, exec, logs, lock) works on, from the deploy
// plan and the --role/--host/--all-hosts flags. Unknown names fail before any host is contacted,
// naming the roles or hosts that exist.
import { UserError } from '../errors.js';
import { closestKey } from '../config/did-you-mean.js';
import type { DeployPlan, RolePlan } from '../deploy/plan.js';
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

/** The role named by --role, or undefined for "every role". Throws naming the known roles. */
export function findRole(plan: DeployPlan, name: string | undefined, field = '--role'): RolePlan | undefined {
  if (name === undefined || name === '') return undefined;
  const role = plan.roles.find((r) => r.role === name);
  if (!role) throw unknown('role', name, plan.roles.map((r) => r.role), field);
  return role;
}

/** The role a command about one role uses when --role is absent: web if there is one, else the first role. */
export function defaultRole(plan: DeployPlan): RolePlan {
  return plan.roles.find((r) => r.web) ?? plan.roles[0];
}

/**
 * The host `name` refers to: its label as written in pallet.yml, `host`, `host:port` or
 * `user@host:port`. Throws naming the hosts that exist (of the role, when one is given).
 */
export function findHost(plan: DeployPlan, name: string, role?: RolePlan, field = '--host'): SshTarget {
  const pool = role ? plan.hosts.filter((t) => role.hosts.includes(t.label)) : plan.hosts;
  const spellings = (t: SshTarget) => [t.label, t.host, `${t.host}:${t.port}`, `${t.user}@${t.host}:${t.port}`, `${t.user}@${t.host}`];
  const hit = pool.filter((t) => spellings(t).includes(name.trim()));
  if (hit.length === 1) return hit[0];
  if (hit.length > 1) {
    throw new UserError(`${field}: '${name}' matches several hosts (${hit.map((t) => t.label).join(', ')})`, 'name the host with its port, as written in pallet.yml');
  }
  const elsewhere = role && plan.hosts.some((t) => spellings(t).includes(name.trim()));
  if (elsewhere) {
    throw new UserError(`${field}: host '${name}' does not run role ${role.role} (its hosts: ${pool.map((t) => t.label).join(', ')})`, 'pick one of those hosts, or another --role');
  }
  throw unknown('host', name, pool.map((t) => t.label), field);
}

/** status, logs and lock: every role (or the one named) on every one of its hosts (or the one named). */
export function selectForView(plan: DeployPlan, f: SelectFlags): Selection {
  const role = findRole(plan, f.role, label(f, 'role'));
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
  const role = findRole(plan, f.role, label(f, 'role')) ?? defaultRole(plan);
  if (f.host && f.allHosts) throw new UserError(`${label(f, 'host')} and ${label(f, 'all-hosts')} exclude each other`, 'name one host, or run on every host of the role with --all-hosts');
  const ofRole = plan.hosts.filter((t) => role.hosts.includes(t.label));
  if (f.allHosts) return { role, hosts: ofRole };
  return { role, hosts: [f.host ? findHost(plan, f.host, role, label(f, 'host')) : ofRole[0]] };
}
