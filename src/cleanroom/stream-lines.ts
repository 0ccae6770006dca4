// Docker's multiplexed log format and line splitting for live output. Pure helpers.
import { Writable } from 'node:stream';

/** Splits Docker's multiplexed stream format (8-byte frame headers) into stdout and stderr text. */
export function demuxBuffer(buf: Buffer): { stdout: string; stderr: string } {
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  let i = 0;
  // Not multiplexed (a TTY container): the whole buffer is output.
  if (buf.length < 8 || buf[1] !== 0 || buf[2] !== 0 || buf[3] !== 0 || buf[0] > 2) return { stdout: buf.toString('utf8'), stderr: '' };
  while (i + 8 <= buf.length) {
    const type = buf[i];
    const len = buf.readUInt32BE(i + 4);
    const payload = buf.subarray(i + 8, i + 8 + len);
    (type === 2 ? err : out).push(payload);
    i += 8 + len;
  }
  return { stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') };
}

/** The last n non-empty lines of some text. */
export function lastLines(text: string, n: number): string[] {
  return text.split(/\r?\n/).filter((l) => l.trim() !== '').slice(-n);
}

/** A writable that calls `onLine` for every complete line (and the rest on end/flush). */
export class LineWriter extends Writable {
  private rest = '';
  constructor(private readonly onLine: (line: string) => void) {
    super();
  }
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (e?: Error | null) => void): void {
    const text = this.rest + chunk.toString('utf8');
    const lines = text.split(/\r?\n/);
    this.rest = lines.pop() ?? '';
    for (const l of lines) this.onLine(l);
    cb();
  }
  override _final(cb: (e?: Error | null) => void): void {
    this.flush();
    cb();
  }
  flush(): void {
    if (this.rest) this.onLine(this.rest);
    this.rest = '';
  }
}
