import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeHtmlReport } from '../harness/html-report.js';
import { formatCount, formatUs } from './coordinator.js';
import { MQTT_PEERS } from './messages.js';
import type { BenchResult, Cell, Measurement } from './results.js';

/** The run as readable tables: one per (fleet size, pattern), a row per topology. */
export function renderTables(result: BenchResult): string {
  const out: string[] = [];
  const sizes = [...new Set(result.cells.map((c) => c.fleetSize))];
  const patterns = [...new Set(result.cells.flatMap((c) => c.measurements.map((m) => m.pattern)))];
  const header = ['topology', 'shape', 'deliv/s', '×native', '×ceiling', 'p50', 'p95', 'p99', 'max', 'srv µs/dlv', 'srv core', 'cli µs/dlv', 'frm/write', 'frm/read', 'RSS/conn', 'dropped', 'dup'];
  const mqttCells = result.cells.some((c) => (MQTT_PEERS as readonly string[]).includes(c.kind));
  const mqttClient = mqttCells
    ? `; MQTT over ${String(result.options.mqttTransport) === 'tcp' ? 'TCP' : 'WebSocket'}, subscribers: ${String(result.options.mqttClient) === 'mqttjs' ? 'mqtt.js clients' : 'lean framer (--mqtt-client lean)'}`
    : '';
  for (const size of sizes) {
    const cells = result.cells.filter((c) => c.fleetSize === size);
    for (const pattern of patterns) {
      const rows: string[][] = [];
      for (const cell of cells) {
        const m = cell.measurements.find((x) => x.pattern === pattern);
        if (!m) {
          rows.push([cell.topology, shapeOf(cell), cell.skipped ? `skipped: ${cell.skipped}` : `FAILED: ${cell.error ?? 'no measurement'}`]);
          continue;
        }
        rows.push(rowOf(cell, m));
      }
      const first = cells.flatMap((c) => c.measurements).find((m) => m.pattern === pattern);
      const what = first ? `${first.messages} msgs${pattern === 'burst' ? '' : ' paced'} × ${formatCount(first.subscribers)} subscribers` : '';
      const who = first ? `, ${first.publisher}-published` : '';
      out.push(`\n== ${size.toLocaleString('en-US')} subscribers, ${pattern}${who} (${what})${mqttClient} ==`);
      out.push(table([header, ...rows]));
    }
  }
  if (result.largestFleet) {
    const f = result.largestFleet;
    out.push(`\nlargest fleet on one server process: ${f.subscribed.toLocaleString('en-US')} subscribers (${f.serverOpenFds.toLocaleString('en-US')} of ${f.serverFdLimit.toLocaleString('en-US')} open files)`);
  }
  return out.join('\n');
}

function shapeOf(cell: Cell): string {
  if (!cell.fanout) return '-';
  const leaf = cell.fanout.leafSize >= 1e9 ? '∞' : String(cell.fanout.leafSize);
  return `b${cell.fanout.branching}/l${leaf} ${cell.fanout.leaves}L h${cell.fanout.height}`;
}

function rowOf(cell: Cell, m: Measurement): string[] {
  const ratio = (r: number | undefined): string => (r === undefined ? '-' : r.toFixed(2));
  return [
    cell.topology,
    shapeOf(cell),
    formatCount(m.deliveriesPerSec),
    ratio(m.ratioToUwsNative),
    ratio(m.ratioToCorkCeiling),
    formatUs(m.latencyUs.p50),
    formatUs(m.latencyUs.p95),
    formatUs(m.latencyUs.p99),
    formatUs(m.latencyUs.max),
    m.serverCpuUsPerDelivery.toFixed(3),
    `${Math.round(m.serverCoreShare * 100)}%`,
    m.clientCpuUsPerDelivery.toFixed(2),
    Number.isNaN(m.framesPerWrite) ? '-' : m.framesPerWrite.toFixed(1),
    Number.isNaN(m.framesPerRead) ? '-' : m.framesPerRead.toFixed(1),
    `${(cell.rssPerConnectionBytes / 1024).toFixed(2)} KB`,
    m.dropped > 0 ? formatCount(m.dropped) : '0',
    m.duplicates > 0 ? formatCount(m.duplicates) : '0',
  ];
}

/** Rows as aligned columns: the first two left-aligned (names), the rest right-aligned (figures). */
export function table(rows: string[][]): string {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, [...cell].length)));
  const line = (row: string[]): string =>
    row.map((cell, i) => (i < 2 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  ').trimEnd();
  return [line(rows[0]!), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.slice(1).map(line)].join('\n');
}

/** Writes <bench>-<timestamp>.json, <bench>-latest.json and, given a chart, <bench>-latest.svg (and with `html` their reports); returns their paths. */
export function writeResults(outDir: string, bench: string, result: { startedAt: string }, svg?: string, html = false): string[] {
  mkdirSync(outDir, { recursive: true });
  const stamp = result.startedAt.replace(/[:.]/g, '-');
  const json = JSON.stringify(result, null, 2) + '\n';
  const files = [join(outDir, `${bench}-${stamp}.json`), join(outDir, `${bench}-latest.json`)];
  writeFileSync(files[0]!, json);
  writeFileSync(files[1]!, json);
  if (svg !== undefined) {
    files.push(join(outDir, `${bench}-latest.svg`));
    writeFileSync(files[2]!, svg);
  }
  if (html) files.push(writeHtmlReport(files[0]!, svg !== undefined ? { svgPath: files[2]! } : {}), writeHtmlReport(files[1]!));
  return files;
}
