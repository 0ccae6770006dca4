// `pallet run -- CMD`: services published on 127.0.0.1, the same variables pointing there, the
// host command's exit code propagated, everything removed afterwards.
import { spawn } from 'node:child_process';
import { REPO_ROOT } from '../helpers/lab.js';
import { labMissing, labServiceImages, leftovers, sweep, uniqueApp, writeConfigDir } from '../helpers/cleanroom-lab.js';
import { CLI_COMMAND } from '../helpers/entry.js';

const images = labServiceImages();
const missing = await labMissing([images.postgres, images.redis]);
if (missing) console.warn(`skipping pallet run e2e: ${missing}`);
const d = missing ? describe.skip : describe;

function pallet(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(CLI_COMMAND[0], [...CLI_COMMAND.slice(1), ...args], {
      cwd: REPO_ROOT, env: { PATH: process.env.PATH, HOME: process.env.HOME }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b) => (stdout += b));
    child.stderr.on('data', (b) => (stderr += b));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Host-side check: PING redis at REDIS_HOSTS, open DATABASE_URL's port, print what it saw, exit 7. */
const HOST_SCRIPT = `
const net = require('net');
const [h, p] = process.env.REDIS_HOSTS.split(':');
const db = new URL(process.env.DATABASE_URL);
console.log('env', process.env.ENVIRONMENT, process.env.DATABASE_URL, process.env.REDIS_URL, process.env.SECRET_KEY);
const s = net.connect(Number(p), h, () => s.write('PING\\r\\n'));
s.on('data', (d) => {
  console.log('redis says', d.toString().trim());
  s.destroy();
  const c = net.connect(Number(db.port), db.hostname, () => { console.log('postgres port open'); c.destroy(); process.exit(7); });
  c.on('error', (e) => { console.log('postgres', e.message); process.exit(3); });
});
s.on('error', (e) => { console.log('redis', e.message); process.exit(2); });
`;

d('pallet run', () => {
  const app = uniqueApp('hostrun');
  afterAll(() => sweep([`pallet.app=${app}`]));

  test('host command gets 127.0.0.1 service URLs, its exit code is pallet\'s, nothing is left', async () => {
    const [repo] = images.postgres.split(/:(?=[^/:]+$)/);
    const dir = writeConfigDir({
      app,
      image: repo,
      build: { context: '.' },
      test: {
        services: [{ name: 'postgres', image: images.postgres }, { name: 'redis', image: images.redis }],
        environment: { SECRET_KEY: 'dummy' },
      },
    });
    const res = await pallet(['run', '--working-directory', dir, '--', process.execPath, '-e', HOST_SCRIPT]);
    if (res.code !== 7) console.log(res.stdout, res.stderr);
    expect(res.code).toBe(7);
    const env = /^env test postgres:\/\/app:secret@127\.0\.0\.1:(\d+)\/app redis:\/\/127\.0\.0\.1:(\d+)\/0 dummy$/m.exec(res.stdout);
    expect(env).not.toBeNull();
    expect(Number(env![1])).not.toBe(5432);
    expect(res.stdout).toContain(`postgres: 127.0.0.1:${env![1]}`);
    expect(res.stdout).toContain('redis says +PONG');
    expect(res.stdout).toContain('postgres port open');
    expect(await leftovers([`pallet.app=${app}`])).toEqual({ containers: [], networks: [] });
  }, 300_000);

  test('no command after -- is a usage error that creates nothing', async () => {
    const dir = writeConfigDir({ app, image: 'x', test: { services: [{ name: 'redis', image: images.redis }] } });
    const res = await pallet(['run', '--working-directory', dir]);
    expect(res.code).toBe(1);
    expect(res.stderr).toContain('pallet run: no command given');
    expect(await leftovers([`pallet.app=${app}`])).toEqual({ containers: [], networks: [] });
  }, 60_000);
});
