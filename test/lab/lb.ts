// The lab load balancer: Debian's nginx on the outer machine, listening on 127.0.0.1, with every
// host's web port as an upstream. Tracked by pid; a changed host list is applied with a reload.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { labPath, type LabState } from './state.js';
import { log, pickPort, pidAlive, portFree, run, sleep, tcpOpen, waitFor } from './util.js';

export interface Upstream {
  host: string;
  port: number;
}

const LOCATION = (upstream: string) => `    location / {
      proxy_pass http://${upstream};
      proxy_next_upstream error timeout http_502 http_503;
      proxy_next_upstream_tries 0;
      proxy_connect_timeout 1s;
      proxy_send_timeout 10s;
      proxy_read_timeout 30s;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $http_host;
      proxy_set_header X-Forwarded-For $remote_addr;
      add_header X-Pallet-Upstream $upstream_addr always;
    }`;

/**
 * nginx.conf text (pure). Upstreams are the hosts' container IPs: a refused connect fails fast.
 * Two server blocks: `listenPort` -> the hosts' published app port (deploy.proxy: false), and
 * `proxyPort` -> the hosts' proxy on port 80 (the Host header the client sent is passed on, so
 * the proxy routes by it).
 */
/**
 * The start of an nginx.conf for an instance run by a test or bench as root from `dir`: one
 * worker, every log and temporary path under `dir`, up to the opened `http {` block.
 */
export function nginxPreamble(dir: string): string {
  return `user root;
worker_processes 1;
events { worker_connections 1024; }
http {
  access_log ${dir}/access.log;
  client_body_temp_path ${dir}/tmp/body;
  proxy_temp_path ${dir}/tmp/proxy;
  fastcgi_temp_path ${dir}/tmp/fastcgi;
  uwsgi_temp_path ${dir}/tmp/uwsgi;
  scgi_temp_path ${dir}/tmp/scgi;
`;
}

export function nginxConfig(listenPort: number, upstreams: Upstream[], dir: string, proxyPort?: number, proxyUpstreams: Upstream[] = []): string {
  if (!upstreams.length) throw new Error('nginx needs at least one upstream');
  const proxy = proxyPort && proxyUpstreams.length ? `
  upstream pallet_lab_proxy {
${proxyUpstreams.map((u) => `    server ${u.host}:${u.port} max_fails=1 fail_timeout=2s;`).join('\n')}
  }
  server {
    listen 127.0.0.1:${proxyPort};
${LOCATION('pallet_lab_proxy')}
  }` : '';
  return `# Written by test/lab/lb.ts; regenerated on every lab up.
${nginxPreamble(dir)}  upstream pallet_lab_web {
${upstreams.map((u) => `    server ${u.host}:${u.port} max_fails=1 fail_timeout=2s;`).join('\n')}
  }
  server {
    listen 127.0.0.1:${listenPort};
${LOCATION('pallet_lab_web')}
  }${proxy}
}
`;
}

export function nginxArgs(dir: string): string[] {
  const conf = `${dir}/nginx.conf`;
  return ['-p', dir, '-e', `${dir}/error.log`, '-c', conf, '-g', `daemon off; pid ${dir}/nginx.pid;`];
}

function isOurNginx(pid: number | undefined, conf: string): boolean {
  if (!pidAlive(pid)) return false;
  try {
    // nginx rewrites its argv into one string ("nginx: master process nginx -p ... -c CONF ...").
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ').includes(` ${conf} `);
  } catch {
    return false;
  }
}

export async function ensureLb(state: LabState, upstreams: Upstream[], proxyUpstreams: Upstream[] = []): Promise<{ url: string; id: string; proxyUrl?: string }> {
  const dir = labPath('nginx');
  mkdirSync(`${dir}/tmp`, { recursive: true });
  const conf = `${dir}/nginx.conf`;
  const taken = new Set([state.registry.port, ...state.hosts.flatMap((h) => [h.sshPort, h.webPort])]);
  const running = isOurNginx(state.lb.pid, conf);
  if (!running) {
    if (!state.lb.port || !(await portFree(state.lb.port))) state.lb.port = await pickPort(18080, taken);
  }
  if (!state.lb.proxyPort || (!running && !(await portFree(state.lb.proxyPort)))) {
    state.lb.proxyPort = await pickPort(18180, new Set([...taken, state.lb.port]));
  }
  const text = nginxConfig(state.lb.port, upstreams, dir, state.lb.proxyPort, proxyUpstreams);
  const proxyUrl = proxyUpstreams.length ? `http://127.0.0.1:${state.lb.proxyPort}` : undefined;
  const old = existsSync(conf) ? readFileSync(conf, 'utf8') : '';
  writeFileSync(conf, text);
  const url = `http://127.0.0.1:${state.lb.port}`;
  if (running) {
    if (old !== text) {
      // A reload with a bad config is silently ignored by nginx: check it first.
      await run('nginx', ['-t', '-q', ...nginxArgs(dir)])
        .catch((e: Error) => { throw new Error(`new nginx config is invalid: ${e.message}`); });
      process.kill(state.lb.pid!, 'SIGHUP');
      await sleep(500);
      log(`nginx reloaded with ${upstreams.length} upstream(s)`);
    } else log(`nginx reused: ${url} (pid ${state.lb.pid})`);
    return { url, id: String(state.lb.pid), proxyUrl };
  }
  const out = openSync(`${dir}/nginx.out`, 'a');
  const child = spawn('nginx', nginxArgs(dir), { detached: true, stdio: ['ignore', out, out] });
  child.unref();
  state.lb.pid = child.pid;
  await waitFor('nginx to listen', async () => {
    if (!pidAlive(child.pid)) throw new Error(`nginx exited; see ${dir}/error.log and ${dir}/nginx.out`);
    return tcpOpen('127.0.0.1', state.lb.port);
  }, { attempts: 40, intervalMs: 250, timeoutMs: 15_000 });
  log(`nginx up: ${url} (pid ${child.pid}) -> ${upstreams.map((u) => `${u.host}:${u.port}`).join(' ')}${proxyUrl ? `; ${proxyUrl} -> the hosts' proxy port 80` : ''}`);
  return { url, id: String(child.pid), proxyUrl };
}

/** Stops nginx by pid: graceful QUIT, then KILL after a bounded wait. */
export async function stopLb(state: LabState): Promise<void> {
  const pid = state.lb.pid;
  if (!isOurNginx(pid, `${labPath('nginx')}/nginx.conf`)) {
    state.lb.pid = undefined;
    return;
  }
  process.kill(pid!, 'SIGQUIT');
  for (let i = 0; i < 40 && pidAlive(pid); i++) await sleep(250);
  if (pidAlive(pid)) process.kill(pid!, 'SIGKILL');
  state.lb.pid = undefined;
  log(`nginx stopped (pid ${pid})`);
}
