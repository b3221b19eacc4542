import { readFileSync } from 'node:fs';
import { START_USAGE } from './start-usage.js';

const USAGE = `usage: relaymesh <command> [options]

commands:
  start     run a broker (relaymesh start --help)
  bench     run a benchmark (relaymesh bench fanout --help)

  --version print the version`;

/**
 * The `relaymesh` command. Returns the process exit code. Commands are imported on use, so
 * `--help` and `--version` never load the broker (uWebSockets.js, LMDB, nact). `stopRequested`
 * is the SIGINT/SIGTERM that `start` runs until, when the caller began listening for it earlier
 * than this module loaded.
 */
export async function main(argv: string[], stopRequested?: Promise<unknown>): Promise<number> {
  const [command, ...rest] = argv;
  const wantsHelp = rest.includes('--help') || rest.includes('-h');
  try {
    switch (command) {
      case 'start': {
        if (wantsHelp) return print(START_USAGE, 0);
        const { runStart, stopSignal } = await import('./start.js');
        return await runStart(rest, stopRequested ?? stopSignal());
      }
      case 'bench': {
        const { runBench } = await import('./bench.js');
        return await runBench(rest);
      }
      case '--version':
      case '-v':
      case 'version':
        return print(packageVersion(), 0);
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        return print(USAGE, command === undefined ? 2 : 0);
      default:
        return print(`unknown command ${JSON.stringify(command)}\n\n${USAGE}`, 2);
    }
  } catch (err) {
    process.stderr.write(`relaymesh: ${(err as Error).message}\n`);
    return 1;
  }
}

function print(text: string, code: number): number {
  (code === 0 ? process.stdout : process.stderr).write(text + '\n');
  return code;
}

/** The version in relaymesh's package.json, found from this module in src/cli or dist/src/cli. */
function packageVersion(): string {
  for (const up of ['../../package.json', '../../../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(up, import.meta.url), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'relaymesh' && pkg.version) return pkg.version;
    } catch {
      // not at this level: try the next one up
    }
  }
  return 'unknown';
}
