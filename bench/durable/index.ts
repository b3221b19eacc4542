/**
 * The QoS 1 benchmark: `relaymesh bench durable` and `npm run bench:durable`. Each run is one
 * cell of the fan-out bench (same server process, subscriber processes and device publisher)
 * at QoS 0 or QoS 1; this module picks the runs and reports what matters for durability.
 */
import { loadavg } from 'node:os';
import { CellRunner, ProgressLog, startPublisher, startSubscribers } from '../fanout/coordinator.js';
import { machineState, sourceState, warnAboutLoad } from '../fanout/index.js';
import { killAllChildren, killChildrenOnExit } from '../fanout/ipc.js';
import { writeResults } from '../fanout/report.js';
import type { Qos } from '../../src/index.js';
import { DURABLE_USAGE, messagesFor, parseDurableArgs } from './options.js';
import { renderDurableTable, type DurableResult, type DurableRun } from './report.js';

export { DURABLE_USAGE };

/** Runs the benchmark; returns the process exit code (1 if a run failed or a QoS 1 PUB went unconfirmed). */
export async function runDurableBench(args: string[]): Promise<number> {
  const options = parseDurableArgs(args);
  const uninstall = killChildrenOnExit();
  const startedAt = new Date();
  const log = new ProgressLog();
  log.line(`durable bench: sizes ${options.sizes.join(', ')}; QoS 0 then QoS 1; payload ${options.cell.payloadBytes} B; ${options.cell.workers} subscriber processes`);
  const loadAtStart = warnAboutLoad(log);
  const subscribers = startSubscribers(options.cell.workers);
  const publisher = startPublisher();
  try {
    const runs: DurableRun[] = [];
    for (const size of options.sizes) {
      const messages = messagesFor(options, size);
      for (const qos of [0, 1] as Qos[]) {
        const runner = new CellRunner({ ...options.cell, qos, messages }, subscribers, log, publisher);
        const cell = await runner.run(options.cell.topologies[0]!, size);
        runs.push({ qos, loadAverage: loadavg()[0]!, cell });
      }
    }
    const result: DurableResult = {
      startedAt: startedAt.toISOString(),
      durationS: (Date.now() - startedAt.getTime()) / 1000,
      machine: machineState(loadAtStart),
      source: sourceState(),
      options: { sizes: options.sizes, deliveries: options.deliveries, messages: options.messages, payloadBytes: options.cell.payloadBytes, workers: options.cell.workers },
      runs,
    };
    process.stdout.write(renderDurableTable(result) + '\n\n');
    const files = writeResults(options.cell.outDir, 'durable', result, undefined, options.cell.html);
    log.line(`done in ${result.durationS.toFixed(0)} s; wrote ${files.join(', ')}`);
    const unconfirmed = runs.some((r) => r.cell.measurements.some((m) => m.durable && m.durable.confirmed < m.published));
    return runs.some((r) => r.cell.error) || unconfirmed ? 1 : 0;
  } finally {
    await Promise.all([...subscribers, publisher].map((s) => s.waitExit(0)));
    killAllChildren();
    uninstall();
  }
}
