export const BENCH_USAGE = `relaymesh bench <benchmark> [options]

benchmarks:
  fanout    fan-out topologies against bare uWS baselines (relaymesh bench fanout --help)
  fleet     device-fleet simulator and Mosquitto/Aedes comparison (relaymesh bench fleet --help)
  vehicles  connected vehicles over an emulated 4G/5G network, capacity model (relaymesh bench vehicles --help)`;

/** `relaymesh bench <name>`: runs one of the product's benchmarks. Returns the exit code. */
export async function runBench(args: string[]): Promise<number> {
  const [name, ...rest] = args;
  switch (name) {
    case 'fanout': {
      // Loaded on demand: `relaymesh start` should not pay for the bench's modules.
      const { FANOUT_USAGE, runFanoutBench } = await import('../../bench/fanout/index.js');
      if (rest.includes('--help') || rest.includes('-h')) {
        process.stdout.write(FANOUT_USAGE + '\n');
        return 0;
      }
      return runFanoutBench(rest);
    }
    case 'fleet': {
      const { FLEET_USAGE, runFleetBench } = await import('../../bench/fleet/index.js');
      if (rest.includes('--help') || rest.includes('-h')) {
        process.stdout.write(FLEET_USAGE + '\n');
        return 0;
      }
      return runFleetBench(rest);
    }
    case 'vehicles': {
      const { VEHICLES_USAGE, runVehicleBench } = await import('../../bench/vehicles/index.js');
      if (rest.includes('--help') || rest.includes('-h')) {
        process.stdout.write(VEHICLES_USAGE + '\n');
        return 0;
      }
      return runVehicleBench(rest);
    }
    case undefined:
    case '--help':
    case '-h':
      (name === undefined ? process.stderr : process.stdout).write(BENCH_USAGE + '\n');
      return name === undefined ? 2 : 0;
    default:
      process.stderr.write(`unknown benchmark ${JSON.stringify(name)}\n\n${BENCH_USAGE}\n`);
      return 2;
  }
}
