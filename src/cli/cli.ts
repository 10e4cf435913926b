#!/usr/bin/env node
// Entry point of dist/cli.js.
import { processIo } from './cliIo.js';
import { main } from './main.js';

main(process.argv.slice(2), processIo).then(
  (status) => { process.exitCode = status; },
  (error: unknown) => {
    process.stderr.write(`cpml: internal error: ${error instanceof Error ? error.stack : String(error)}\n`);
    process.exitCode = 70;
  },
);
