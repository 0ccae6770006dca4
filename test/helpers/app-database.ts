// A PostgreSQL for an app deployed to the lab hosts, and the app's env file on every host, the way
// a real host has /etc/pallet/APP.env with DATABASE_URL and SECRET_KEY. Used by the deploy tests,
// the benchmarks and the demo.
import Docker from 'dockerode';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { LabDescriptor, LabHost } from './lab.js';

const execFileP = promisify(execFile);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Runs a shell command on a lab host with the lab's key (test-side access, not the code under test). */
export async function labSsh(lab: LabDescriptor, host: LabHost, command: string, input?: string): Promise<string> {
  const args = ['-i', lab.ssh.privateKeyPath, '-o', 'IdentitiesOnly=yes', '-o', `UserKnownHostsFile=${lab.ssh.knownHostsPath}`,
    '-o', 'StrictHostKeyChecking=yes', '-o', 'BatchMode=yes', '-o', 'ConnectTimeout=10', '-p', String(host.sshPort), `${lab.ssh.user}@${host.sshHost}`, command];
  const p = execFileP('ssh', args, { timeout: 60_000, maxBuffer: 10 << 20 });
  p.child.stdin!.end(input ?? '');
  return (await p).stdout;
}

export interface AppDatabase {
  containerId: string;
  /** postgres:// URL that works from inside the hosts' containers. */
  url: string;
  remove(): Promise<void>;
}

/**
 * Starts PostgreSQL from the lab image on the hosts' network and waits (bounded) until it accepts
 * connections. `password` (default: random letters and digits) may hold any character but a
 * newline; the URL carries it percent-encoded.
 */
export async function startAppDatabase(lab: LabDescriptor, labels: Record<string, string>, docker = new Docker(), password = `pw-${Math.random().toString(36).slice(2, 10)}`): Promise<AppDatabase> {
  const host = await docker.getContainer(lab.hosts[0].containerId).inspect();
  const network = Object.keys(host.NetworkSettings.Networks)[0];
  const c = await docker.createContainer({
    Image: lab.images.postgres,
    Env: ['POSTGRES_USER=app', `POSTGRES_PASSWORD=${password}`, 'POSTGRES_DB=app'],
    Labels: labels,
    HostConfig: { NetworkMode: network },
  });
  const remove = () => c.remove({ force: true, v: true }).then(() => undefined, () => undefined);
  try {
    await c.start();
    const ip = (await c.inspect()).NetworkSettings.Networks[network].IPAddress;
    for (let i = 0; ; i++) {
      const ex = await c.exec({ Cmd: ['pg_isready', '-h', '127.0.0.1', '-U', 'app'], AttachStdout: true, AttachStderr: true });
      const s = await ex.start({});
      s.resume();
      await new Promise((r) => s.on('end', r));
      if ((await ex.inspect()).ExitCode === 0) break;
      if (i >= 60) throw new Error('postgres did not become ready in 60 s');
      await sleep(1000);
    }
    return { containerId: c.id, url: `postgres://app:${encodeURIComponent(password)}@${ip}:5432/app`, remove };
  } catch (e) {
    await remove();
    throw e;
  }
}

/** Writes the app's env file (0600) on every host over ssh: stdin carries the values, never argv. */
export async function writeHostEnvFiles(lab: LabDescriptor, path: string, values: Record<string, string>): Promise<void> {
  const text = Object.entries(values).map(([k, v]) => `${k}=${v}`).join('\n') + '\n';
  const dir = path.replace(/\/[^/]+$/, '') || '/';
  await Promise.all(lab.hosts.map((h) => labSsh(lab, h, `umask 077; mkdir -p '${dir}' && cat > '${path}' && chmod 600 '${path}'`, text)));
}
