#!/usr/bin/env node
// `start` catches SIGINT/SIGTERM from its first line: a stop that arrives while the CLI still
// loads is kept and honoured once the broker runs, as a clean exit. Other commands keep the
// default (a signal ends them at once).
const stopRequested =
  process.argv[2] === 'start'
    ? new Promise((resolve) => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
      })
    : undefined;
// The compiled CLI (`npm run build` writes dist/; `prepare` runs it on npm ci and npm install).
const { main } = await import('../dist/src/cli/main.js');
process.exitCode = await main(process.argv.slice(2), stopRequested);
