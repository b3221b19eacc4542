/** `node --import tsx bench/fanout/main.ts [options]`: see FANOUT_USAGE. */
import { FANOUT_USAGE, runFanoutBench } from './index.js';

const args = process.argv.slice(2);
if (args.includes('--help') || args.includes('-h')) {
  process.stdout.write(FANOUT_USAGE + '\n');
} else {
  try {
    process.exitCode = await runFanoutBench(args);
  } catch (err) {
    process.stderr.write(`bench fanout: ${(err as Error).message}\n`);
    process.exitCode = 1;
  }
}
