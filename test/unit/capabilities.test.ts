// The deploy targets' declarations (src/engine/capabilities.ts): which target a config picks, the
// options refused for it when the config is loaded, and that every deploy key the schema accepts
// has a decision for every target.
import { CAPABILITIES, DEPLOY_KEYS, TARGETS, targetOf, unsupportedOptions, type Target } from '../../src/engine/capabilities.js';
import { PALLET_SCHEMA } from '../../src/config/schema.js';
import { formatKeyPath } from '../../src/config/problems.js';
import type { PalletConfig } from '../../src/config/types.js';

const file = (deploy: unknown) => ({ app: 'shop', image: 'registry.example.com/team/shop', deploy });

describe('targetOf', () => {
  test.each<[string, unknown, Target]>([
    ['no deploy section', undefined, 'proxy'],
    ['proxy left out', { roles: { web: { hosts: ['a'] } } }, 'proxy'],
    ['proxy: true', { proxy: true, roles: {} }, 'proxy'],
    ['proxy mapping', { proxy: { hosts: ['shop.example.com'] }, roles: {} }, 'proxy'],
    ['proxy: false', { proxy: false, roles: {} }, 'published-port'],
    ['swarm', { swarm: { manager: 'm' }, roles: {} }, 'swarm'],
    ['swarm wins over proxy: false', { swarm: { manager: 'm' }, proxy: false, roles: {} }, 'swarm'],
    ['swarm that is not a mapping (the schema reports it)', { swarm: 'm', roles: {} }, 'proxy'],
  ])('parsed file, %s', (_name, deploy, want) => expect(targetOf(file(deploy))).toBe(want));

  const resolved = (deploy: Partial<NonNullable<PalletConfig['deploy']>>) => ({ deploy } as Pick<PalletConfig, 'deploy'>);
  test.each<[string, Pick<PalletConfig, 'deploy'>, Target]>([
    ['resolved proxy defaults', resolved({ proxy: { hosts: [], tls: 'off', image: 'caddy:2', drain_timeout: 2, trusted_proxies: [] } }), 'proxy'],
    ['resolved proxy: false', resolved({ proxy: false }), 'published-port'],
    ['resolved swarm (with the proxy defaults it never reads)', resolved({ swarm: { manager: 'm', publish: 'host' }, proxy: { hosts: [], tls: 'off', image: 'caddy:2', drain_timeout: 2, trusted_proxies: [] } }), 'swarm'],
  ])('%s', (_name, config, want) => expect(targetOf(config)).toBe(want));
});

describe('unsupportedOptions', () => {
  const swarm = (extra: Record<string, unknown>, roles: Record<string, unknown> = { web: {} }) => file({ swarm: { manager: 'm' }, roles, ...extra });
  const fleet = (extra: Record<string, unknown>, roles: Record<string, unknown> = { web: { hosts: ['a'] } }) => file({ roles, ...extra });

  test.each<[string, unknown, string[]]>([
    ['not a mapping', 'x', []],
    ['no deploy section', { app: 'shop' }, []],
    ['proxy: everything it honours', fleet({ proxy: { hosts: ['s.example.com'], drain_timeout: 5 }, keep: 3, env: { secret: ['A'] }, ssh: { jump: 'b' } },
      { web: { hosts: ['a'], health: { host: 's.example.com' }, stop_signal: 'SIGQUIT' } }), []],
    ['proxy: host_port', fleet({}, { web: { hosts: ['a'], host_port: 8080 } }), ['deploy.roles.web.host_port']],
    ['proxy: replicas and placement, per role', fleet({}, { web: { hosts: ['a'], replicas: 2 }, worker: { hosts: ['b'], placement: ['node.role==worker'] } }),
      ['deploy.roles.web.replicas', 'deploy.roles.worker.placement']],
    ['published-port: host_port honoured', fleet({ proxy: false }, { web: { hosts: ['a'], host_port: 8080 } }), []],
    ['published-port: replicas', fleet({ proxy: false }, { web: { hosts: ['a'], replicas: 1 } }), ['deploy.roles.web.replicas']],
    ['swarm: everything it honours', swarm({ ssh: { user: 'ops', jump: 'b' }, env_file: '/etc/x.env', tasks: [], rolling: { batch: '50%' }, url: 'https://s.example.com' },
      { web: { host_port: 8080, health: { host: 's.example.com', path: '/up/' }, stop_signal: 'SIGINT', stop_timeout: 5, stable: 3 }, worker: { replicas: 2, placement: ['node.role==worker'] } }), []],
    ['swarm: proxy: false is accepted', swarm({ proxy: false }), []],
    ['swarm: proxy: true', swarm({ proxy: true }), ['deploy.proxy']],
    ['swarm: a proxy mapping is refused once, not per key in it', swarm({ proxy: { hosts: ['s.example.com'], tls: 'off', drain_timeout: 3 } }), ['deploy.proxy']],
    ['swarm: keep, env, hosts', swarm({ keep: 3, env: { clear: { A: 1 } } }, { web: { hosts: ['a'] }, worker: {} }), ['deploy.env', 'deploy.roles.web.hosts', 'deploy.keep']],
  ])('%s', (_name, data, want) => expect(unsupportedOptions(data).map((p) => formatKeyPath(p.path))).toEqual(want));

  test.each<[string, unknown, string]>([
    ['proxy', fleet({}, { web: { hosts: ['a'], host_port: 8080 } }),
      'not supported by the proxy target (SSH hosts behind the per-host proxy, the default): nothing is published behind the proxy, which takes the requests on ports 80/443 and routes them by host name; remove it, or set deploy.proxy: false to publish the port; see docs/targets.md'],
    ['published-port', fleet({ proxy: false }, { web: { hosts: ['a'], placement: ['x'] } }),
      'not supported by the published-port target (SSH hosts with deploy.proxy: false): a role runs on exactly the hosts it lists; remove it and list the hosts in hosts; see docs/targets.md'],
    ['swarm', swarm({ keep: 2 }),
      'not supported by the swarm target (deploy.swarm is set): each node keeps the images it pulled; pallet prunes images on SSH hosts only; remove it, and prune the nodes with docker image prune on a schedule; see docs/targets.md'],
  ])('the %s message names the target, why and what to do', (_name, data, want) => {
    expect(unsupportedOptions(data).map((p) => p.message)).toEqual([want]);
  });
});

/** The dotted paths of every key the schema accepts under deploy (`<role>` for role names), mappings included. */
function schemaKeys(schema: Record<string, any>, at: string): string[] { // eslint-disable-line @typescript-eslint/no-explicit-any
  const branches = [schema, ...(schema.oneOf ?? [])];
  const out: string[] = [];
  for (const b of branches) {
    for (const [k, s] of Object.entries<Record<string, unknown>>(b.properties ?? {})) out.push(`${at}.${k}`, ...schemaKeys(s, `${at}.${k}`));
    if (typeof b.additionalProperties === 'object') out.push(...schemaKeys(b.additionalProperties, `${at}.<role>`));
  }
  return out;
}

describe('the declarations', () => {
  // review runs through the same drivers and is decided as a whole.
  const schema = [...schemaKeys((PALLET_SCHEMA.properties as Record<string, Record<string, unknown>>).deploy, 'deploy'), 'review'];
  const covered = (k: string) => DEPLOY_KEYS.some((d) => k === d || k.startsWith(`${d}.`));
  const isMapping = (k: string) => schema.some((s) => s.startsWith(`${k}.`));

  test('every key the schema accepts under deploy is decided (itself or as part of a declared mapping)', () => {
    expect(schema.filter((k) => !isMapping(k) && !covered(k))).toEqual([]);
  });
  test('every declared key is a key of the schema', () => {
    expect(DEPLOY_KEYS.filter((k) => !schema.includes(k))).toEqual([]);
  });
  test('every target decides every declared key, and gives a reason for each no', () => {
    for (const t of TARGETS) {
      expect(Object.keys(CAPABILITIES[t]).sort()).toEqual([...DEPLOY_KEYS].sort());
      for (const s of Object.values(CAPABILITIES[t])) if (s !== 'yes') expect(s.reason).toMatch(/\S/);
    }
  });
});
