// How the e2e tests start pallet as a process: the shipped bundles, as the runner runs the
// action (node dist/index.js) and users run the CLI (node dist/cli/index.js). CI checks dist/
// against src/ (test/unit/dist.test.ts) before the e2e suite runs. While developing, rebuild
// with `npm run build`, or set PALLET_E2E_FROM_SOURCE=1 to run src/ through tsx (each process
// then takes seconds to start instead of a fraction of one).
import path from 'node:path';
import { REPO_ROOT } from './lab.js';

const FROM_SOURCE = process.env.PALLET_E2E_FROM_SOURCE === '1';
const TSX = path.join(REPO_ROOT, 'node_modules/tsx/dist/loader.mjs');

/** argv that runs the action's entry point (main, or post with STATE_isPost=true) with node itself, so signals reach it. */
export const ACTION_COMMAND: string[] = FROM_SOURCE
  ? [process.execPath, '--import', TSX, path.join(REPO_ROOT, 'test/helpers/run-action.ts')]
  : [process.execPath, path.join(REPO_ROOT, 'dist/index.js')];

/** argv prefix that runs the `pallet` CLI; append its arguments. */
export const CLI_COMMAND: string[] = FROM_SOURCE
  ? [process.execPath, '--import', TSX, path.join(REPO_ROOT, 'src/cli.ts')]
  : [process.execPath, path.join(REPO_ROOT, 'dist/cli/index.js')];
