/** `node --import tsx bench/fleet/main.ts [options]`: see FLEET_USAGE. */
import { FLEET_USAGE, runFleetBench } from './index.js';

const args = process.argv.slice(2);
if (args.includes('--help') || args.includes('-h')) {
  process.stdout.write(FLEET_USAGE + '\n');
} else {
  try {
    process.exitCode = await runFleetBench(args);
  } catch (err) {
    process.stderr.write(`bench fleet: ${(err as Error).message}\n`);
    process.exitCode = 1;
  }
}
