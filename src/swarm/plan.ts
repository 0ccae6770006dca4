// Pure: pallet.yml's deploy section (with deploy.swarm) -> the plan a Swarm deploy follows: the
// manager to talk to, one service per role (`<app>_<role>`) in rollout order, the release tasks.
import { UserError } from '../errors.js';
import type { PalletConfig, RoleConfig } from '../config/types.js';
import { parseHost, type SshTarget } from '../ssh/host.js';
import { orderRoles } from '../deploy/plan.js';

export type PublishMode = 'host' | 'ingress';

export interface ServicePlan {
  role: string;
  /** Swarm service name: `<app>_<role>` (the stack namespace is the app). */
  name: string;
  command: string[];
  /** Web roles publish a port and are health-checked over HTTP; others must stay running. */
  web: boolean;
  port?: number;
  /** Port published on each node (host mode) or on the routing mesh (ingress). */
  publishedPort?: number;
  /** global = one task per eligible node; replicated = `replicas` tasks. */
  mode: 'global' | 'replicated';
  replicas?: number;
  constraints: string[];
  /** HTTP path of the health check (web roles). */
  healthPath?: string;
  /** Host header of the health check (web roles with health.host); unset: the address it connects to. */
  healthHost?: string;
  /** Seconds a new task may take to become healthy (Docker's health start period). */
  healthTimeout: number;
  /** Seconds Swarm watches each updated task for a failure (update monitor). */
  monitor: number;
  stopTimeout: number;
  /** Signal a task is stopped with (then SIGKILL after stopTimeout), e.g. SIGTERM. */
  stopSignal: string;
  /**
   * Update order. start-first where a new task can run beside the old one; stop-first for web
   * roles published in host mode: a node's port is held by the old task until it stops, and
   * Swarm would leave the new task pending forever ("host-mode port already in use").
   */
  order: 'start-first' | 'stop-first';
}

export interface SwarmPlan {
  app: string;
  image: string;
  manager: SshTarget;
  /** Stack namespace (the app name): services are `<stack>_<role>`. */
  stack: string;
  /** Overlay network the services and the release job share. */
  network: string;
  envFile?: string;
  tasks: string[][];
  services: ServicePlan[];
  /** deploy.rolling.batch as written: tasks updated at once (a number, or a percentage of the tasks). */
  batch: number | string;
  publish: PublishMode;
}

function splitCommand(cmd: string | string[] | undefined, fallback: string): string[] {
  if (Array.isArray(cmd)) return cmd.map(String);
  return (cmd ?? fallback).trim().split(/\s+/).filter(Boolean);
}

function servicePlan(app: string, name: string, r: RoleConfig, publish: PublishMode): ServicePlan {
  const web = name === 'web' || r.port !== undefined || r.health !== undefined;
  const port = web ? r.port ?? 8000 : undefined;
  const replicated = r.replicas !== undefined || !web;
  return {
    role: name,
    name: `${app}_${name}`,
    command: splitCommand(r.command as string | string[] | undefined, web ? 'serve' : name),
    web,
    port,
    publishedPort: web ? r.host_port ?? port : undefined,
    mode: replicated ? 'replicated' : 'global',
    replicas: replicated ? r.replicas ?? 1 : undefined,
    constraints: [...(r.placement ?? [])],
    healthPath: web ? r.health?.path ?? '/health/' : undefined,
    ...(web && r.health?.host ? { healthHost: r.health.host } : {}),
    healthTimeout: r.health?.timeout ?? 60,
    monitor: r.stable ?? 5,
    stopTimeout: r.stop_timeout ?? 30,
    stopSignal: r.stop_signal ?? 'SIGTERM',
    order: web && publish === 'host' ? 'stop-first' : 'start-first',
  };
}

/** Throws UserError when the config has no deploy.swarm or no roles. */
export function planSwarm(config: PalletConfig): SwarmPlan {
  const deploy = config.deploy;
  if (!deploy?.swarm) throw new UserError(`${config.source.file}: deploy.swarm is missing`, 'add deploy.swarm: { manager: HOST } to deploy to a Docker Swarm');
  if (!deploy.roles || Object.keys(deploy.roles).length === 0) {
    throw new UserError(`${config.source.file}: deploy.roles is missing`, 'add at least one role, e.g. roles: { web: {} }');
  }
  const publish = deploy.swarm.publish ?? 'host';
  const manager = parseHost(deploy.swarm.manager, { user: deploy.ssh?.user ?? 'root', port: deploy.ssh?.port ?? 22 }, 'deploy.swarm.manager');
  const services = orderRoles(Object.keys(deploy.roles)).map((n) => servicePlan(config.app, n, deploy.roles[n], publish));
  const tasks = (deploy.tasks ?? [['deploy']]).map((t) => (Array.isArray(t) ? t.map(String) : String(t).split(/\s+/).filter(Boolean)));
  return {
    app: config.app,
    image: config.image,
    manager,
    stack: config.app,
    network: `${config.app}_net`,
    envFile: deploy.env_file,
    tasks,
    services,
    batch: deploy.rolling?.batch ?? 1,
    publish,
  };
}
