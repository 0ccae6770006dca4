// A rate-limited way to the lab registry, for the deploy benchmark's fresh-hosts case: every
// lab "host" is a container on the same machine, so without a limit a pull is bound by the
// machine's shared cores, not by a link. Here each pull connection is held to a fixed rate, as a
// real host's own network link would hold it, so pulls on N hosts in parallel cost about what one
// costs and a sequential script pays it N times.
//
//   outer machine: Debian's nginx (as the lab's LB), listening on the lab network's gateway
//                  address, `limit_rate` per connection, proxying to the lab registry container.
//   each host:     a socat forward 127.0.0.1:PORT -> gateway:nginx port, so the image reference
//                  is a loopback address the hosts' dockerd trusts as an insecure registry
//                  (127.0.0.0/8 always is), the same way the lab's own registry forward works.
// Both are started and stopped by pid; nothing in the lab is changed.
import Docker from 'dockerode';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { LabDescriptor } from '../../test/helpers/lab.js';
import { REGISTRY_INNER_PORT } from '../../test/lab/registry.js';
import { nginxPreamble } from '../../test/lab/lb.js';

export interface LimitedRegistry {
  /** host:port of the limited registry as the hosts see it (loopback on every host). */
  address: string;
  /** nginx's limit_rate value, e.g. "3m" (bytes per second per connection). */
  rate: string;
  stop(): Promise<void>;
}

/** nginx.conf text (pure): one server, every response to a client limited to `rate` per connection. */
export function limitedRegistryConfig(listen: string, upstream: string, rate: string, dir: string): string {
  return `# Written by bench/lib/limited-registry.ts for one benchmark run.
${nginxPreamble(dir)}  client_max_body_size 0;
  server {
    listen ${listen};
    location / {
      proxy_pass http://${upstream};
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $http_host;
      proxy_read_timeout 600s;
      limit_rate ${rate};
    }
  }
}
`;
}

function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, host, () => { const p = (s.address() as net.AddressInfo).port; s.close(() => resolve(p)); });
  });
}

function tcpOpen(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host, port, timeout: 1000 }, () => { s.destroy(); resolve(true); });
    s.on('error', () => resolve(false));
    s.on('timeout', () => { s.destroy(); resolve(false); });
  });
}

/**
 * Starts nginx in front of the lab registry with `limit_rate rate` and a loopback forward to it
 * on every host. `ssh(address, command)` runs a command on a lab host. Throws when the lab has
 * no network name (an old descriptor: `lab up` again) or a host cannot reach the registry through it.
 */
export async function startLimitedRegistry(lab: LabDescriptor, ssh: (address: string, command: string) => Promise<string>, rate: string): Promise<LimitedRegistry> {
  if (!lab.network) throw new Error('the lab descriptor names no network: run `lab up` again');
  const docker = new Docker();
  const netInfo = await docker.getNetwork(lab.network).inspect();
  const gateway: string | undefined = netInfo.IPAM?.Config?.[0]?.Gateway;
  const regIp = (await docker.getContainer(lab.registry.id).inspect()).NetworkSettings.Networks[lab.network]?.IPAddress;
  if (!gateway || !regIp) throw new Error(`cannot find the gateway of ${lab.network} or the registry's address on it`);
  const port = await freePort(gateway);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pallet-bench-registry-'));
  mkdirSync(path.join(dir, 'tmp'));
  writeFileSync(path.join(dir, 'nginx.conf'), limitedRegistryConfig(`${gateway}:${port}`, `${regIp}:${REGISTRY_INNER_PORT}`, rate, dir));
  const out = openSync(path.join(dir, 'nginx.out'), 'a');
  const nginx = spawn('nginx', ['-p', dir, '-e', `${dir}/error.log`, '-c', `${dir}/nginx.conf`, '-g', `daemon off; pid ${dir}/nginx.pid;`], { stdio: ['ignore', out, out] });
  const forwards = new Map<string, string>();
  // The hosts' side: a loopback port free on every host (same number everywhere).
  const inner = 20_000 + Math.floor(Math.random() * 10_000);
  const stop = async () => {
    await Promise.all([...forwards].map(([a, pid]) => ssh(a, `kill ${pid} 2>/dev/null; true`).catch(() => undefined)));
    if (nginx.exitCode === null) {
      const exited = new Promise((r) => nginx.once('exit', r));
      nginx.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (let i = 0; i < 50 && !(await tcpOpen(gateway, port)); i++) {
      if (nginx.exitCode !== null) throw new Error(`nginx exited (${nginx.exitCode}); see ${dir}/error.log`);
      await new Promise((r) => setTimeout(r, 100));
    }
    await Promise.all(lab.hosts.map(async (h) => {
      const pid = (await ssh(h.address, `setsid socat TCP-LISTEN:${inner},bind=127.0.0.1,fork,reuseaddr TCP:${gateway}:${port} </dev/null >/dev/null 2>&1 & echo $!`)).trim();
      forwards.set(h.address, pid);
      // The registry answers /v2/ with 401 without credentials: the whole path works.
      const code = (await ssh(h.address, `for i in $(seq 50); do c=$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:${inner}/v2/); [ "$c" = 401 ] || [ "$c" = 200 ] && break; sleep 0.1; done; echo $c`)).trim();
      if (code !== '401' && code !== '200') throw new Error(`${h.address}: the limited registry at 127.0.0.1:${inner} answers ${code}`);
    }));
  } catch (e) {
    await stop();
    throw e;
  }
  return { address: `127.0.0.1:${inner}`, rate, stop };
}
