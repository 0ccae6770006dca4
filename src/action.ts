// The action's front door: the same file is `main` and `post` in action.yml. The first run
// saves `isPost` in the step state; the runner hands it back to the post step, which undoes
// whatever the ledger recorded (containers, networks, SSH sockets, key files, locks).
import { actionRawInputs, parseInputs } from './inputs.js';
import { runCommand } from './commands/index.js';
import { CleanupLedger } from './util/cleanup.js';
import { actionsReporter, reporter, setReporter } from './util/reporter.js';
import { reportFailure } from './util/failure.js';
import './cleanup-handlers.js';

export async function runAction(env: NodeJS.ProcessEnv = process.env): Promise<number> {
  setReporter(actionsReporter());
  const r = reporter();
  if (r.getState('isPost') === 'true') return runPost();
  r.saveState('isPost', 'true');

  const ledger = new CleanupLedger();
  const abort = new AbortController();
  const onSignal = (sig: NodeJS.Signals) => {
    r.warning(`received ${sig}: stopping and cleaning up`);
    abort.abort(new Error(`cancelled (${sig})`));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const inputs = parseInputs(actionRawInputs(env));
    const result = await runCommand(inputs, { env, ledger, signal: abort.signal });
    if (result.exitCode !== 0) process.exitCode = result.exitCode;
    return result.exitCode;
  } catch (e) {
    reportFailure(e);
    process.exitCode = 1;
    return 1;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

async function runPost(): Promise<number> {
  const ledger = CleanupLedger.fromState();
  if (ledger.list().length === 0) {
    reporter().info('nothing to clean up');
    return 0;
  }
  reporter().info(`cleaning up ${ledger.list().length} item(s) left by the main step`);
  const failures = await ledger.runAll();
  return failures.length ? 1 : 0;
}
