// The Swarm target's pure parts: pallet.yml deploy.swarm (schema + semantic checks with
// file:line), the plan, the Compose documents, the command vectors and the parsers of what
// docker prints on the manager, and the day-2 commands (status, logs, exec, lock) on a swarm.
import http from 'node:http';
import { spawn } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig, displayPath } from '../../src/config/load.js';
import { planSwarm } from '../../src/swarm/plan.js';
import { composeDocument, composeText, healthCommand } from '../../src/swarm/compose.js';
import {
  countTasks, ensureNetworkArgv, failedTaskOf, jobCreateArgv, jobState, parseNodes, parseServiceInfo, parseTasks,
  rollbackReason, runningTask, serviceInspectArgv, serviceLogsArgv, stackDeployArgv, swarmInfoProblem, tagOf,
} from '../../src/swarm/commands.js';
import { convergeTimeout, desiredTasks, stallSeconds } from '../../src/swarm/rollout.js';
import { execJobName, jobName } from '../../src/swarm/job.js';
import {
  nodeRows, parseSwarmStatus, serviceRows, serviceViews, swarmStatusArgv, swarmStatusProblems, taskRows, unreachableStatus,
} from '../../src/swarm/status.js';
import { selectSwarmService, selectSwarmServices, swarmManager } from '../../src/ops/select.js';
import { logsArgv } from '../../src/ops/logs.js';
import { lockStatusArgv } from '../../src/ops/lock.js';
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
    expect(healthCommand(8000, 'health/')).toEqual(['CMD', 'python3', '-c', expect.stringContaining('u.Request(sys.argv[1]'), 'http://127.0.0.1:8000/health/']);
  });
  // The same rule as every other target: 2xx healthy, a redirect is not followed (it fails).
  test.each<[number, number]>([[200, 0], [204, 0], [302, 1], [400, 1], [500, 1]])('health command: HTTP %s -> exit %s', async (status, exit) => {
    const seen: string[] = [];
    const server = http.createServer((req, res) => {
      seen.push(req.headers.host ?? '');
      res.writeHead(status, status === 302 ? { Location: '/elsewhere/' } : {}).end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    try {
      const [, cmd, ...args] = healthCommand(port, '/health/', 'shop.test');
      const code = await new Promise<number | null>((r) => spawn(cmd, args, { stdio: 'ignore' }).on('close', r));
      expect({ code, seen }).toEqual({ code: exit, seen: ['shop.test'] });
    } finally {
      server.close();
    }
  });
  test('health command with health.host: the Host header, host and URL as arguments', () => {
    expect(healthCommand(8000, '/up/', 'shop.example.com')).toEqual([
      'CMD', 'python3', '-c', expect.stringContaining("{'Host': sys.argv[2]}"), 'http://127.0.0.1:8000/up/', 'shop.example.com',
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
    // Without health.host there is no second argument: the script sends no Host of its own.
    expect(s.healthcheck.test).toEqual(['CMD', 'python3', '-c', expect.any(String), 'http://127.0.0.1:8000/up/']);
  });
});

describe('commands', () => {
  test.each([
    [stackDeployArgv('shop'), ['docker', 'stack', 'deploy', '--with-registry-auth', '--resolve-image', 'always', '-c', '-', 'shop']],
    [stackDeployArgv('shop', '/tmp/pallet-docker-ab12cd34'), ['env', 'DOCKER_CONFIG=/tmp/pallet-docker-ab12cd34', 'docker', 'stack', 'deploy', '--with-registry-auth', '--resolve-image', 'always', '-c', '-', 'shop']],
    [jobCreateArgv({ name: 'shop_task_1_0', app: 'shop', image: 'r/shop', tag: 'b7', kind: 'task', network: 'shop_net', envFile: '/e.env', command: ['deploy'] }),
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

describe('day-2 on a swarm', () => {
  const plan = planSwarm(loadConfig(project(SWARM)));

  describe('selection', () => {
    test.each(['deploy@mgr.example.com:2222', 'mgr.example.com', 'mgr.example.com:2222', 'deploy@mgr.example.com', undefined])('--host %s names the manager', (host) => {
      expect(swarmManager(plan, { host })).toBe(plan.manager);
    });
    test('--host naming anything but the manager is refused: Swarm places the tasks', () => {
      expect(messageOf(() => swarmManager(plan, { host: 'lab-host-2' })))
        .toBe("--host: shop runs on a Docker Swarm (deploy.swarm), reached through its manager deploy@mgr.example.com:2222; Swarm places the tasks on its nodes, so there is no host 'lab-host-2' to pick");
      expect(messageOf(() => selectSwarmServices(plan, { host: 'x', where: 'input' }))).toMatch(/^input 'host': shop runs on a Docker Swarm/);
    });
    test.each<[Parameters<typeof selectSwarmServices>[1], string[]]>([
      [{}, ['shop_web', 'shop_worker', 'shop_beat']],
      [{ role: 'worker' }, ['shop_worker']],
      [{ role: 'beat', host: 'mgr.example.com' }, ['shop_beat']],
    ])('status services %j', (flags, want) => expect(selectSwarmServices(plan, flags).map((s) => s.name)).toEqual(want));
    test.each<[Parameters<typeof selectSwarmService>[1], string]>([
      [{}, 'shop_web'], [{ role: 'worker' }, 'shop_worker'],
    ])('exec and logs service %j', (flags, want) => expect(selectSwarmService(plan, flags).name).toBe(want));
    test.each<[Parameters<typeof selectSwarmService>[1], string]>([
      [{ role: 'scheduler' }, "--role: unknown role 'scheduler' (this app's roles: web, worker, beat)"],
      [{ role: 'webb' }, "--role: unknown role 'webb'; did you mean 'web'? (this app's roles: web, worker, beat)"],
      [{ allHosts: true }, '--all-hosts: shop runs on a Docker Swarm (deploy.swarm), where exec runs once, as one Swarm task'],
    ])('refused: %j', (flags, msg) => expect(messageOf(() => selectSwarmService(plan, flags))).toBe(msg));
  });

  describe('status', () => {
    const out = [
      'now=1764455196', 'tag=b8', 'revert=b7', 'lock=run 77.1 by octo since 2026-11-29T22:00:00.000Z',
      'node=lab-host-1\tReady\tActive', 'node=lab-host-2\tReady\tActive', 'node=lab-host-3\tDown\tActive',
      'service=s1\tshop_web\tweb\tr/shop:b8@sha256:1\t{"State":"completed","StartedAt":"T","Message":"update completed"}\t{"Global":{}}',
      'task=s1\tt1\tlab-host-1\tr/shop:b8@sha256:1\tRunning\tRunning 3 hours ago\t',
      'task=s1\tt0\tlab-host-1\tr/shop:b7@sha256:0\tShutdown\tShutdown 3 hours ago\t',
      'task=s1\tt2\tlab-host-2\tr/shop:b7@sha256:0\tRunning\tRunning 2 hours ago\t',
      'task=s1\tt3\tlab-host-3\tr/shop:b8@sha256:1\tRunning\tStarting 1 second ago\t',
      'task=s1\tf3\tlab-host-3\tr/shop:b8@sha256:1\tShutdown\tFailed 5 minutes ago\t"task: non-zero exit (1)"',
      'service=s2\tshop_worker\tworker\tr/shop:b8@sha256:1\tnull\t{"Replicated":{"Replicas":2}}',
      'task=s2\tw1\tlab-host-2\tr/shop:b8@sha256:1\tRunning\tRunning 3 hours ago\t',
      'service=s3\tshop_exec_web_abc123\texec\tr/shop:b8@sha256:1\tnull\t{"ReplicatedJob":{"MaxConcurrent":1,"TotalCompletions":1}}',
      'task=s3\tj1\tlab-host-1\tr/shop:b8@sha256:1\tComplete\tComplete 2 minutes ago\t',
      'audit=2026-11-29T22:00:00.000Z\tocto\tshop\tdeploy\tb7->b8\tsuccess\trun=77.1',
    ].join('\n');
    const st = parseSwarmStatus('mgr', out);

    test('one script on the manager: state dir, app, audit lines and Docker\'s formats as arguments', () => {
      const a = swarmStatusArgv('shop', 3);
      expect(a.slice(0, 2)).toEqual(['sh', '-c']);
      expect(a.slice(3, 7)).toEqual(['sh', '/var/lib/pallet/shop', 'shop', '3']);
      expect(a.slice(7)).toEqual([
        '{{.Spec.Name}}\t{{index .Spec.Labels "pallet.role"}}\t{{.Spec.TaskTemplate.ContainerSpec.Image}}\t{{json .UpdateStatus}}\t{{json .Spec.Mode}}',
        '{{.ID}}\t{{.Node}}\t{{.Image}}\t{{.DesiredState}}\t{{.CurrentState}}\t{{.Error}}',
        '{{.Hostname}}\t{{.Status}}\t{{.Availability}}',
      ]);
      expect(a[2]).toContain('label=pallet.app=$app');
    });

    test('the script itself, run by sh against a stand-in docker: state files, nodes, services and tasks come out as parsed', () => {
      const bin = path.join(tmp, 'fake-docker');
      const state = path.join(tmp, 'state');
      mkdirSync(bin, { recursive: true });
      mkdirSync(path.join(state, 'lock'), { recursive: true });
      writeFileSync(path.join(state, 'TAG'), 'b8\n');
      writeFileSync(path.join(state, 'lock', 'owner'), 'run 1 by a since t\n');
      writeFileSync(path.join(state, 'audit.log'), 'one\ntwo\nthree\n');
      // s2 disappears between `service ls` and `service inspect`: skipped.
      writeFileSync(path.join(bin, 'docker'), `#!/bin/sh
case "$1 $2" in
  "node ls") printf 'lab-host-1\\tReady\\tActive\\n' ;;
  "service ls") printf 's1\\ns2\\n' ;;
  "service inspect") [ "$5" = s1 ] || exit 1; printf 'shop_web\\tweb\\tr/shop:b8@sha256:1\\tnull\\t{"Global":{}}\\n' ;;
  "service ps") printf 't1\\tlab-host-1\\tr/shop:b8@sha256:1\\tRunning\\tRunning 3 hours ago\\t\\n' ;;
  *) exit 9 ;;
esac
`, { mode: 0o755 });
      const argv = swarmStatusArgv('shop', 2);
      argv[4] = state;
      const env = { PATH: `${bin}:${process.env.PATH}` };
      const got = parseSwarmStatus('mgr', execFileSync(argv[0], argv.slice(1), { env, encoding: 'utf8' }));
      expect(got).toEqual({
        manager: 'mgr', tag: 'b8', revert: '', lock: 'run 1 by a since t', audit: ['two', 'three'],
        nodes: [{ hostname: 'lab-host-1', status: 'ready', availability: 'active' }],
        services: [{
          service: 'shop_web', role: 'web', image: 'r/shop:b8@sha256:1', tag: 'b8', mode: 'global', desired: 1, running: 1,
          tasks: [{ id: 't1', node: 'lab-host-1', image: 'r/shop:b8@sha256:1', desired: 'running', current: 'Running 3 hours ago', error: '' }],
        }],
      });
      // Not a manager: docker node ls fails, and so does the script.
      writeFileSync(path.join(bin, 'docker'), '#!/bin/sh\necho "Error: This node is not a swarm manager." >&2; exit 1\n', { mode: 0o755 });
      expect(spawnSync(argv[0], argv.slice(1), { env }).status).toBe(2);
    });

    test('parses the state, nodes, services with their current tasks and last failure', () => {
      expect(st).toMatchObject({ manager: 'mgr', tag: 'b8', revert: 'b7', lock: 'run 77.1 by octo since 2026-11-29T22:00:00.000Z', audit: [expect.stringContaining('b7->b8')] });
      expect(st.nodes.map((x) => x.status)).toEqual(['ready', 'ready', 'down']);
      const [web, worker, job] = st.services;
      expect(web).toMatchObject({ service: 'shop_web', role: 'web', tag: 'b8', mode: 'global', desired: 3, running: 2, update: { state: 'completed' } });
      expect(web.tasks.map((t) => t.id)).toEqual(['t1', 't2', 't3']);
      expect(web.lastFailure).toMatchObject({ id: 'f3', error: 'task: non-zero exit (1)' });
      expect(worker).toMatchObject({ mode: 'replicated', desired: 2, running: 1 });
      expect(worker.update).toBeUndefined();
      expect(worker.lastFailure).toBeUndefined();
      expect(job).toMatchObject({ service: 'shop_exec_web_abc123', role: 'exec', mode: 'replicated-job', desired: 1, running: 0 });
      expect(parseSwarmStatus('mgr', 'now=1\ntag=\nrevert=\n')).toEqual({ manager: 'mgr', tag: '', revert: '', audit: [], nodes: [], services: [] });
    });

    test('rows: the selected roles\' services (missing ones too), then the app\'s other services; tasks with node and state', () => {
      const views = serviceViews(st, plan.services, true);
      expect(serviceRows(views)).toEqual([
        ['shop_web', 'web', 'b8', 'global', '2/3', 'completed'],
        ['shop_worker', 'worker', 'b8', 'replicated', '1/2', '-'],
        ['shop_beat', 'beat', '-', '-', 'missing', '-'],
        ['shop_exec_web_abc123', 'exec', 'b8', 'replicated-job', '0/1', '-'],
      ]);
      expect(taskRows(views)).toEqual([
        ['shop_web', 'lab-host-1', 'b8', 'Running 3 hours ago', '-'],
        ['shop_web', 'lab-host-2', 'b7', 'Running 2 hours ago', '-'],
        ['shop_web', 'lab-host-3', 'b8', 'Starting 1 second ago', '-'],
        ['shop_worker', 'lab-host-2', 'b8', 'Running 3 hours ago', '-'],
        ['shop_exec_web_abc123', 'lab-host-1', 'b8', 'Complete 2 minutes ago', '-'],
      ]);
      expect(nodeRows(st)).toEqual([['lab-host-1', 'ready', 'active'], ['lab-host-2', 'ready', 'active'], ['lab-host-3', 'down', 'active']]);
      expect(serviceRows(serviceViews(st, plan.services.filter((x) => x.role === 'worker'), false))).toEqual([['shop_worker', 'worker', 'b8', 'replicated', '1/2', '-']]);
    });

    test('problems: nodes down, tasks short (with the last failure), a task on another tag than TAG, a missing service, a paused update', () => {
      expect(swarmStatusProblems(st, serviceViews(st, plan.services, true))).toEqual([
        'node lab-host-3 is down',
        'shop_web: 2/3 task(s) running; last failure on lab-host-3: task: non-zero exit (1)',
        'shop_web: the task on lab-host-2 runs b7 but TAG says b8',
        'shop_worker: 1/2 task(s) running',
        'shop_beat: no such service on the swarm (not deployed yet)',
      ]);
      const paused = { ...st, nodes: [], services: [{ ...st.services[1], running: 2, update: { state: 'rollback_paused', message: 'update rolled back', startedAt: '' } }] };
      expect(swarmStatusProblems(paused, serviceViews(paused, plan.services.filter((x) => x.role === 'worker'), false)))
        .toEqual(["shop_worker: Swarm's update is rollback paused: update rolled back"]);
      expect(swarmStatusProblems(unreachableStatus('mgr', 'docker does not answer: x'), [])).toEqual(['mgr: docker does not answer: x']);
    });
  });

  test('logs: docker service logs of the service with timestamps, ending with the ssh session', () => {
    const a = logsArgv({ service: 'shop_web' }, { follow: true, since: '10m', tail: 20 });
    expect(a.slice(0, 2)).toEqual(['sh', '-c']);
    expect(a.slice(3)).toEqual(['sh', 'sh', '-c', 'exec "$@" 2>&1', 'sh',
      'docker', 'service', 'logs', '--timestamps', '--no-task-ids', '--since', '10m', '--tail', '20', '--follow', 'shop_web']);
  });

  test('exec: a Swarm job of the service\'s pinned image on the app network, placed on a node running the service', () => {
    expect(jobCreateArgv({
      name: 'shop_exec_web_abc123', app: 'shop', image: 'r/shop', tag: 'b8', ref: 'r/shop:b8@sha256:1', kind: 'exec', network: 'shop_net',
      envFile: '/etc/pallet/shop.env', constraints: ['node.hostname==lab-host-1'], command: ['manage.py', 'shell', '-c', 'print("$(id)")'],
    })).toEqual([
      'docker', 'service', 'create', '--detach', '--quiet', '--with-registry-auth', '--name', 'shop_exec_web_abc123', '--mode', 'replicated-job',
      '--restart-condition', 'none', '--network', 'shop_net', '--label', 'pallet.app=shop', '--label', 'pallet.role=exec', '--label', 'pallet.tag=b8',
      '--constraint', 'node.hostname==lab-host-1', '--env-file', '/etc/pallet/shop.env', 'r/shop:b8@sha256:1', 'manage.py', 'shell', '-c', 'print("$(id)")',
    ]);
    expect(execJobName('shop', 'web', 'abc123')).toBe('shop_exec_web_abc123');
    expect(execJobName('a'.repeat(70), 'web')).toHaveLength(63);
    expect(execJobName('shop', 'web')).toMatch(/^shop_exec_web_[0-9a-f]{6}$/);
  });

  test('a job\'s output: stdout and stderr as one stream, id as an argument', () => {
    expect(serviceLogsArgv('j1')).toEqual(['sh', '-c', 'exec "$@" 2>&1', 'pallet-job-logs', 'docker', 'service', 'logs', '--raw', '--no-task-ids', 'j1']);
  });

  test.each<[string, ReturnType<typeof jobState>]>([
    ['j\tn\ti\tComplete\tComplete 1 second ago\t', { state: 'complete', exitCode: 0 }],
    ['j\tn\ti\tShutdown\tFailed 2 seconds ago\t"task: non-zero exit (3)"', { state: 'failed', error: 'task: non-zero exit (3)', exitCode: 3 }],
    ['j\tn\ti\tShutdown\tRejected 2 seconds ago\t"No such image: r/shop:b9"', { state: 'failed', error: 'No such image: r/shop:b9' }],
  ])('exit code of a job %j', (ps, want) => expect(jobState(parseTasks(ps))).toEqual(want));

  test('the node of a running task (not one starting or shut down)', () => {
    const tasks = parseTasks('a\tn1\ti\tRunning\tStarting 1 second ago\t\nb\tn2\ti\tShutdown\tRunning 1 second ago\t\nc\tn3\ti\tRunning\tRunning 5 minutes ago\t');
    expect(runningTask(tasks)?.node).toBe('n3');
    expect(runningTask([])).toBeUndefined();
  });

  test('the lock lives in the manager\'s state dir, as on a fleet host', () => {
    expect(lockStatusArgv(plan.app).at(-1)).toBe('/var/lib/pallet/shop');
  });
});
