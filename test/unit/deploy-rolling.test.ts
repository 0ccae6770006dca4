// The rolling restart and revert against fake hosts that record every remote command: order of
// roles and batches, candidates before switches, and what a revert touches.
import { planDeploy } from '../../src/deploy/plan.js';
import { rollRole } from '../../src/deploy/restart.js';
import { revertTouched } from '../../src/deploy/revert.js';
import { failures, forEachHost } from '../../src/deploy/parallel.js';
import { CleanupLedger } from '../../src/util/cleanup.js';
import { CliReporter, setReporter } from '../../src/util/reporter.js';
import type { DeployRun, HostRecord } from '../../src/deploy/types.js';
import type { SshConnection } from '../../src/ssh/connection.js';
import type { PalletConfig } from '../../src/config/types.js';

type Call = { host: string; what: string; tag?: string };

function setup(failWhen?: (c: Call) => boolean) {
  setReporter(new CliReporter(() => undefined, () => undefined));
  const config = {
    app: 'shop', image: 'reg/shop', source: { file: 'x', dir: '.' },
    deploy: {
      ssh: { user: 'root', port: 22 }, env_file: '/e', tasks: [['deploy']], keep: 3, rolling: { batch: 1 },
      roles: {
        beat: { hosts: ['c'], command: 'beat', stable: 1, stop_timeout: 1 },
        worker: { hosts: ['c'], command: 'worker', stable: 1, stop_timeout: 1 },
        web: { hosts: ['a', 'b', 'c'], command: 'serve', port: 8000, stop_timeout: 1 },
      },
    },
  } as unknown as PalletConfig;
  const plan = planDeploy(config);
  const calls: Call[] = [];
  const hosts = new Map<string, HostRecord>();
  for (const t of plan.hosts) {
    const conn = {
      name: t.label,
      async run(argv: string[]) {
        const script = argv[2] ?? '';
        const what = argv[1] === 'run' ? `start ${argv[argv.indexOf('--name') + 1]}`
          : script.includes('candidate') ? `probe ${argv[4]}` : script.includes('docker kill --signal') ? `stop ${argv[4]}`
          : script.includes('curl') ? `health ${argv[4]}` : script.includes('sleep "$s"') ? `stable ${argv[4]}` : argv.join(' ');
        const tag = argv.find((a) => a.startsWith('reg/shop:'))?.slice('reg/shop:'.length);
        const call = { host: t.label, what, tag };
        calls.push(call);
        await new Promise((r) => setTimeout(r, 2));
        return failWhen?.(call) ? { exitCode: 1, stdout: 'boom', stderr: '' } : { exitCode: 0, stdout: '', stderr: '' };
      },
    } as unknown as SshConnection;
    hosts.set(t.label, { label: t.label, conn, before: { tag: 'old', revert: '' }, target: 'new', roles: [], recorded: true, restartMs: 0, health: [], reverted: false });
  }
  const run: DeployRun = { plan, mode: 'deploy', hosts, ledger: new CleanupLedger(), runId: 'r', actor: 'me', signal: new AbortController().signal, hooks: {}, touched: [] };
  const rollOut = async () => {
    for (const role of plan.roles) {
      await rollRole(run, role, () => undefined, async (batch, fn) => {
        const f = failures(await forEachHost(batch, fn))[0];
        if (f) throw f.error;
      });
    }
  };
  return { run, calls, rollOut };
}

const switches = (calls: Call[]) => calls.filter((c) => c.what.startsWith('start ')).map((c) => `${c.host}:${c.what.slice(6)}:${c.tag}`);

test('web hosts one by one (each candidate probed before its switch), then worker, then beat', async () => {
  const { calls, rollOut, run } = setup();
  await rollOut();
  expect(switches(calls)).toEqual(['a:shop-web:new', 'b:shop-web:new', 'c:shop-web:new', 'c:shop-worker:new', 'c:shop-beat:new']);
  for (const h of ['a', 'b', 'c']) {
    const probe = calls.findIndex((c) => c.host === h && c.what === 'probe shop-web-candidate');
    const stop = calls.findIndex((c) => c.host === h && c.what === 'stop shop-web');
    expect(probe).toBeGreaterThanOrEqual(0);
    expect(probe).toBeLessThan(stop);
  }
  // b's candidate is probed while a switches (overlap), never after b's own stop.
  expect(calls.findIndex((c) => c.host === 'b' && c.what.startsWith('probe'))).toBeLessThan(calls.findIndex((c) => c.host === 'a' && c.what === 'health shop-web'));
  expect(run.touched.map((t) => `${t.host}:${t.role}`)).toEqual(['a:web', 'b:web', 'c:web', 'c:worker', 'c:beat']);
});

test('a failing candidate stops the rollout before that host is touched; the revert restores only switched hosts', async () => {
  const { calls, rollOut, run } = setup((c) => c.host === 'b' && c.what.startsWith('probe'));
  await expect(rollOut()).rejects.toThrow(/health \(web\) failed on b: new version never served: boom/);
  expect(run.touched.map((t) => t.host)).toEqual(['a']);
  calls.length = 0;
  expect(await revertTouched(run)).toEqual([]);
  expect(switches(calls)).toEqual(['a:shop-web:old']);
  expect(calls.some((c) => c.what.startsWith('probe'))).toBe(false);
  expect(run.hosts.get('a')!.reverted).toBe(true);
  expect(run.hosts.get('b')!.reverted).toBe(false);
});

test('a worker that is not stable reverts web and worker on every touched host, workers first on a host', async () => {
  let failed = 0; // the new worker is unstable; the old one, started by the revert, is fine
  const { calls, rollOut, run } = setup((c) => c.what === 'stable shop-worker' && failed++ === 0);
  await expect(rollOut()).rejects.toThrow(/health \(worker\) failed on c/);
  calls.length = 0;
  expect(await revertTouched(run)).toEqual([]);
  const byHost = (h: string) => switches(calls).filter((s) => s.startsWith(`${h}:`));
  expect(byHost('c')).toEqual(['c:shop-worker:old', 'c:shop-web:old']);
  expect([...byHost('a'), ...byHost('b')].sort()).toEqual(['a:shop-web:old', 'b:shop-web:old']);
});

test('a host whose connection dropped is reverted when it answers again, and reported when it does not', async () => {
  const { calls, run } = setup();
  run.touched.push({ host: 'a', role: 'web' }, { host: 'b', role: 'web' });
  run.hosts.get('a')!.lost = 'connection reset';
  run.hosts.get('b')!.lost = 'connection reset';
  // b stays unreachable: its connection throws like a lost ssh connection would.
  const b = run.hosts.get('b')!.conn as unknown as { run: (argv: string[]) => Promise<unknown> };
  b.run = async () => { throw new Error('lost the ssh connection to b'); };
  const problems = await revertTouched(run);
  expect(run.hosts.get('a')!.reverted).toBe(true);
  expect(run.hosts.get('a')!.lost).toBeUndefined();
  expect(switches(calls)).toEqual(['a:shop-web:old']);
  expect(run.hosts.get('b')!.reverted).toBe(false);
  expect(problems).toEqual([expect.stringMatching(/^b: unreachable \(connection reset\); could not be reverted/)]);
});
