// `npm run demo`: the whole product on this machine. Brings the lab up, then takes the example
// Django app through what CI and CD do — build (wheelhouse + image), cleanroom test against a
// throw-away PostgreSQL, push to the lab registry, deploy to the lab hosts behind nginx — then a
// second release and a rollback, and prints what happened. It drives the real `pallet` CLI.
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { REPO_ROOT, readLab, type LabDescriptor } from '../test/helpers/lab.js';
import { labSsh, startAppDatabase, writeHostEnvFiles } from '../test/helpers/app-database.js';

const APP_DIR = path.join(REPO_ROOT, 'examples/django-app');
const DEMO_CONFIG = '.pallet-demo.yml';
const rows: [string, string, string][] = [];

function run(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: opts.cwd ?? REPO_ROOT, env: { ...process.env, ...opts.env }, stdio: ['ignore', 'inherit', 'inherit'] });
    child.on('error', reject);
    child.on('close', (code) => resolve(code ?? 1));
  });
}

async function step(name: string, fn: () => Promise<string | void>): Promise<void> {
  process.stdout.write(`\n\x1b[1m━━ ${name}\x1b[0m\n`);
  const t0 = Date.now();
  try {
    const note = (await fn()) ?? '';
    rows.push([name, `ok (${((Date.now() - t0) / 1000).toFixed(1)}s)`, note]);
  } catch (e) {
    rows.push([name, 'FAILED', (e as Error).message]);
    throw e;
  }
}

/** pallet.yml of the example, with the lab's hosts and this release's version baked in. */
function writeDemoConfig(lab: LabDescriptor, version: string): void {
  const doc = YAML.parseDocument(readFileSync(path.join(APP_DIR, 'pallet.yml'), 'utf8'));
  const [h1, h2, h3] = lab.hosts.map((h) => h.address);
  doc.setIn(['build', 'args'], { APP_VERSION: version });
  doc.setIn(['deploy', 'roles', 'web', 'hosts'], [h1, h2, h3].filter(Boolean));
  doc.setIn(['deploy', 'roles', 'worker', 'hosts'], [h3 ?? h1]);
  doc.setIn(['deploy', 'roles', 'beat', 'hosts'], [h3 ?? h1]);
  doc.setIn(['deploy', 'url'], lab.lb.url);
  // The lab's hosts are reached as root; the example's deploy user is for hosts prepared as docs/hosts.md says.
  doc.setIn(['deploy', 'ssh', 'user'], 'root');
  // The demo's load balancer sends to the hosts' published port 8000 (no Host names in the lab's DNS).
  doc.setIn(['deploy', 'proxy'], false);
  writeFileSync(path.join(APP_DIR, DEMO_CONFIG), `# written by examples/demo.ts for the lab\n${doc.toString()}`);
}

async function servedVersions(url: string, n = 9): Promise<string> {
  const seen = new Map<string, number>();
  for (let i = 0; i < n; i++) {
    const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
    const body = (await res.json()) as { version?: string };
    const key = `${res.status} ${body.version ?? '?'}`;
    seen.set(key, (seen.get(key) ?? 0) + 1);
  }
  return [...seen].map(([k, c]) => `${k} x${c}`).join(', ');
}

async function main(): Promise<void> {
  await step('lab up (Docker Engine, registry, 3 SSH hosts, nginx)', async () => {
    if ((await run('npx', ['tsx', 'test/lab/cli.ts', 'up'])) !== 0) throw new Error('lab up failed');
  });
  const lab = readLab();
  const image = `${lab.registry.address}/pallet/example`;
  const pallet = (args: string[]) => run('npx', ['tsx', path.join(REPO_ROOT, 'src/cli.ts'), ...args, '--config', DEMO_CONFIG, '--image', image], {
    cwd: APP_DIR,
    env: {
      PALLET_REGISTRY_PASSWORD: lab.registry.password,
      PALLET_SSH_PRIVATE_KEY: readFileSync(lab.ssh.privateKeyPath, 'utf8'),
    },
  });
  const hostArgs = ['--registry-username', lab.registry.username, '--ssh-known-hosts', readFileSync(lab.ssh.knownHostsPath, 'utf8')];

  const db = await startAppDatabase(lab, { 'pallet.demo': 'true' });
  try {
    await step('production settings on every host (/etc/pallet/example.env)', async () => {
      await writeHostEnvFiles(lab, '/etc/pallet/example.env', {
        DATABASE_URL: db.url, SECRET_KEY: `demo-${Date.now()}`, ALLOWED_HOSTS: '*', ENVIRONMENT: 'production', WEB_CONCURRENCY: '2',
      });
      return 'DATABASE_URL -> a PostgreSQL on the lab network';
    });
    for (const tag of ['build-1', 'build-2']) {
      writeDemoConfig(lab, tag);
      await step(`pallet ci --tag ${tag} (build, cleanroom test, push)`, async () => {
        if ((await pallet(['ci', '--tag', tag, '--registry-username', lab.registry.username])) !== 0) throw new Error(`pallet ci ${tag} failed`);
        return `${image}:${tag}`;
      });
      await step(`pallet deploy --tag ${tag} (pull, migrate once, rolling restart)`, async () => {
        if ((await pallet(['deploy', '--tag', tag, ...hostArgs])) !== 0) throw new Error(`pallet deploy ${tag} failed`);
        return `load balancer serves: ${await servedVersions(lab.lb.url)}`;
      });
    }
    await step('pallet rollback (back to the previous release on every host)', async () => {
      if ((await pallet(['rollback', ...hostArgs])) !== 0) throw new Error('pallet rollback failed');
      return `load balancer serves: ${await servedVersions(lab.lb.url)}`;
    });
  } finally {
    rmSync(path.join(APP_DIR, DEMO_CONFIG), { force: true });
    printSummary(lab);
    // Leave the lab as the tests expect it: the example's containers (they hold port 8000), its
    // state and env file go, by the app's label; the lab itself stays up for the next run.
    await Promise.all(lab.hosts.map((h) => labSsh(lab, h,
      'ids=$(docker ps -aq --filter label=pallet.app=example); [ -z "$ids" ] || docker rm -f $ids >/dev/null; rm -rf /var/lib/pallet/example /etc/pallet/example.env').catch(() => undefined)));
    await db.remove();
  }
}

function printSummary(lab: LabDescriptor): void {
  const w = [Math.max(...rows.map((r) => r[0].length)), Math.max(...rows.map((r) => r[1].length))];
  process.stdout.write('\n\x1b[1m━━ demo summary\x1b[0m\n');
  for (const [a, b, c] of rows) process.stdout.write(`${a.padEnd(w[0])}  ${b.padEnd(w[1])}  ${c}\n`);
  process.stdout.write(`\nload balancer: ${lab.lb.url}   hosts: ${lab.hosts.map((h) => h.address).join(', ')}\n`);
  process.stdout.write(`remove the lab with: npm run lab:down\n`);
}

main().catch((e) => {
  process.stderr.write(`\ndemo failed: ${(e as Error).message}\n`);
  process.exit(1);
});
