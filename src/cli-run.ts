
// The `pallet` command: the same commands and modules as the action, for reproducing CI locally.
//   pallet ci | build | test | push | deploy | rollback [--flag value ...]
//   pallet run [--config pallet.yml] -- ./manage.py test     (host command with services provided)
import { CLI_ONLY_SPECS, COMMANDS, INPUT_SPECS, parseCliArgs, parseInputs, type CliArgs, type Inputs } from './inputs.js';
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
    '  deploy     the tag\'s digest (tested), pulled by digest, migrate once, rolling restart with health checks, revert on failure',
    '  rollback   go back to the recorded revert tag (or --tag) on every host',
    '  promote    deploy what one environment runs to another: pallet promote --from staging --to production',
    '  run        run a host command with the test services provided: pallet run -- ./manage.py test',
    '  status     what runs where: per host and role the container, tag, state, health; TAG, REVERT, lock, audit',
    '  exec       a one-off container of the running tag: pallet exec [--role R] [--host H | --all] [-i] -- shell  (the entrypoint runs manage.py shell)',
    '  logs       the role\'s container logs from every host, merged: pallet logs [--role R] [--host H] [--since 10m] [--tail N] [-f]',
    '  lock       pallet lock status | pallet lock release [--force]: the deploy lock on every host',
    '  proxy      pallet proxy status [--host H] [--json]: per host the proxy, its routes and their live containers',
    '  cron       pallet cron status [--host H] [--json]: the deploy.cron jobs, next and last runs; pallet logs --cron JOB',
    '  maintenance pallet maintenance on [--message TEXT] | off: the proxy answers 503 and a page, containers keep running',
    '  remove     take the app off its hosts: pallet remove --yes [--delete-data] [--host H]',
    '  setup      make bare Debian/Ubuntu servers ready: Docker, the deploy user and key, directories: pallet setup [--admin-user U] [--dry-run]',
    '',
    "'pallet help COMMAND' explains one command; 'pallet --version' prints the version.",
    '',
    'flags:',
    ...flags,
  ].join('\n');
}

/** What a `pallet ...` argument vector asks for, decided before anything runs. */
export type CliInvocation =
  | { kind: 'version' }
  | { kind: 'usage'; exitCode: number }
  /** `pallet help X` / `pallet X --help`; text undefined when there is no command X. */
  | { kind: 'help'; command: string; text: string | undefined }
  | { kind: 'run'; args: CliArgs }
  | { kind: 'command'; args: CliArgs; inputs: Inputs };

/**
 * Resolves argv into what runCli does, throwing a UserError for an unknown command or flag or a bad
 * value. Pure apart from reading `--<name>-file` files through `readFile` (the docs check passes a stub).
 */
export function resolveInvocation(argv: string[], env: NodeJS.ProcessEnv = {}, readFile?: (path: string) => string): CliInvocation {
  const first = argv[0];
  if (first === '--version' || first === '-V') return { kind: 'version' };
  // `pallet help build` and `pallet build --help` (flags before a `--`; after it they belong to the command run).
  const asked = first === 'help' ? argv[1] : argv.slice(1, argv.includes('--') ? argv.indexOf('--') : undefined).some((a) => a === '--help' || a === '-h') ? first : undefined;
  if (asked) return { kind: 'help', command: asked, text: commandHelp(asked) };
  if (!first || first === 'help' || first === '--help' || first === '-h') return { kind: 'usage', exitCode: first ? 0 : 2 };
  const args = parseCliArgs(argv, env, readFile);
  if (first === 'run') return { kind: 'run', args };
  const command = args.positional[0] ?? first;
  if (!(COMMANDS as readonly string[]).includes(command)) {
    throw new UserError(`unknown command '${first}': expected one of ${[...COMMANDS.filter((c) => !/^(lock|proxy|cron|maintenance)-/.test(c)), 'lock', 'proxy', 'cron', 'maintenance', 'run'].join(', ')} (see 'pallet help')`);
  }
  const inputs = parseInputs(args.raw, 'flag');
  if (args.rest.length) {
    if (inputs.command !== 'exec') throw new UserError(`pallet ${first} takes no command after --`, 'only pallet exec and pallet run do: pallet exec -- check (the image\'s entrypoint runs manage.py check)');
    inputs.ops.args = args.rest;
  }
  return { kind: 'command', args, inputs };
}

export async function runCli(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  setReporter(new CliReporter());
  const ledger = new CleanupLedger();
  const abort = new AbortController();
  const onSignal = (sig: NodeJS.Signals) => abort.abort(new Error(`interrupted (${sig})`));
  try {
    const inv = resolveInvocation(argv, env);
    if (inv.kind === 'version') {
      process.stdout.write(`pallet ${VERSION}\n`);
      return 0;
    }
    if (inv.kind === 'help') {
      if (inv.text === undefined) {
        reporter().error(`unknown command '${inv.command}': expected one of ${[...COMMANDS, 'run'].join(', ')}\n  hint: 'pallet help' lists them`);
        return 2;
      }
      process.stdout.write(inv.text + '\n');
      return 0;
    }
    if (inv.kind === 'usage') {
      process.stdout.write(usage() + '\n');
      return inv.exitCode;
    }
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    if (inv.kind === 'run') {
      const { runHostCommand } = await import('./commands/run.js');
      return await runHostCommand(inv.args, { env, ledger, signal: abort.signal });
    }
    const result = await runCommand(inv.inputs, { env, ledger, signal: abort.signal, where: 'flag' });
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
