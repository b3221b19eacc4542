import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const BENCH_USAGE = `relaymesh bench <benchmark> [options]

benchmarks:
  fanout     fan-out topologies against bare uWS baselines (relaymesh bench fanout --help)
  durable    QoS 1 end to end next to QoS 0: OK after commit, ACKs, redeliveries, bytes stored (relaymesh bench durable --help)
  fleet      device-fleet simulator and Mosquitto/Aedes comparison (relaymesh bench fleet --help)
  vehicles   connected vehicles over an emulated 4G/5G network, capacity model (relaymesh bench vehicles --help)
  cluster    hops, TLS links, cluster broadcast and membership through etcd (relaymesh bench cluster --help)
  dashboard  the dashboard with a large fleet connected: paint times, stream rate, sampling CPU (relaymesh bench dashboard --help)

Every benchmark prints tables and writes JSON to bench/results/; with --html also a
self-contained HTML report next to the JSON (same name, .html), which the dashboard lists.
Benchmarks run from a source checkout (they are not part of the npm package).`;

const BENCHMARKS = ['fanout', 'durable', 'fleet', 'vehicles', 'cluster', 'dashboard'];

/**
 * `relaymesh bench <name>`: runs one of the product's benchmarks as its own process (its
 * TypeScript sources through tsx), so the CLI never loads bench code. Returns the exit code.
 */
export async function runBench(args: string[]): Promise<number> {
  const [name, ...rest] = args;
  if (name === undefined || name === '--help' || name === '-h') {
    (name === undefined ? process.stderr : process.stdout).write(BENCH_USAGE + '\n');
    return name === undefined ? 2 : 0;
  }
  if (!BENCHMARKS.includes(name)) {
    process.stderr.write(`unknown benchmark ${JSON.stringify(name)}\n\n${BENCH_USAGE}\n`);
    return 2;
  }
  const root = findCheckoutRoot();
  const entry = root && `${root}/bench/${name}/main.ts`;
  if (!entry || !existsSync(entry)) {
    process.stderr.write(`relaymesh bench: bench/${name}/main.ts not found; benchmarks run from a source checkout of relaymesh\n`);
    return 2;
  }
  const child = spawn(process.execPath, ['--import', 'tsx', entry, ...rest], { cwd: root, stdio: 'inherit' });
  const forward = (signal: NodeJS.Signals): void => void child.kill(signal);
  process.on('SIGINT', forward).on('SIGTERM', forward);
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0))));
}

/** The repository root: the directory holding package.json above this module (src/cli or dist/src/cli). */
function findCheckoutRoot(): string | undefined {
  for (const up of ['../../', '../../../']) {
    const dir = fileURLToPath(new URL(up, import.meta.url));
    if (existsSync(`${dir}package.json`) && existsSync(`${dir}bench`)) return dir.replace(/\/$/, '');
  }
  return undefined;
}
