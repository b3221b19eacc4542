import { runBench } from './bench.js';
import { START_USAGE, runStart } from './start.js';

const USAGE = `usage: relaymesh <command> [options]

commands:
  start     run a broker (relaymesh start --help)
  bench     run a benchmark (relaymesh bench fanout --help)
`;

/** The `relaymesh` command. Returns the process exit code. */
export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  const wantsHelp = rest.includes('--help') || rest.includes('-h');
  try {
    switch (command) {
      case 'start':
        if (wantsHelp) return print(START_USAGE, 0);
        return await runStart(rest);
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
