// The Swarm target's pure parts: pallet.yml deploy.swarm (schema + semantic checks with
// file:line), the plan, the Compose documents, the command vectors and the parsers of what
// docker prints on the manager.
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig, displayPath } from '../../src/config/load.js';
import { planSwarm } from '../../src/swarm/plan.js';
import { composeDocument, composeText, healthCommand } from '../../src/swarm/compose.js';
import {
  countTasks, ensureNetworkArgv, failedTaskOf, jobCreateArgv, jobState, parseNodes, parseServiceInfo, parseTasks,
  rollbackReason, serviceInspectArgv, stackDeployArgv, swarmInfoProblem, tagOf,
} from '../../src/swarm/commands.js';
import { convergeTimeout, desiredTasks, stallSeconds } from '../../src/swarm/rollout.js';
import { jobName } from '../../src/swarm/job.js';
import { swarmFailureMessage, swarmOutputs } from '../../src/swarm/report.js';
import type { SwarmReport } from '../../src/swarm/types.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'pallet-swarm-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
let n = 0;
function project(yaml: string): string {
  const dir = path.join(tmp, `p${++n}`);
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'pallet.yml'), yaml);
  return path.join(dir, 'pallet.yml');
}
function messageOf(fn: () => unknown): string {
  try { fn(); } catch (e) { return (e as Error).message; }
  throw new Error('no error thrown');
}
const HEAD = 'app: shop\nimage: registry.example.com/team/shop\n';

const SWARM = `${HEAD}deploy:
  swarm:
    manager: deploy@mgr.example.com:2222
  env_file: /etc/pallet/shop.env
  rolling: { batch: 2 }
  roles:
    worker:
      replicas: 3
      placement: [node.role==worker]
      stable: 4
    web:
      health: { path: /up/, timeout: 20 }
      host_port: 8080
    beat: {}
`;

describe('pallet.yml deploy.swarm', () => {
  test('loads: roles without hosts, replicas and placement kept, publish defaults to host', () => {
    const c = loadConfig(project(SWARM));
    expect(c.deploy!.swarm).toEqual({ manager: 'deploy@mgr.example.com:2222', publish: 'host' });
    expect(c.deploy!.roles.worker).toMatchObject({ hosts: [], replicas: 3, placement: ['node.role==worker'] });
  });

  test.each([
    ['hosts with swarm', `${HEAD}deploy:\n  swarm: { manager: m1 }\n  roles:\n    web:\n      hosts: [a]\n`,
      ':7:7 deploy.roles.web.hosts: not supported by the swarm target (deploy.swarm is set): Swarm places the tasks on its nodes; remove it and use replicas and placement constraints instead'],
    ['replicas without swarm', `${HEAD}deploy:\n  roles:\n    web:\n      hosts: [a]\n      replicas: 2\n`,
      ':7:7 deploy.roles.web.replicas: not supported by the proxy target (SSH hosts behind the per-host proxy, the default): a role runs one container on each host it lists'],
    ['hosts missing without swarm', `${HEAD}deploy:\n  roles:\n    web:\n      port: 8000\n`,
      ':5:5 deploy.roles.web.hosts: required key is missing'],
    ['manager missing', `${HEAD}deploy:\n  swarm: {}\n  roles:\n    web: {}\n`, ':4:3 deploy.swarm.manager: required key is missing'],
    ['bad manager', `${HEAD}deploy:\n  swarm: { manager: 'a b' }\n  roles:\n    web: {}\n`, "deploy.swarm.manager: invalid host 'a b'"],
    ['bad publish', `${HEAD}deploy:\n  swarm: { manager: m, publish: mesh }\n  roles:\n    web: {}\n`, 'deploy.swarm.publish: expected one of host, ingress'],
    ['negative replicas', `${HEAD}deploy:\n  swarm: { manager: m }\n  roles:\n    web: { replicas: -1 }\n`, 'deploy.roles.web.replicas: must be >= 0'],
  ])('%s', (_name, yaml, want) => {
    const file = project(yaml);
    expect(messageOf(() => loadConfig(file))).toContain(want.startsWith(':') ? `${displayPath(file)}${want}` : want);
  });
});

describe('planSwarm', () => {
  const plan = planSwarm(loadConfig(project(SWARM)));
  test('manager, stack, network, tasks', () => {
    expect(plan.manager).toMatchObject({ user: 'deploy', host: 'mgr.example.com', port: 2222 });
    expect(plan).toMatchObject({ stack: 'shop', network: 'shop_net', envFile: '/etc/pallet/shop.env', tasks: [['deploy']], batch: 2, publish: 'host' });
  });
  test.each([
    ['web', { name: 'shop_web', mode: 'global', replicas: undefined, port: 8000, publishedPort: 8080, healthPath: '/up/', healthTimeout: 20, order: 'stop-first', command: ['serve'], stopSignal: 'SIGTERM' }],
    ['worker', { name: 'shop_worker', mode: 'replicated', replicas: 3, constraints: ['node.role==worker'], monitor: 4, order: 'start-first', web: false, stopSignal: 'SIGTERM' }],
    ['beat', { name: 'shop_beat', mode: 'replicated', replicas: 1, constraints: [], order: 'start-first', command: ['beat'] }],
  ])('%s service', (role, want) => expect(plan.services.find((s) => s.role === role)).toMatchObject(want));
  test('rollout order web, worker, beat', () => expect(plan.services.map((s) => s.role)).toEqual(['web', 'worker', 'beat']));
  test('ingress publishing lets web start first', () => {
    const p = planSwarm(loadConfig(project(SWARM.replace('manager: deploy@mgr.example.com:2222', 'manager: m\n    publish: ingress'))));
    expect(p.services[0]).toMatchObject({ order: 'start-first' });
  });
  test('desired tasks and timeouts', () => {
    const [web, worker] = plan.services;
    expect(desiredTasks(web, 3)).toBe(3);
    expect(desiredTasks(worker, 3)).toBe(3);
    expect(convergeTimeout(web, 3, 1)).toBe(3 * (20 + 8 + 5 + 30 + 60) + 60);
    expect(convergeTimeout(web, 3, 3)).toBe(20 + 8 + 5 + 30 + 60 + 60);
    expect(stallSeconds(web)).toBe(20 + 8 + 5 + 30 + 30);
    expect(stallSeconds(worker)).toBe(5 + 4 + 30 + 30);
  });
});

describe('compose documents', () => {
  const plan = planSwarm(loadConfig(project(SWARM)));
  const [web, worker] = plan.services;
  test('web: host-mode port, health check from the health path, update/rollback config', () => {
    const doc = composeDocument(plan, web, { tag: 'build-7', parallelism: 1 }) as any;
    const s = doc.services.web;
    expect(doc.version).toBe('3.8');
    expect(doc.networks).toEqual({ app: { external: true, name: 'shop_net' } });
    expect(s).toMatchObject({
      image: 'registry.example.com/team/shop:build-7', command: ['serve'], env_file: ['/etc/pallet/shop.env'], networks: ['app'],
      ports: [{ target: 8000, published: 8080, protocol: 'tcp', mode: 'host' }], stop_grace_period: '30s',
    });
    expect(s.healthcheck).toEqual({ test: healthCommand(8000, '/up/'), interval: '2s', timeout: '3s', retries: 3, start_period: '20s' });
    expect(s.deploy).toMatchObject({
      mode: 'global', labels: { 'pallet.app': 'shop', 'pallet.role': 'web', 'pallet.tag': 'build-7' },
      update_config: { parallelism: 1, order: 'stop-first', failure_action: 'rollback', monitor: '5s', max_failure_ratio: 0 },
      rollback_config: { parallelism: 1, order: 'stop-first', failure_action: 'pause' },
    });
    expect(s.deploy.replicas).toBeUndefined();
  });
  test('worker: replicas, placement, no port, no health check', () => {
    const s = (composeDocument(plan, worker, { tag: 't', parallelism: 2 }) as any).services.worker;
    expect(s.deploy).toMatchObject({ mode: 'replicated', replicas: 3, placement: { constraints: ['node.role==worker'] }, update_config: { parallelism: 2, order: 'start-first' } });
    expect(s.ports).toBeUndefined();
    expect(s.healthcheck).toBeUndefined();
  });
  test('health command is an HTTP GET with python3, URL as an argument', () => {
    expect(healthCommand(8000, 'health/')).toEqual(['CMD', 'python3', '-c', expect.stringContaining('urlopen(sys.argv[1]'), 'http://127.0.0.1:8000/health/']);
  });
  test('health command with health.host: the Host header, host and URL as arguments', () => {
    expect(healthCommand(8000, '/up/', 'shop.example.com')).toEqual([
      'CMD', 'python3', '-c', expect.stringContaining("headers={'Host': sys.argv[2]}"), 'http://127.0.0.1:8000/up/', 'shop.example.com',
    ]);
  });
  test('text: JSON with $ escaped against Compose interpolation', () => {
    const p = { ...plan, services: [{ ...worker, command: ['sh', '-c', 'echo $HOME'] }] };
    const text = composeText(composeDocument(p, p.services[0], { tag: 't', parallelism: 1 }));
    expect(JSON.parse(text).services.worker.command).toEqual(['sh', '-c', 'echo $$HOME']);
  });
});

describe('compose documents: stop_signal and health.host', () => {
  const plan = planSwarm(loadConfig(project(`${HEAD}deploy:
  swarm: { manager: m }
  env_file: /etc/pallet/shop.env
  roles:
    web:
      health: { path: /up/, host: shop.example.com }
      stop_signal: SIGQUIT
      stop_timeout: 20
    worker:
      stop_signal: INT
`)));
  const [web, worker] = plan.services;
  const update = { parallelism: 1, delay: '0s', monitor: '5s', max_failure_ratio: 0 };
  const labels = (role: string) => ({ 'pallet.app': 'shop', 'pallet.role': role, 'pallet.tag': 'b9' });

  test('web: stop_signal, and the health check sends health.host as Host', () => {
    expect(composeDocument(plan, web, { tag: 'b9', parallelism: 1 })).toEqual({
      version: '3.8',
      services: {
        web: {
          image: 'registry.example.com/team/shop:b9',
          command: ['serve'],
          networks: ['app'],
          stop_signal: 'SIGQUIT',
          stop_grace_period: '20s',
          labels: labels('web'),
          env_file: ['/etc/pallet/shop.env'],
          ports: [{ target: 8000, published: 8000, protocol: 'tcp', mode: 'host' }],
          healthcheck: { test: healthCommand(8000, '/up/', 'shop.example.com'), interval: '2s', timeout: '3s', retries: 3, start_period: '60s' },
          deploy: {
            mode: 'global',
            labels: labels('web'),
            update_config: { ...update, order: 'stop-first', failure_action: 'rollback' },
            rollback_config: { ...update, order: 'stop-first', failure_action: 'pause' },
          },
        },
      },
      networks: { app: { external: true, name: 'shop_net' } },
    });
  });

  test('worker: stop_signal spelled without SIG, no health check', () => {
    expect(composeDocument(plan, worker, { tag: 'b9', parallelism: 1 })).toEqual({
      version: '3.8',
      services: {
        worker: {
          image: 'registry.example.com/team/shop:b9',
          command: ['worker'],
          networks: ['app'],
          stop_signal: 'SIGINT',
          stop_grace_period: '30s',
          labels: labels('worker'),
          env_file: ['/etc/pallet/shop.env'],
          deploy: {
            mode: 'replicated',
            replicas: 1,
            labels: labels('worker'),
            update_config: { ...update, order: 'start-first', failure_action: 'rollback' },
            rollback_config: { ...update, order: 'start-first', failure_action: 'pause' },
          },
        },
      },
      networks: { app: { external: true, name: 'shop_net' } },
    });
  });

  test('defaults: SIGTERM, and a health check that sends no Host header of its own', () => {
    const p = planSwarm(loadConfig(project(SWARM)));
    const s = (composeDocument(p, p.services[0], { tag: 't', parallelism: 1 }) as any).services.web;
    expect(s.stop_signal).toBe('SIGTERM');
    expect(s.healthcheck.test).toEqual(['CMD', 'python3', '-c', expect.not.stringContaining('Host'), 'http://127.0.0.1:8000/up/']);
  });
});

describe('commands', () => {
  test.each([
    [stackDeployArgv('shop'), ['docker', 'stack', 'deploy', '--with-registry-auth', '--resolve-image', 'always', '-c', '-', 'shop']],
    [stackDeployArgv('shop', '/tmp/pallet-docker-ab12cd34'), ['env', 'DOCKER_CONFIG=/tmp/pallet-docker-ab12cd34', 'docker', 'stack', 'deploy', '--with-registry-auth', '--resolve-image', 'always', '-c', '-', 'shop']],
    [jobCreateArgv({ name: 'shop_task_1_0', app: 'shop', image: 'r/shop', tag: 'b7', network: 'shop_net', envFile: '/e.env', command: ['deploy'] }),
      ['docker', 'service', 'create', '--detach', '--quiet', '--with-registry-auth', '--name', 'shop_task_1_0', '--mode', 'replicated-job', '--restart-condition', 'none',
        '--network', 'shop_net', '--label', 'pallet.app=shop', '--label', 'pallet.role=task', '--label', 'pallet.tag=b7', '--env-file', '/e.env', 'r/shop:b7', 'deploy']],
  ])('%j', (argv, want) => expect(argv).toEqual(want));

  test('data travels as positional arguments only', () => {
    expect(ensureNetworkArgv('x;rm -rf /', 'a').slice(-2)).toEqual(['x;rm -rf /', 'a']);
    expect(serviceInspectArgv('$(id)').at(-1)).toBe('$(id)');
  });

  test('job names are valid service names', () => {
    expect(jobName('shop', '77.1', 0)).toBe('shop_task_77-1_0');
    expect(jobName('a'.repeat(60), 'r', 1)).toHaveLength(63);
  });

  test.each([
    ['active true', undefined],
    ['active false', /worker, not a manager/],
    ['inactive false', /not part of an active swarm/],
  ] as [string, RegExp | undefined][])('swarm state %j', (out, want) => {
    const p = swarmInfoProblem(out);
    if (want) expect(p).toMatch(want); else expect(p).toBeUndefined();
  });
});

describe('parsers', () => {
  test('service info with and without an update status', () => {
    expect(parseServiceInfo('')).toBeUndefined();
    expect(parseServiceInfo('abc\tr/shop:b7@sha256:00\tnull\t12\n')).toEqual({ id: 'abc', image: 'r/shop:b7@sha256:00', update: undefined, version: 12 });
    expect(parseServiceInfo('abc\tr/shop:b7\t{"State":"rollback_completed","StartedAt":"T","Message":"rollback completed"}\t3')!.update)
      .toEqual({ state: 'rollback_completed', message: 'rollback completed', startedAt: 'T' });
  });
  test.each([['r:5000/shop:b7@sha256:ab', 'b7'], ['r:5000/shop', ''], ['shop:latest', 'latest']])('tagOf %s', (ref, tag) => expect(tagOf(ref)).toBe(tag));

  const ps = [
    'n1\tlab-host-1\tr/shop:b8@sha256:1\tRunning\tRunning 3 seconds ago\t',
    'o1\tlab-host-1\tr/shop:b7@sha256:0\tShutdown\tShutdown 5 seconds ago\t',
    'f1\tlab-host-2\tr/shop:b8@sha256:1\tShutdown\tFailed 9 seconds ago\t"task: non-zero exit (137): dockerexec: unhealthy container"',
    'o2\tlab-host-2\tr/shop:b7@sha256:0\tRunning\tRunning 2 minutes ago\t',
    'o3\tlab-host-3\tr/shop:b7@sha256:0\tRunning\tStarting 1 second ago\t',
  ].join('\n');
  test('tasks counted against a tag', () => {
    const tasks = parseTasks(ps);
    expect(tasks[2]).toMatchObject({ id: 'f1', desired: 'shutdown', error: 'task: non-zero exit (137): dockerexec: unhealthy container' });
    expect(countTasks(tasks, 'b8')).toEqual({ desired: 3, running: 1, behind: ['lab-host-2', 'lab-host-3'] });
    expect(countTasks(tasks, 'b7')).toEqual({ desired: 3, running: 1, behind: ['lab-host-1', 'lab-host-3'] });
  });
  test('the reason Swarm gave for a rollback names the failed task', () => {
    const msg = 'update rolled back due to failure or early termination of task f1xxxxxxxxxx';
    expect(failedTaskOf(msg)).toBe('f1xxxxxxxxxx');
    expect(rollbackReason({ state: 'rollback_completed', message: msg, startedAt: '' }, parseTasks(ps)))
      .toBe(`${msg}; task on lab-host-2: task: non-zero exit (137): dockerexec: unhealthy container`);
  });
  test.each([
    ['', 'pending'], ['j\tn\ti\tRunning\tRunning 1 second ago\t', 'pending'],
    ['j\tn\ti\tComplete\tComplete 1 second ago\t', 'complete'], ['j\tn\ti\tShutdown\tFailed 2 seconds ago\t"task: non-zero exit (3)"', 'failed'],
  ])('job state %j -> %s', (out, want) => expect(jobState(parseTasks(out)).state).toBe(want));
  test('nodes', () => expect(parseNodes('lab-host-1\tReady\tActive\nlab-host-3\tDown\tActive\n')).toEqual([
    { hostname: 'lab-host-1', status: 'ready', availability: 'active' }, { hostname: 'lab-host-3', status: 'down', availability: 'active' },
  ]));
});

describe('report', () => {
  const plan = planSwarm(loadConfig(project(SWARM)));
  const base: SwarmReport = {
    target: 'swarm', ok: false, mode: 'deploy', plan, phase: 'rolling', reverted: true, revertProblems: [], oldTag: 'b7', newTag: 'b8', notes: [],
    error: 'health check failed on shop_web: Swarm rolled the update back: x', failedService: 'shop_web', failedStep: 'health check',
    services: [
      { service: 'shop_web', role: 'web', oldTag: 'b7', newTag: 'b8', running: 3, desired: 3, result: 'rolled back by Swarm', behind: [], ms: 1 },
      { service: 'shop_worker', role: 'worker', oldTag: 'b7', newTag: 'b8', running: 0, desired: 0, result: 'not started', behind: [], ms: 0 },
    ],
  };
  test('failure message names the service, the step, the reason and reverted=true', () => {
    expect(swarmFailureMessage(base)).toBe('deploy health check failed on shop_web: Swarm rolled the update back: x — reverted=true: shop_web rolled back by Swarm');
  });
  test('a failed task touches no service', () => {
    expect(swarmFailureMessage({ ...base, phase: 'tasks', reverted: false, failedService: 'shop_task_1_0', failedStep: "task 'deploy'", error: "task 'deploy' failed on shop_task_1_0: task: non-zero exit (1)" }))
      .toBe("deploy task 'deploy' failed on shop_task_1_0: task: non-zero exit (1) — no service was touched; every service still runs its previous image");
  });
  test('outputs', () => expect(swarmOutputs(base, 'b8')).toEqual({ tag: 'b8', 'previous-tag': 'b7', 'deployed-hosts': '', reverted: 'true' }));
});
