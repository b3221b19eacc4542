import { formatCount, formatUs } from '../fanout/coordinator.js';
import { table } from '../fanout/report.js';
import type { BenchResult, Cell, Measurement } from '../fanout/results.js';
import type { Qos } from '../../src/index.js';

/** One fleet size at one QoS, in a broker process of its own. */
export interface DurableRun {
  qos: Qos;
  /** 1-minute load average when the run ended (2 cores here: above 2, other work skewed it). */
  loadAverage: number;
  cell: Cell;
}

export interface DurableResult {
  startedAt: string;
  durationS: number;
  machine: BenchResult['machine'];
  source: BenchResult['source'];
  options: Record<string, unknown>;
  runs: DurableRun[];
}

/** Issue #11's target: 100 QoS 1 PUBs to 2,000 ACKing subscribers all confirmed to the publisher within 2 s, none redelivered. */
const TARGET = { subscribers: 2000, allConfirmedMs: 2000 };

export function renderDurableTable(result: DurableResult): string {
  const header = ['subs', 'QoS', 'msgs', 'deliv/s', 'p50', 'p95', 'p99', 'max', 'OK p50', 'OK p99', 'all OK', 'redeliv', 'srv µs/dlv', 'store B/msg', 'written B/msg', 'lost', 'load'];
  const rows = result.runs.map(({ qos, loadAverage, cell }) => {
    const m = cell.measurements[0];
    if (!m) return [formatCount(cell.fleetSize), String(qos), `FAILED: ${cell.error ?? 'no measurement'}`];
    return rowOf(cell, qos, m, loadAverage);
  });
  const out = [`\n== 1 device publisher → N ACKing subscribers, ${String(result.options.payloadBytes)} B payloads, bursts of 100 PUBs ==`, table([header, ...rows])];
  const target = result.runs.find((r) => r.qos === 1 && r.cell.fleetSize === TARGET.subscribers)?.cell.measurements[0]?.durable;
  if (target) {
    const met = target.allConfirmedMs <= TARGET.allConfirmedMs && target.redelivered === 0;
    out.push(
      `\ntarget (issue #11): 100 QoS 1 PUBs to 2,000 ACKing subscribers confirmed within 2 s, 0 redeliveries: ` +
        `${formatMs(target.allConfirmedMs)}, ${target.redelivered} redelivered: ${met ? 'met' : 'MISSED'}`,
    );
  }
  out.push(
    'OK: PUB → OK at the publisher (QoS 1: after the commit); all OK: first PUB → last OK; store B/msg: data-file growth per message;' +
      '\nwritten B/msg: bytes the broker process wrote to storage per message (entry, cursor updates from ACKs, LMDB pages and syncs)',
  );
  return out.join('\n');
}

function rowOf(cell: Cell, qos: Qos, m: Measurement, loadAverage: number): string[] {
  const d = m.durable;
  const bytes = (n: number | undefined): string => (n === undefined || !Number.isFinite(n) ? '-' : formatCount(n));
  return [
    formatCount(cell.fleetSize),
    String(qos),
    String(m.published),
    formatCount(m.deliveriesPerSec),
    formatUs(m.latencyUs.p50),
    formatUs(m.latencyUs.p95),
    formatUs(m.latencyUs.p99),
    formatUs(m.latencyUs.max),
    d ? formatUs(d.confirmLatencyUs.p50) : '-',
    d ? formatUs(d.confirmLatencyUs.p99) : '-',
    d ? `${formatMs(d.allConfirmedMs)}${d.confirmed < m.published ? ` (${d.confirmed}/${m.published})` : ''}` : '-',
    d ? String(d.redelivered) : '-',
    m.serverCpuUsPerDelivery.toFixed(2),
    bytes(d?.storeGrowthBytesPerMessage),
    bytes(d?.storageWrittenBytesPerMessage),
    m.dropped > 0 ? formatCount(m.dropped) : '0',
    loadAverage.toFixed(1),
  ];
}

function formatMs(ms: number): string {
  return Number.isFinite(ms) ? formatUs(ms * 1000) : '-';
}
