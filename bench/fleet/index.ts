/** The fleet simulator and peer comparison: `relaymesh bench fleet` and `npm run bench:fleet`. */
import { execFileSync } from 'node:child_process';
import { cpus, loadavg, totalmem } from 'node:os';
import { killAllChildren, killChildrenOnExit } from '../fanout/ipc.js';
import { capacityScenarios } from './capacity.js';
import { FLEET_USAGE, parseFleetArgs, type FleetOptions } from './options.js';
import { ProgressLine } from './progress.js';
import { writeHtmlReport } from '../harness/html-report.js';
import { renderTables, writeResults } from './report.js';
import type { FleetResult } from './results.js';
import { peerComparison, reconnectStorm, relaymeshScenarios, type RunContext } from './scenarios.js';
import { DEVICE_WORKER_NICE, Simulator } from './simulator.js';
import { cliHasWorkers } from './targets.js';

export { FLEET_USAGE };

/** Runs the bench; returns the process exit code (1 if a scenario failed to run). */
export async function runFleetBench(args: string[]): Promise<number> {
  const options = parseFleetArgs(args);
  const uninstall = killChildrenOnExit();
  const log = new ProgressLine();
  const startedAt = new Date();
  const loadAtStart = loadavg()[0]!;
  const result: FleetResult = {
    startedAt: startedAt.toISOString(),
    durationS: 0,
    machine: describeMachine(loadAtStart),
    source: sourceState(),
    options: { ...options },
    relaymesh: {},
    peers: [],
    notes: [],
    errors: [],
  };
  if (options.brokerWorkers > 1 && !cliHasWorkers()) {
    throw new Error('--broker-workers needs `relaymesh start --workers`, which this build does not have yet');
  }
  log.line(
    `fleet bench: ${options.devices} devices at ${options.rate} msg/s each, ${options.durationS} s phases; scenarios ${options.scenarios.join(', ')}; ` +
      `peers ${options.peers.join(', ') || 'none'}; ${options.workers} device workers, ${options.backends} backends, payload ${options.payloadBytes} B, QoS ${options.qos}`,
  );
  if (loadAtStart > cpus().length * 0.5) log.line(`warning: load average ${loadAtStart.toFixed(1)} on ${cpus().length} cores: other work will skew the figures`);
  const sim = Simulator.start(
    {
      workload: 'fleet',
      workers: options.workers,
      partitions: options.backends,
      payloadBytes: options.payloadBytes,
      qos: options.qos,
      heartbeatMs: options.heartbeatMs,
      connectConcurrency: 64,
      connectTimeoutMs: 15_000,
    },
    log,
  );
  const ctx: RunContext = {
    sim,
    options,
    log,
    result,
    deadline: startedAt.getTime() + options.maxMinutes * 60_000,
    targetSettings: {
      heartbeatMs: options.heartbeatMs,
      lifetimeS: options.maxMinutes * 60 + 120,
      relaymeshMode: options.brokerMode,
      brokerWorkers: options.brokerWorkers,
      ...(options.cpuProfDir ? { execArgv: ['--cpu-prof', '--cpu-prof-dir', options.cpuProfDir] } : {}),
    },
  };
  noteLimits(options, result);
  try {
    for (const [name, run] of [
      ['relaymesh scenarios', relaymeshScenarios],
      ['reconnect storm', reconnectStorm],
      ['capacity search', capacityScenarios],
      ['peer comparison', peerComparison],
    ] as const) {
      try {
        await run(ctx);
      } catch (err) {
        const message = `${name}: ${(err as Error).stack ?? String(err)}`;
        log.line(`error: ${message}`);
        result.errors.push(message);
      }
    }
    result.durationS = (Date.now() - startedAt.getTime()) / 1000;
    result.machine.loadAverage.atEnd = loadavg()[0]!;
    noteOtherLoad(result);
    process.stdout.write('\n' + renderTables(result) + '\n\n');
    const file = writeResults(options.outDir, result);
    const html = options.html ? [writeHtmlReport(file)] : [];
    log.line(`done in ${result.durationS.toFixed(0)} s; wrote ${[file, ...html].join(', ')}`);
    return result.errors.length > 0 ? 1 : 0;
  } finally {
    await sim.stop();
    killAllChildren();
    uninstall();
  }
}

function noteLimits(o: FleetOptions, result: FleetResult): void {
  result.notes.push(
    cliHasWorkers()
      ? 'one broker process holds < 20,000 sockets here (open-files limit 20,000, hard): about 19.7k devices; the idle search goes past that with `relaymesh start --workers`'
      : 'one broker process holds < 20,000 sockets here (open-files limit 20,000, hard): about 19.7k devices; larger fleets need the multi-process broker (`relaymesh start --workers`, not in this build)',
    `the simulator shares the machine's ${cpus().length} cores with the broker (its device workers run at nice ${DEVICE_WORKER_NICE}, so the broker is not starved by its own load generator): 'sim cores' shows how much it took, 'slip p99' how late its publishes left (high: the simulator, not the broker, fell behind), 'other cores' what processes outside the bench took`,
    'latency: send time stamped in the payload (CLOCK_MONOTONIC, shared by all processes) to receipt in the receiving process; includes the clients\' own processing',
    'broker lag = the broker process\'s event-loop delay (perf_hooks); n/a for Mosquitto (not a Node process)',
  );
  if (o.peers.length > 0) {
    result.notes.push('relaymesh devices are lean `ws` sockets with the relaymesh codec; MQTT peers\' devices are mqtt.js clients (heavier): compare the brokers\' CPU and memory, and read latency with the simulator\'s CPU in mind');
  }
}

/** Warns when processes outside the bench took a noticeable share of the cores during a phase. */
function noteOtherLoad(result: FleetResult): void {
  const rm = result.relaymesh;
  const searches = [rm.capacity, rm.idle, rm.idleWorkers].flatMap((c) => c?.probes ?? []).map((p) => p.phase);
  const phases = [rm.steady, rm.broadcast, rm.soak, rm.reconnect?.phase, ...searches];
  for (const peer of result.peers) phases.push(peer.steady, peer.broadcast);
  const worst = Math.max(0, ...phases.map((p) => p?.otherCores ?? 0));
  if (worst > 0.25) {
    result.notes.push(`other processes on this machine took up to ${worst.toFixed(2)} of its ${cpus().length} cores during a phase ('other cores'): latency and capacity figures of those phases are skewed low`);
  }
}

export function describeMachine(loadAtStart: number): FleetResult['machine'] {
  return {
    node: process.version,
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model ?? 'unknown',
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    loadAverage: { atStart: loadAtStart, atEnd: 0 },
  };
}

/** The commit measured, and the broker files that differed from it. */
export function sourceState(): FleetResult['source'] {
  const git = (...args: string[]): string => execFileSync('git', args, { encoding: 'utf8', timeout: 5_000, stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  try {
    const dirty = git('status', '--porcelain', '--', 'src', 'actors').split('\n').filter((l) => l.length > 0).map((l) => l.slice(3));
    return { commit: git('rev-parse', 'HEAD'), uncommitted: dirty };
  } catch {
    return undefined;
  }
}
