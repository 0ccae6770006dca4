// Runs the action's entry point from source the way the runner runs dist/index.js: as the action
// (PALLET_ENTRY=action, GITHUB_ACTIONS=true), reading INPUT_* and writing GITHUB_STATE/OUTPUT files.
// With STATE_isPost=true in the environment it is the post step. Used with runLikeRunner:
//   command: [process.execPath, '--import', 'tsx', 'test/helpers/run-action.ts']
// (node itself, not npx/tsx wrappers, so that a signal sent to the pid reaches the action).
import '../../src/util/esm-shim.js';

process.env.PALLET_ENTRY = 'action';
process.env.GITHUB_ACTIONS ??= 'true';
const { runAction } = await import('../../src/action.js');
await runAction();
