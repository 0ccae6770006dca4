#!/usr/bin/env node
// CLI entry point (`bin: pallet`); everything lives in cli-run.ts so tests can import it.
import "./util/esm-shim.js";
import { runCli } from './cli-run.js';

// Node exits 0 when its event loop empties, even with a promise still pending; a ref'd timer
// for the whole run makes sure a stalled wait can never end as a silent success.
const keepAlive = setInterval(() => undefined, 60_000);
runCli(process.argv.slice(2)).then((code) => {
  clearInterval(keepAlive);
  process.exit(code);
});
