import { batchSize, chunk, orderRoles, planDeploy } from '../../src/deploy/plan.js';
import type { PalletConfig } from '../../src/config/types.js';
import { UserError } from '../../src/errors.js';

function config(deploy: Record<string, unknown>): PalletConfig {
  return {
    app: 'shop', image: 'reg.example.com/team/shop',
    build: { context: '/x', dockerfile: 'Dockerfile', args: {}, tags: [] },
    test: { command: ['test'], services: [], environment: {}, shards: 1, artifacts: [], timeout: 60 },
    deploy: deploy as unknown as PalletConfig['deploy'],
    source: { file: '/x/pallet.yml', dir: '/x' },
  };
}

describe('role order and batches', () => {
  test.each([
    [['beat', 'worker', 'web'], ['web', 'worker', 'beat']],
    [['cron', 'web', 'api', 'beat'], ['web', 'beat', 'cron', 'api']],
    [['worker'], ['worker']],
  ])('%j -> %j', (names, want) => expect(orderRoles(names)).toEqual(want));

  test.each([
    [3, 1, 1], [3, 2, 2], [3, 10, 3], [4, '50%', 2], [3, '50%', 1], [8, '25%', 2], [1, '10%', 1], [5, '100%', 5], [5, undefined, 1], [4, '2', 2],
  ] as [number, number | string | undefined, number][])('%d hosts, batch %j -> %d', (n, b, want) => expect(batchSize(n, b)).toBe(want));

  test.each([0, -1, 1.5, '0%', '150%', 'half', ''])('batch %j is refused or defaulted', (b) => {
    if (b === '') return expect(batchSize(3, b)).toBe(1);
    expect(() => batchSize(3, b)).toThrow(/deploy\.rolling\.batch/);
  });

  test('chunk', () => expect(chunk([1, 2, 3, 4, 5], 2)).toEqual([[1, 2], [3, 4], [5]]));
});

describe('planDeploy', () => {
  const plan = planDeploy(config({
    ssh: { user: 'deploy', port: 2222 }, env_file: '/etc/pallet/shop.env', tasks: [['deploy']], keep: 3,
    rolling: { batch: 1 },
    roles: {
      beat: { hosts: ['app3'], command: 'beat' },
      worker: { hosts: ['app3', 'root@app4:22'], command: 'worker', stable: 2 },
      web: { hosts: ['app1', 'app2', 'app3'], command: 'serve', port: 8000, health: { path: '/health/', timeout: 20 }, stop_timeout: 5 },
    },
  }));
  test('roles web, worker, beat; batches of one', () => {
    expect(plan.roles.map((r) => r.role)).toEqual(['web', 'worker', 'beat']);
    expect(plan.roles[0].batches).toEqual([['app1'], ['app2'], ['app3']]);
    expect(plan.roles[0]).toMatchObject({ web: true, port: 8000, hostPort: 8000, healthPath: '/health/', healthTimeout: 20, stopTimeout: 5, command: ['serve'] });
    expect(plan.roles[1]).toMatchObject({ web: false, stable: 2, port: undefined });
  });
  test('distinct hosts in first-seen order, one entry for a host in several roles', () => {
    expect(plan.hosts.map((h) => `${h.user}@${h.host}:${h.port}`)).toEqual(['deploy@app1:2222', 'deploy@app2:2222', 'deploy@app3:2222', 'root@app4:22']);
    expect(plan.taskHost).toBe('app1');
  });
  test('missing roles or hosts are user errors naming the key', () => {
    expect(() => planDeploy(config({ roles: {} }))).toThrow(/deploy\.roles/);
    expect(() => planDeploy(config({ roles: { web: { hosts: [] } } }))).toThrow(/deploy\.roles\.web\.hosts/);
    expect(() => planDeploy(config({ roles: { web: { hosts: ['bad host'] } } }))).toThrow(UserError);
  });
  test('defaults: serve for web, /health/, 60 s, tasks [deploy], keep 5', () => {
    const p = planDeploy(config({ roles: { web: { hosts: ['h'] } } }));
    expect(p.roles[0]).toMatchObject({ command: ['serve'], healthPath: '/health/', healthTimeout: 60, port: 8000 });
    expect(p.tasks).toEqual([['deploy']]);
    expect(p.keep).toBe(5);
  });
});
