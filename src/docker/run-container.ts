// Runs a one-off container to completion on the local engine and hands back its exit code and
// output. The container is labelled with a run id recorded in the cleanup ledger *before* it
// is created, so a job killed mid-run still gets it removed by the post step.
import type Docker from 'dockerode';
import { PassThrough } from 'node:stream';
import { randomBytes } from 'node:crypto';
import type { CleanupLedger, CleanupItem } from '../util/cleanup.js';

export const RUN_LABEL = 'pallet.run';

export interface OneOffSpec {
  image: string;
  cmd: string[];
  workingDir?: string;
  user?: string;
  env?: Record<string, string>;
  binds?: string[];
  labels?: Record<string, string>;
}

export interface OneOffResult {
  exitCode: number;
  output: string;
}

/** Docker's create-container body for a one-off run (pure; tested). */
export function oneOffCreateOptions(spec: OneOffSpec, runId: string): Docker.ContainerCreateOptions {
  return {
    Image: spec.image,
    Cmd: spec.cmd,
    WorkingDir: spec.workingDir,
    User: spec.user,
    Env: Object.entries(spec.env ?? {}).map(([k, v]) => `${k}=${v}`),
    Labels: { ...spec.labels, [RUN_LABEL]: runId },
    AttachStdout: true,
    AttachStderr: true,
    HostConfig: { Binds: spec.binds ?? [], AutoRemove: false },
  };
}

export async function runOneOff(
  docker: Docker,
  ledger: CleanupLedger,
  spec: OneOffSpec,
  onLine: (line: string) => void,
  signal?: AbortSignal,
): Promise<OneOffResult> {
  const runId = `oneoff-${randomBytes(6).toString('hex')}`;
  const item: CleanupItem = { kind: 'docker-label', label: RUN_LABEL, value: runId };
  ledger.add(item);
  const container = await docker.createContainer(oneOffCreateOptions(spec, runId));
  let output = '';
  let partial = '';
  const sink = new PassThrough();
  sink.on('data', (chunk: Buffer) => {
    output += chunk.toString();
    const lines = (partial + chunk.toString()).split(/\r?\n/);
    partial = lines.pop() ?? '';
    for (const l of lines) onLine(l);
  });
  const onAbort = () => { container.kill().catch(() => undefined); };
  try {
    const stream = await container.attach({ stream: true, stdout: true, stderr: true });
    docker.modem.demuxStream(stream, sink, sink);
    const ended = new Promise<void>((resolve) => { stream.on('end', resolve); stream.on('close', resolve); });
    signal?.addEventListener('abort', onAbort, { once: true });
    await container.start();
    const { StatusCode } = (await container.wait()) as { StatusCode: number };
    // Bounded wait for the last output after exit.
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([ended, new Promise((r) => { timer = setTimeout(r, 2000); })]);
    clearTimeout(timer);
    if (partial) onLine(partial);
    return { exitCode: StatusCode, output };
  } finally {
    signal?.removeEventListener('abort', onAbort);
    await container.remove({ force: true, v: true }).catch(() => undefined);
    ledger.done(item);
  }
}
