/** `node --import tsx bench/durable/main.ts [options]`: see DURABLE_USAGE. */
import { DURABLE_USAGE, runDurableBench } from './index.js';

const args = process.argv.slice(2);
if (args.includes('--help') || args.includes('-h')) {
  process.stdout.write(DURABLE_USAGE + '\n');
} else {
  try {
    process.exitCode = await runDurableBench(args);
  } catch (err) {
    process.stderr.write(`bench durable: ${(err as Error).message}\n`);
    process.exitCode = 1;
  }
}
