// Turns the test config into a plan for each shard: names, labels, network aliases, container
// environments and the app's environment. Pure (no Docker): runner.ts executes the plan.
import { randomBytes } from 'node:crypto';
import type { PalletConfig } from '../config/types.js';
import { UserError } from '../errors.js';
import { LIST_VARIABLES, resolveService, serviceAppEnv, type Endpoint, type ResolvedService } from './catalog.js';

export const RUN_LABEL = 'pallet.run';
export const APP_LABEL = 'pallet.app';
export const ROLE_LABEL = 'pallet.role';
export const SHARD_LABEL = 'pallet.shard';

/** Short, unique enough for parallel jobs on one engine; valid in names and DNS aliases. */
export function newRunId(): string {
  return randomBytes(4).toString('hex');
}

export interface ServicePlan extends ResolvedService {
  containerName: string;
  /** `postgres` and `pg-<id>`: the first for humans, the second unique to the run. */
  aliases: string[];
  labels: Record<string, string>;
  /** Publish the port on 127.0.0.1 (pallet run: the app runs on the host). */
  publish: boolean;
}

export interface ShardPlan {
  runId: string;
  app: string;
  shardIndex: number;
  shardTotal: number;
  /** Unique per shard: names the network and containers. */
  instance: string;
  network: { name: string; labels: Record<string, string> };
  services: ServicePlan[];
  labels: Record<string, string>;
}

export interface PlanOptions {
  runId: string;
  shards: number;
  /** Services reached through published ports on 127.0.0.1 instead of network aliases. */
  publish?: boolean;
}

export function resolveServices(config: PalletConfig): ResolvedService[] {
  const services = (config.test.services ?? []).map((s, i) => resolveService(s, i));
  const seen = new Set<string>();
  for (const s of services) {
    if (seen.has(s.name)) {
      throw new UserError(`test.services: '${s.name}' is listed twice`, 'each service needs its own name; give a second one a custom name and an image');
    }
    seen.add(s.name);
  }
  return services;
}

export function planShards(config: PalletConfig, opts: PlanOptions): ShardPlan[] {
  if (!Number.isInteger(opts.shards) || opts.shards < 1 || opts.shards > 32) {
    throw new UserError(`test.shards: expected a whole number from 1 to 32, got '${opts.shards}'`, 'set test.shards in the config or the shards input');
  }
  const resolved = resolveServices(config);
  const app = config.app;
  return Array.from({ length: opts.shards }, (_, k) => {
    const instance = opts.shards === 1 ? opts.runId : `${opts.runId}-${k}`;
    const labels = { [RUN_LABEL]: opts.runId, [APP_LABEL]: app, [SHARD_LABEL]: String(k) };
    return {
      runId: opts.runId,
      app,
      shardIndex: k,
      shardTotal: opts.shards,
      instance,
      network: { name: `pallet-${app}-${instance}`, labels: { ...labels, [ROLE_LABEL]: 'network' } },
      labels,
      services: resolved.map((s) => ({
        ...s,
        containerName: `pallet-${app}-${instance}-${s.name}`,
        aliases: [s.name, `${s.aliasPrefix}-${opts.runId}`],
        labels: { ...labels, [ROLE_LABEL]: 'service', 'pallet.service': s.name },
        publish: !!opts.publish,
      })),
    };
  });
}

/** Where the test container reaches a service on the shard's network: its unique alias. */
export function networkEndpoint(svc: ServicePlan): Endpoint {
  return { host: svc.aliases[1], port: svc.port ?? 0 };
}

/**
 * The app's environment, lowest precedence first: the fixed test variables, every service's
 * variables (list variables joined with `|`), then test.environment from the config, then the shard.
 */
export function appEnvironment(
  app: string,
  services: { svc: ResolvedService; endpoint: Endpoint }[],
  userEnv: Record<string, string>,
  shard?: { index: number; total: number },
): Record<string, string> {
  const env: Record<string, string> = { ENVIRONMENT: 'test', SITE_DOMAIN: 'localhost:8000', SITE_PROTOCOL: 'http' };
  for (const { svc, endpoint } of services) {
    for (const [k, v] of Object.entries(serviceAppEnv(svc, endpoint, app))) {
      env[k] = LIST_VARIABLES.has(k) && env[k] ? `${env[k]}|${v}` : v;
    }
  }
  for (const [k, v] of Object.entries(userEnv ?? {})) env[k] = String(v);
  if (shard) {
    env.SHARD_INDEX = String(shard.index);
    env.SHARD_TOTAL = String(shard.total);
  }
  return env;
}

/** Docker's `Env` array form. */
export function toEnvList(env: Record<string, string>): string[] {
  return Object.entries(env).map(([k, v]) => `${k}=${v}`);
}

/** Values worth masking: service passwords set in the config and test.environment secrets. */
export function secretValues(services: ResolvedService[], userEnv: Record<string, string>): string[] {
  const fromEnv = Object.entries(userEnv ?? {})
    .filter(([k, v]) => /SECRET|PASSWORD|TOKEN|PRIVATE|API_KEY/i.test(k) && String(v).length >= 6)
    .map(([, v]) => String(v));
  return [...services.flatMap((s) => s.secrets), ...fromEnv];
}

/** The test container's command: test.command then the test-args input. */
export function testCommand(command: string[], extraArgs: string[]): string[] {
  const cmd = (command?.length ? command : ['test']).map(String);
  return [...cmd, ...extraArgs];
}
