/** `node --import tsx bench/vehicles/main.ts [options]`: see VEHICLES_USAGE. */
import { VEHICLES_USAGE, runVehicleBench } from './index.js';

const args = process.argv.slice(2);
if (args.includes('--help') || args.includes('-h')) {
  process.stdout.write(VEHICLES_USAGE + '\n');
} else {
  try {
    process.exitCode = await runVehicleBench(args);
  } catch (err) {
    process.stderr.write(`bench vehicles: ${(err as Error).message}\n`);
    process.exitCode = 1;
  }
}
