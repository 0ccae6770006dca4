// Makes sure a Docker Engine answers. If one does, it is left alone. On Debian as root the
// engine is installed (docker.io) and started in the background; elsewhere we say what is missing.
import { spawn } from 'node:child_process';
import { existsSync, openSync, readFileSync } from 'node:fs';
import Docker from 'dockerode';
import { labPath, ensureLabDir } from './state.js';
import { log, run, waitFor } from './util.js';

export const docker = new Docker();

export async function engineAnswers(): Promise<boolean> {
  try {
    await docker.ping();
    return true;
  } catch {
    return false;
  }
}

function dockerdRunning(): boolean {
  try {
    const pid = Number(readFileSync('/var/run/docker.pid', 'utf8'));
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export function isDebianRoot(): boolean {
  return process.getuid?.() === 0 && existsSync('/etc/debian_version');
}

/** Why no engine can be had here, or undefined when one can (already running, or installable). */
export async function engineUnavailableReason(): Promise<string | undefined> {
  if (await engineAnswers()) return undefined;
  // Only the local default engine is ours to start; a remote or running-but-stuck one is not.
  if (process.env.DOCKER_HOST) return `no Docker Engine answers at DOCKER_HOST=${process.env.DOCKER_HOST}`;
  if (dockerdRunning()) return 'dockerd is running (per /var/run/docker.pid) but does not answer: see its log';
  if (isDebianRoot()) return undefined;
  return (
    'no Docker Engine answers on the default socket, and this is not Debian as root, so the lab ' +
    'cannot install and start one: start dockerd (or set DOCKER_HOST) and run `npm run lab:up`'
  );
}

export async function ensureEngine(): Promise<void> {
  if (await engineAnswers()) return;
  const reason = await engineUnavailableReason();
  if (reason) throw new Error(reason);
  ensureLabDir();
  if (!existsSync('/usr/sbin/dockerd') && !existsSync('/usr/bin/dockerd')) {
    log('dockerd missing: apt-get install -y docker.io');
    await run('apt-get', ['install', '-y', '--no-install-recommends', 'docker.io'], {
      logFile: labPath('logs', 'apt-docker.log'),
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    });
  }
  const logFile = labPath('dockerd.log');
  log(`starting dockerd (log: ${logFile})`);
  const out = openSync(logFile, 'a');
  const child = spawn('dockerd', [], { detached: true, stdio: ['ignore', out, out] });
  child.unref();
  await waitFor('dockerd to answer', engineAnswers, { attempts: 120, intervalMs: 500, timeoutMs: 90_000 });
  log(`dockerd answers (pid ${child.pid})`);
}
