/** The fan-out topology benchmark: `relaymesh bench fanout` and `npm run bench:fanout`. */
import { execFileSync } from 'node:child_process';
import { cpus, loadavg } from 'node:os';
import { renderChart } from './chart.js';
import { CellRunner, ProgressLog, startSubscribers, subscriberExecArgv } from './coordinator.js';
import { killAllChildren, killChildrenOnExit } from './ipc.js';
import { FANOUT_USAGE, parseBenchArgs, type BenchOptions } from './options.js';
import { renderTables, writeResults } from './report.js';
import { fillRatios, largestFleet, type BenchResult, type Cell } from './results.js';

export { FANOUT_USAGE };

/** Runs the benchmark; returns the process exit code (1 if any topology failed to run). */
export async function runFanoutBench(args: string[]): Promise<number> {
  const options = parseBenchArgs(args);
  const uninstall = killChildrenOnExit();
  const startedAt = new Date();
  const log = new ProgressLog();
  log.line(
    `fan-out bench: sizes ${options.sizes.join(', ')}; ${options.topologies.map((t) => t.name).join(', ')}; ` +
      `${options.patterns.join(' + ')}; payload ${options.payloadBytes} B; ${options.workers} subscriber processes; MQTT subscribers: ${options.mqttClient} over ${options.mqttTransport}`,
  );
  const loadAtStart = warnAboutLoad(log);
  const subscribers = startSubscribers(options.workers, subscriberExecArgv(options));
  try {
    const runner = new CellRunner(options, subscribers, log);
    const cells: Cell[] = [];
    for (const size of options.sizes) {
      for (const spec of options.topologies) cells.push(await runner.run(spec, size));
    }
    fillRatios(cells);
    const result: BenchResult = {
      startedAt: startedAt.toISOString(),
      durationS: (Date.now() - startedAt.getTime()) / 1000,
      machine: machineState(loadAtStart),
      source: sourceState(),
      options: optionsForRecord(options),
      largestFleet: largestFleet(cells),
      cells,
    };
    process.stdout.write(renderTables(result) + '\n\n');
    const files = writeResults(options.outDir, 'fanout', result, renderChart(result), options.html);
    log.line(`done in ${result.durationS.toFixed(0)} s; wrote ${files.join(', ')}`);
    return cells.some((c) => c.error) ? 1 : 0;
  } finally {
    // Profiled subscribers get time to write their profiles as they exit.
    await Promise.all(subscribers.map((s) => s.close(options.cpuProf ? 15_000 : 0)));
    killAllChildren();
    uninstall();
  }
}

/** The 1-minute load average now, with a warning when other work will skew the figures. */
export function warnAboutLoad(log: ProgressLog): number {
  const load = loadavg()[0]!;
  if (load > cpus().length * 0.5) {
    log.line(`warning: load average ${load.toFixed(1)} on ${cpus().length} cores: other processes will skew throughput and latency (CPU per delivery less so)`);
  }
  return load;
}

export function machineState(loadAtStart: number): BenchResult['machine'] {
  return {
    node: process.version,
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model ?? 'unknown',
    platform: `${process.platform}-${process.arch}`,
    loadAverage: { atStart: loadAtStart, atEnd: loadavg()[0]! },
  };
}

/** The commit measured, and the broker files that differed from it (results depend on both). */
export function sourceState(): BenchResult['source'] {
  const git = (...args: string[]): string => execFileSync('git', args, { encoding: 'utf8', timeout: 5_000, stdio: ['ignore', 'pipe', 'ignore'] });
  try {
    // Porcelain lines are `XY path`: the status columns may be spaces, so no trimming before the slice.
    const dirty = git('status', '--porcelain', '--', 'src', 'actors').split('\n').filter((l) => l.length > 3).map((l) => l.slice(3));
    return { commit: git('rev-parse', 'HEAD').trim(), uncommitted: dirty };
  } catch {
    return undefined;
  }
}

function optionsForRecord(o: BenchOptions): Record<string, unknown> {
  return { ...o, topologies: o.topologies.map((t) => t.name) };
}
