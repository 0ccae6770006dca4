// npm run lab:up [-- --hosts N] [--swarm] [--bare] [--acme] | lab:down [-- --images] | lab:status
import { labDown } from './down.js';
import { labStatus } from './status.js';
import { labUp, requestedAcme, requestedHosts, requestedSwarm } from './up.js';
import { startBareHost } from './bare.js';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  switch (cmd) {
    case 'up': {
      const lab = await labUp(requestedHosts(rest), { swarm: requestedSwarm(rest), acme: requestedAcme(rest) });
      process.stdout.write(
        `registry ${lab.registry.address}  lb ${lab.lb.url}  hosts ${lab.hosts.map((h) => h.address).join(' ')}${lab.swarm ? `  swarm manager ${lab.swarm.manager}` : ''}${lab.acme ? `  acme ${lab.acme.directory}` : ''}\n`,
      );
      if (rest.includes('--bare')) {
        // A bare host to try pallet setup on by hand; lab down removes it.
        const bare = await startBareHost(lab, readFileSync(`${lab.ssh.privateKeyPath}.pub`, 'utf8').trim());
        const kh = path.join(lab.dir, 'ssh', `known_hosts_bare_${bare.sshPort}`);
        writeFileSync(kh, bare.knownHosts);
        process.stdout.write(`bare host ${bare.address} (container ${bare.id.slice(0, 12)}): users admin (sudo) and nosudo, lab key ${lab.ssh.privateKeyPath}; known_hosts ${kh}\n`);
      }
      return 0;
    }
    case 'down':
      await labDown({ images: rest.includes('--images') });
      return 0;
    case 'status':
      return (await labStatus()) ? 0 : 1;
    default:
      process.stderr.write('usage: tsx test/lab/cli.ts up [--hosts N] [--swarm] [--bare] [--acme] | down [--images] | status\n');
      return 2;
  }
}

// Keeps the event loop alive until main settles: a wait whose only pending handle is unref'd
// (an AbortSignal timer during a connect) must never let node exit 0 halfway through `up`.
const keepAlive = setInterval(() => undefined, 60_000);
main(process.argv.slice(2)).then(
  (code) => { clearInterval(keepAlive); process.exit(code); },
  (e: Error) => {
    process.stderr.write(`lab: ${e.message}\n`);
    process.exit(1);
  },
);
