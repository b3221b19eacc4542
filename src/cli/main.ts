import { runBench } from './bench.js';
import { START_USAGE, runStart, stopSignal } from './start.js';

const USAGE = `usage: relaymesh <command> [options]

commands:
  start     run a broker (relaymesh start --help)
  bench     run a benchmark (relaymesh bench fanout --help)
`;

/**
 * The `relaymesh` command. Returns the process exit code. `stopRequested` is the SIGINT/SIGTERM
 * that `start` runs until, when the caller began listening for it earlier than this module loaded.
 */
export async function main(argv: string[], stopRequested?: Promise<unknown>): Promise<number> {
  const [command, ...rest] = argv;
  const wantsHelp = rest.includes('--help') || rest.includes('-h');
  try {
    switch (command) {
      case 'start':
        if (wantsHelp) return print(START_USAGE, 0);
        return await runStart(rest, stopRequested ?? stopSignal());
      case 'bench':
        return await runBench(rest);
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
