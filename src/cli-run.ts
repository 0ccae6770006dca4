
// The `pallet` command: the same commands and modules as the action, for reproducing CI locally.
//   pallet ci | build | test | push | deploy | rollback [--flag value ...]
//   pallet run [--config pallet.yml] -- ./manage.py test     (host command with services provided)
import { CLI_ONLY_SPECS, COMMANDS, INPUT_SPECS, parseCliArgs, parseInputs } from './inputs.js';
import { runCommand } from './commands/index.js';
import { CleanupLedger } from './util/cleanup.js';
import { CliReporter, reporter, setReporter } from './util/reporter.js';
import { reportFailure } from './util/failure.js';
import { UserError } from './errors.js';
import { commandHelp, flagLine } from './cli-help.js';
import { VERSION } from './version.js';
import './cleanup-handlers.js';

export function usage(): string {
  const flags = [...INPUT_SPECS, ...CLI_ONLY_SPECS].filter((s) => s.name !== 'command').map(flagLine);
  return [
    'usage: pallet <command> [flags]',
    '',
    'commands:',
    '  ci         build, cleanroom test, push (what CI runs for a push)',
    '  build      build the wheelhouse and the image',
    '  test       run the image\'s test entrypoint against fresh service containers',
    '  push       push the image as build-N (and extra tags)',
    '  deploy     pull, migrate once, rolling restart with health checks, revert on failure',
    '  rollback   go back to the recorded revert tag (or --tag) on every host',
    '  run        run a host command with the test services provided: pallet run -- ./manage.py test',
    '  status     what runs where: per host and role the container, tag, state, health; TAG, REVERT, lock, audit',
    '  exec       a one-off container of the running tag: pallet exec [--role R] [--host H | --all] [-i] -- manage.py shell',
    '  logs       the role\'s container logs from every host, merged: pallet logs [--role R] [--host H] [--since 10m] [--tail N] [-f]',
    '  lock       pallet lock status | pallet lock release [--force]: the deploy lock on every host',
    '  proxy      pallet proxy status [--host H] [--json]: per host the proxy, its routes and their live containers',
    '',
    "'pallet help COMMAND' explains one command; 'pallet --version' prints the version.",
    '',
    'flags:',
    ...flags,
  ].join('\n');
}

export async function runCli(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  setReporter(new CliReporter());
  const first = argv[0];
  if (first === '--version' || first === '-V') {
    process.stdout.write(`pallet ${VERSION}\n`);
    return 0;
  }
  // `pallet help build` and `pallet build --help` (flags before a `--`; after it they belong to the command run).
  const asked = first === 'help' ? argv[1] : argv.slice(1, argv.includes('--') ? argv.indexOf('--') : undefined).some((a) => a === '--help' || a === '-h') ? first : undefined;
  if (asked) {
    const help = commandHelp(asked);
    if (help === undefined) {
      reporter().error(`unknown command '${asked}': expected one of ${[...COMMANDS, 'run'].join(', ')}\n  hint: 'pallet help' lists them`);
      return 2;
    }
    process.stdout.write(help + '\n');
    return 0;
  }
  if (!first || first === 'help' || first === '--help' || first === '-h') {
    process.stdout.write(usage() + '\n');
    return first ? 0 : 2;
  }
  const ledger = new CleanupLedger();
  const abort = new AbortController();
  const onSignal = (sig: NodeJS.Signals) => abort.abort(new Error(`interrupted (${sig})`));
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const args = parseCliArgs(argv, env);
    if (first === 'run') {
      const { runHostCommand } = await import('./commands/run.js');
      return await runHostCommand(args, { env, ledger, signal: abort.signal });
    }
    const command = args.positional[0] ?? first;
    if (!(COMMANDS as readonly string[]).includes(command)) {
      throw new UserError(`unknown command '${first}': expected one of ${[...COMMANDS.filter((c) => !c.startsWith('lock-') && !c.startsWith('proxy-')), 'lock', 'proxy', 'run'].join(', ')} (see 'pallet help')`);
    }
    const inputs = parseInputs(args.raw, 'flag');
    if (args.rest.length) {
      if (inputs.command !== 'exec') throw new UserError(`pallet ${first} takes no command after --`, "only pallet exec and pallet run do: pallet exec -- manage.py check");
      inputs.ops.args = args.rest;
    }
    const result = await runCommand(inputs, { env, ledger, signal: abort.signal, where: 'flag' });
    const r = reporter() as CliReporter;
    for (const [k, v] of r.outputs) r.info(`${k}=${v}`);
    return result.exitCode;
  } catch (e) {
    reportFailure(e);
    return 1;
  } finally {
    await ledger.runAll();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

