// The deploy benchmark's "static" part: what deploy.proxy.static costs a deploy. Two apps of the
// same image on the same 3 hosts behind the per-host proxy, one with `static: { root: /static,
// url: /static/ }` and one without; each round measures both (the order alternates), each from the
// same state: v1 and v2 deployed (not measured), then the code-only release v3 (measured), which
// with deploy.keep 2 also prunes v1 (its image, and with static its files), as a deploy does on a
// fleet in its steady state.
//
// The lab is shared with other work (e2e suites on some hosts): this part never touches the proxy
// container or other apps, uses its own env file and image repository (a deploy prunes every tag
// of its repository beyond keep on a host, so a shared repository would lose other users' images),
// and at the end takes its apps off the hosts the way `pallet remove --yes --delete-data` does.
import { readFileSync } from 'node:fs';
import os from 'node:os';
import type { PalletConfig, ProxyConfig } from '../../src/config/types.js';
import { parseInputs } from '../../src/inputs.js';
import { runRemoveCommand } from '../../src/commands/remove.js';
import { CleanupLedger } from '../../src/util/cleanup.js';
import { CliReporter, setReporter } from '../../src/util/reporter.js';
import { DeployFixture } from '../../test/e2e/deploy-fixture.js';
import { phaseTimes } from './deploy-bound.js';
import { armOrder, roundOf, staticPlaced, type ArmRun, type StaticArm, type StaticRound } from './static-cost.js';

/** Each arm's app and the host name the proxy routes to it. */
export const STATIC_APPS: Record<StaticArm, { app: string; host: string }> = {
  static: { app: 'benchstatic', host: 'benchstatic.test' },
  nostatic: { app: 'benchnostatic', host: 'benchnostatic.test' },
};
/** The env file both apps read (not the e2e suites' /etc/pallet/example.env). */
export const STATIC_ENV_FILE = '/etc/pallet/bench-static.env';
/** The bench's own repository in the lab registry. */
export const STATIC_REPOSITORY = 'pallet-bench/static';
const STATIC_FILES = { root: '/static', url: '/static/' };
const KEEP = 2;
const HOSTS = 3;

/** One measured deploy's log, kept in the results for a look afterwards. */
export interface ArmLog { round: number; arm: StaticArm; lines: string[]; at: number[] }

export interface StaticResult { hosts: string[]; rounds: StaticRound[]; logs: ArmLog[]; cleanup: string[] }

function config(fx: DeployFixture, arm: StaticArm, hosts: string[]): PalletConfig {
  const proxy: ProxyConfig = {
    hosts: [STATIC_APPS[arm].host], tls: 'off', image: fx.lab.images.proxy!, drain_timeout: 2, trusted_proxies: ['private_ranges'],
    ...(arm === 'static' ? { static: STATIC_FILES } : {}),
  };
  const c = fx.config({ web: hosts, workers: [], proxy });
  return { ...c, deploy: { ...c.deploy!, keep: KEEP } };
}

/** The arm's app off the hosts (containers, state, static files) and the measured tag's image gone: each measurement starts alike. */
async function resetArm(fx: DeployFixture, hosts: string[]): Promise<void> {
  await Promise.all(hosts.map((h) => fx.ssh(h, `ids=$(docker ps -aq --filter label=pallet.app=${fx.app}); [ -z "$ids" ] || docker rm -f $ids >/dev/null
rm -rf /var/lib/pallet/${fx.app} /var/lib/pallet/proxy-static/${fx.app}; docker image rm ${fx.repo}:${fx.tags.v3} >/dev/null 2>&1; true`)));
}

async function deployOk(fx: DeployFixture, tag: string, cfg: PalletConfig, hosts: string[], what: string) {
  const r = await fx.deploy('deploy', { tag, config: cfg });
  if (r.result?.exitCode !== 0) throw new Error(`${what} (${fx.app}, ${tag}) failed: ${r.error?.message ?? ''}\n${r.lines.slice(-15).join('\n')}`);
  // Until every host has stopped the previous containers (it holds the app's lock meanwhile).
  await Promise.all(hosts.map((h) => fx.view(h)));
  return r;
}

/** One arm: v1 and v2 deployed, then v3 measured; the app is reset before and after. */
async function measureArm(fx: DeployFixture, arm: StaticArm, hosts: string[], position: number): Promise<{ run: ArmRun; lines: string[]; at: number[] }> {
  const cfg = config(fx, arm, hosts);
  await resetArm(fx, hosts);
  try {
    await deployOk(fx, fx.tags.v1, cfg, hosts, 'warm-up deploy');
    await deployOk(fx, fx.tags.v2, cfg, hosts, 'warm-up deploy');
    const r = await deployOk(fx, fx.tags.v3, cfg, hosts, 'measured deploy');
    const placed = staticPlaced(r.lines, r.at);
    // The arms must be what they say: static files on every host with, none without.
    if (arm === 'static' && (placed.hosts !== hosts.length || placed.files === 0)) throw new Error(`the static arm placed files on ${placed.hosts} of ${hosts.length} hosts (${placed.files} files):\n${r.lines.join('\n')}`);
    if (arm === 'nostatic' && placed.hosts) throw new Error(`the arm without static files placed some:\n${r.lines.join('\n')}`);
    const phases = phaseTimes(r.lines, r.at, r.ms);
    return {
      run: { arm, app: fx.app, position, wallMs: r.ms, pullMaxMs: Math.max(...r.report!.hosts.map((h) => h.pullMs ?? 0)), pullPhaseMs: phases.pull ?? 0, placed, phases },
      lines: r.lines, at: r.at,
    };
  } finally {
    await resetArm(fx, hosts);
  }
}

/** `pallet remove --yes --delete-data` for `cfg`'s app, in process; returns its exit code and log. */
async function removeApp(fx: DeployFixture, cfg: PalletConfig): Promise<{ code: number; lines: string[] }> {
  const raw: Record<string, string> = {
    command: 'remove', yes: 'true', 'delete-data': 'true',
    'ssh-private-key': readFileSync(fx.lab.ssh.privateKeyPath, 'utf8'), 'ssh-known-hosts': readFileSync(fx.lab.ssh.knownHostsPath, 'utf8'),
  };
  const lines: string[] = [];
  const reporter = setReporter(new CliReporter((l) => lines.push(l), (l) => lines.push(l))) as CliReporter;
  const ledger = new CleanupLedger();
  try {
    const r = await runRemoveCommand({
      inputs: parseInputs((n) => raw[n] ?? '', 'flag'), config: cfg, ledger, where: 'flag', signal: new AbortController().signal,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, USER: 'bench', RUNNER_TEMP: fx.runnerTemp },
    });
    await reporter.summary.write();
    return { code: r.exitCode, lines };
  } catch (e) {
    return { code: 1, lines: [...lines, String(e)] };
  } finally {
    await ledger.runAll();
  }
}

/**
 * The whole part: images built and pushed (v1..v3 of the example app, code-only apart), a
 * database and the env file, `rounds` rounds, then both apps removed and the fixture torn down.
 */
export async function measureStatic(rounds: number, onRound: (r: StaticRound) => void = () => undefined): Promise<StaticResult> {
  const opts = { envFile: STATIC_ENV_FILE, repository: STATIC_REPOSITORY };
  const fx: Record<StaticArm, DeployFixture> = { static: new DeployFixture(STATIC_APPS.static.app, opts), nostatic: new DeployFixture(STATIC_APPS.nostatic.app, opts) };
  const lab = fx.static.lab;
  if (!lab.images.proxy) throw new Error('the lab has no proxy image: run `npm run lab:up` again');
  if (lab.hosts.length < HOSTS) throw new Error(`the static part needs ${HOSTS} lab hosts, the lab has ${lab.hosts.length}`);
  const hosts = fx.static.addresses.slice(0, HOSTS);
  const result: StaticResult = { hosts, rounds: [], logs: [], cleanup: [] };
  try {
    console.log(`static: building and pushing the example image variants to ${fx.static.repo} ...`);
    await fx.static.setup(['v1', 'v2', 'v3'], { ALLOWED_HOSTS: `${STATIC_APPS.static.host},${STATIC_APPS.nostatic.host}` });
    Object.assign(fx.nostatic.tags, fx.static.tags);
    for (let i = 0; i < rounds; i++) {
      const load = os.loadavg()[0];
      const runs: ArmRun[] = [];
      for (const [position, arm] of armOrder(i).entries()) {
        const m = await measureArm(fx[arm], arm, hosts, position);
        runs.push(m.run);
        result.logs.push({ round: i + 1, arm, lines: m.lines, at: m.at });
        console.log(`static: round ${i + 1}, ${arm}: ${(m.run.wallMs / 1000).toFixed(1)}s, pull phase ${(m.run.pullPhaseMs / 1000).toFixed(1)}s, phases ${JSON.stringify(m.run.phases)}${arm === 'static' ? `, ${m.run.placed.files} files (${m.run.placed.kib} KiB) placed in ${(m.run.placed.ms / 1000).toFixed(2)}s` : ''}`);
      }
      const round = roundOf(i, load, runs);
      result.rounds.push(round);
      onRound(round);
    }
  } finally {
    // Both apps off the hosts as `pallet remove` takes them: routes, containers, network, static
    // files, the bench repository's images, state. The proxy and other apps stay.
    for (const arm of ['static', 'nostatic'] as StaticArm[]) {
      const r = await removeApp(fx[arm], config(fx[arm], arm, hosts));
      result.cleanup.push(`${fx[arm].app}: remove exit ${r.code}`);
      if (r.code !== 0) {
        console.error(`static: removing ${fx[arm].app} failed (exit ${r.code}):\n${r.lines.join('\n')}`);
        await resetArm(fx[arm], hosts).catch(() => undefined);
      }
    }
    await fx.nostatic.teardown();
    await fx.static.teardown();
  }
  return result;
}
