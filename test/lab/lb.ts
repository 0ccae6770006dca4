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

/** Debian's nginx stream module (package libnginx-mod-stream): TCP passthrough, loaded by the lab's config when present. */
export const STREAM_MODULE = '/usr/lib/nginx/modules/ngx_stream_module.so';

/**
 * nginx.conf text (pure). Upstreams are the hosts' container IPs: a refused connect fails fast.
 * Two server blocks: `listenPort` -> the hosts' published app port (deploy.proxy: false), and
 * `proxyPort` -> the hosts' proxy on port 80 (the Host header the client sent is passed on, so
 * the proxy routes by it). `tls`: a third listener, a TCP passthrough (nginx's stream module,
 * loaded from `module`) to the hosts' port 443: TLS ends at each host's proxy, so a client sees
 * the host's own certificate.
 */
export function nginxConfig(listenPort: number, upstreams: Upstream[], dir: string, proxyPort?: number, proxyUpstreams: Upstream[] = [],
  tls?: { port: number; upstreams: Upstream[]; module: string }): string {
  if (!upstreams.length) throw new Error('nginx needs at least one upstream');
  const proxy = proxyPort && proxyUpstreams.length ? `
  upstream pallet_lab_proxy {
${proxyUpstreams.map((u) => `    server ${u.host}:${u.port} max_fails=1 fail_timeout=2s;`).join('\n')}
  }
  server {
    listen 127.0.0.1:${proxyPort};
${LOCATION('pallet_lab_proxy')}
  }` : '';
  const passthrough = tls?.upstreams.length ? `
stream {
  upstream pallet_lab_tls {
${tls.upstreams.map((u) => `    server ${u.host}:${u.port} max_fails=1 fail_timeout=2s;`).join('\n')}
  }
  server {
    listen 127.0.0.1:${tls.port};
    proxy_pass pallet_lab_tls;
    proxy_connect_timeout 1s;
    proxy_next_upstream on;
  }
}
` : '';
  return `# Written by test/lab/lb.ts; regenerated on every lab up.
${passthrough ? `load_module ${tls!.module};\n` : ''}${nginxPreamble(dir)}  upstream pallet_lab_web {
${upstreams.map((u) => `    server ${u.host}:${u.port} max_fails=1 fail_timeout=2s;`).join('\n')}
  }
  server {
    listen 127.0.0.1:${listenPort};
${LOCATION('pallet_lab_web')}
  }${proxy}
}
${passthrough}`;
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

/**
 * Starts (or reloads) the lab's nginx: the hosts' app port, their proxy's port 80, and, where
 * Debian's stream module is installed, a TLS passthrough to their port 443 (`tlsAddress`).
 */
export async function ensureLb(state: LabState, upstreams: Upstream[], proxyUpstreams: Upstream[] = []): Promise<{ url: string; id: string; proxyUrl?: string; tlsAddress?: string }> {
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
  const stream = existsSync(STREAM_MODULE) && proxyUpstreams.length > 0;
  if (stream && (!state.lb.tlsPort || (!running && !(await portFree(state.lb.tlsPort))))) {
    state.lb.tlsPort = await pickPort(18443, new Set([...taken, state.lb.port, state.lb.proxyPort]));
  }
  const tls = stream ? { port: state.lb.tlsPort!, upstreams: proxyUpstreams.map((u) => ({ host: u.host, port: 443 })), module: STREAM_MODULE } : undefined;
  const text = nginxConfig(state.lb.port, upstreams, dir, state.lb.proxyPort, proxyUpstreams, tls);
  const proxyUrl = proxyUpstreams.length ? `http://127.0.0.1:${state.lb.proxyPort}` : undefined;
  const tlsAddress = tls ? `127.0.0.1:${tls.port}` : undefined;
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
    return { url, id: String(state.lb.pid), proxyUrl, ...(tlsAddress ? { tlsAddress } : {}) };
  }
  const out = openSync(`${dir}/nginx.out`, 'a');
  const child = spawn('nginx', nginxArgs(dir), { detached: true, stdio: ['ignore', out, out] });
  child.unref();
  state.lb.pid = child.pid;
  await waitFor('nginx to listen', async () => {
    if (!pidAlive(child.pid)) throw new Error(`nginx exited; see ${dir}/error.log and ${dir}/nginx.out`);
    return tcpOpen('127.0.0.1', state.lb.port);
  }, { attempts: 40, intervalMs: 250, timeoutMs: 15_000 });
  log(`nginx up: ${url} (pid ${child.pid}) -> ${upstreams.map((u) => `${u.host}:${u.port}`).join(' ')}${proxyUrl ? `; ${proxyUrl} -> the hosts' proxy port 80` : ''}${tlsAddress ? `; ${tlsAddress} -> their port 443 (TLS passthrough)` : ''}`);
  return { url, id: String(child.pid), proxyUrl, ...(tlsAddress ? { tlsAddress } : {}) };
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
