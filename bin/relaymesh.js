#!/usr/bin/env node
// `start` catches SIGINT/SIGTERM from its first line: a stop that arrives while the sources
// still load (about a second) is kept and honoured once the broker runs, as a clean exit.
// Other commands keep the default (a signal ends them at once).
const stopRequested =
  process.argv[2] === 'start'
    ? new Promise((resolve) => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
      })
    : undefined;
// relaymesh ships TypeScript sources; tsx compiles them on load.
const { register } = await import('tsx/esm/api');

register();
const { main } = await import('../src/cli/main.ts');
process.exitCode = await main(process.argv.slice(2), stopRequested);
