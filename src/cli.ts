#!/usr/bin/env node
// CLI entry point (`bin: pallet`); everything lives in cli-run.ts so tests can import it.
import "./util/esm-shim.js";
import { runCli } from './cli-run.js';

runCli(process.argv.slice(2)).then((code) => process.exit(code));
