// Small process helpers for the lab scripts: run a command (argv, never a shell string),
// feed secrets on stdin, and poll with a bound on both attempts and time.
import { spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import net from 'node:net';

export function log(message: string): void {
  const t = new Date().toISOString().slice(11, 19);
  process.stdout.write(`[lab ${t}] ${message}\n`);
}

export interface RunOptions {
  input?: string | Buffer;
  /** Append stdout+stderr here instead of capturing them. */
  logFile?: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Resolve with the exit code instead of throwing on failure. */
  allowFailure?: boolean;
  timeoutMs?: number;
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function run(cmd: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      env: opts.env ?? process.env,
      cwd: opts.cwd,
      stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    const sink = opts.logFile ? createWriteStream(opts.logFile, { flags: 'a' }) : undefined;
    child.stdout!.on('data', (d: Buffer) => (sink ? sink.write(d) : (stdout += d.toString())));
    child.stderr!.on('data', (d: Buffer) => {
      stderr += d.toString();
      if (stderr.length > 20000) stderr = stderr.slice(-20000);
      sink?.write(d);
    });
    const timer = opts.timeoutMs
      ? setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs)
      : undefined;
    child.on('error', (e) => {
      if (timer) clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      if (timer) clearTimeout(timer);
      sink?.end();
      const c = code ?? (signal ? 128 : 1);
      if (c !== 0 && !opts.allowFailure) {
        const where = opts.logFile ? ` (log: ${opts.logFile})` : '';
        reject(new Error(`${cmd} ${args.join(' ')} exited ${c}${signal ? ` (${signal})` : ''}${where}\n${stderr.trim().slice(-2000)}`));
      } else resolve({ code: c, stdout, stderr });
    });
    if (child.stdin) {
      // A child that exits without reading its input must not crash us with EPIPE.
      child.stdin.on('error', () => undefined);
      child.stdin.end(opts.input);
    }
  });
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Calls `probe` until it returns true, at most `attempts` times and `timeoutMs` overall.
 * Throws with `what` and the last error when the bound is reached.
 */
export async function waitFor(
  what: string,
  probe: () => Promise<boolean>,
  { attempts = 120, intervalMs = 500, timeoutMs = 60000 } = {},
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (let i = 0; i < attempts && Date.now() < deadline; i++) {
    try {
      if (await probe()) return;
    } catch (e) {
      last = (e as Error).message;
    }
    await sleep(intervalMs);
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${last}` : ''}`);
}

/** True when nothing listens on 127.0.0.1:port (we can bind it ourselves). */
export function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

/** First free port at or above `start` that is not in `taken`. */
export async function pickPort(start: number, taken: Set<number>): Promise<number> {
  for (let p = start; p < start + 500; p++) {
    if (taken.has(p)) continue;
    if (await portFree(p)) {
      taken.add(p);
      return p;
    }
  }
  throw new Error(`no free port in ${start}..${start + 499}`);
}

/** True when something accepts TCP connections on host:port. */
export function tcpOpen(host: string, port: number, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host, port });
    const done = (ok: boolean) => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(timeoutMs, () => done(false));
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
  });
}

export function pidAlive(pid: number | undefined): boolean {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
