// Undo handlers for what the ssh and deploy stages leave behind: the per-run key/socket
// directory, the per-run ssh-agent, ControlMaster processes, deploy locks and registry-credential directories on hosts.
import { rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { registerCleanupHandler } from '../util/cleanup.js';
import { runSsh } from './connection.js';
import { shellQuote } from './quote.js';
import { releaseLockArgv } from '../deploy/commands.js';
import { removeDockerConfigArgv } from '../deploy/host-commands.js';
import { lastLines } from './errors.js';
import { stopAgent } from './agent.js';

registerCleanupHandler('ssh-agent', async ({ pid, socket }) => {
  await stopAgent(pid, socket);
});

registerCleanupHandler('path', async ({ path: p }) => {
  await rm(p, { recursive: true, force: true });
});

registerCleanupHandler('ssh-master', async ({ socket, args }) => {
  // Nothing to do when the control directory (and so the socket) is already gone.
  if (!existsSync(path.dirname(socket))) return;
  await runSsh(args);
});

registerCleanupHandler('deploy-lock', async ({ host, app, token, sshArgs }) => {
  const r = await runSsh([...sshArgs, '--', shellQuote(releaseLockArgv(app, token))]);
  if (r.exitCode !== 0) throw new Error(`could not release the deploy lock of ${app} on ${host}: ${lastLines(r.stderr) || `exit ${r.exitCode}`}`);
});

registerCleanupHandler('remote-docker-config', async ({ host, path: dir, sshArgs }) => {
  const r = await runSsh([...sshArgs, '--', shellQuote(removeDockerConfigArgv(dir))]);
  if (r.exitCode !== 0) throw new Error(`could not remove the registry credentials directory ${dir} on ${host}: ${lastLines(r.stderr) || `exit ${r.exitCode}`}`);
});
