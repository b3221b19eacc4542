/**
 * Cluster benchmark: `npm run bench:cluster [-- --quick]`. Every cluster node runs in its own
 * child process (real WebSocket links on 127.0.0.1). Measures point-to-point latency and
 * throughput over line topologies of 1, 2 and 3 hops (against a bare `ws` connection as the
 * floor; 1 hop also over TLS links, for the cost of encryption), and cluster broadcast to every node of a 5-node line and a 5-node full mesh. Prints
 * a table and writes bench/results/cluster-latest.json.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { takeHtmlFlag, writeHtmlReport } from '../harness/html-report.js';
import { cpus, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { formatCount, formatUs } from '../fanout/coordinator.js';
import { killAllChildren, killChildrenOnExit } from '../fanout/ipc.js';
import { createTestCa } from '../../kit/test-ca.js';
import { lineLinks, measureBroadcast, measureLine, measureRawWs, meshLinks, type BenchSettings, type BroadcastResult, type P2pResult, type Percentiles } from './scenarios.js';

const USAGE = `usage: npm run bench:cluster [-- --quick] [--messages N] [--payload BYTES]
  --quick        fewer messages (a smoke run)
  --messages N   messages per throughput run (default 50000; latency runs send 1000 paced at 1 ms)
  --payload B    payload bytes (default 256)
  --html         also write bench/results/cluster-latest.html (a self-contained report)`;

function parseArgs(args: string[]): BenchSettings {
  const s: BenchSettings = { latencyMessages: 1000, intervalMs: 1, throughputMessages: 50_000, payloadBytes: 256, heartbeatMs: 500 };
  for (let i = 0; i < args.length; i++) {
    const value = (): number => {
      const n = Number(args[++i]);
      if (!Number.isInteger(n) || n < 1) throw new Error(`${args[i - 1]} needs a positive integer`);
      return n;
    };
    if (args[i] === '--quick') Object.assign(s, { latencyMessages: 200, throughputMessages: 5000 });
    else if (args[i] === '--messages') s.throughputMessages = value();
    else if (args[i] === '--payload') s.payloadBytes = value();
    else throw new Error(`unknown argument ${args[i]}\n${USAGE}`);
  }
  return s;
}

const us = (p: Percentiles): string => `${formatUs(p.p50)} / ${formatUs(p.p99)}`;

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
  return rows.map((r) => r.map((cell, c) => cell.padEnd(widths[c]!)).join('  ')).join('\n');
}

function render(p2p: P2pResult[], broadcasts: BroadcastResult[], s: BenchSettings): string {
  const p2pRows = [
    ['path', 'hops', 'QoS0 one-way p50/p99', 'QoS0 msg/s', 'QoS0 lost', 'QoS1 ack p50/p99', 'QoS1 one-way p50/p99', 'QoS1 msg/s'],
    ...p2p.map((r) => [
      r.path.length ? `${r.path.join('→')}${r.tls ? ' (TLS)' : ''}` : r.name,
      String(r.hops),
      us(r.qos0.oneWayUs),
      formatCount(r.qos0.throughput.perSec),
      formatCount(r.qos0.throughput.lost),
      r.qos1 ? us(r.qos1.ackUs) : '-',
      r.qos1 ? us(r.qos1.oneWayUs) : '-',
      r.qos1 ? formatCount(r.qos1.throughput.perSec) : '-',
    ]),
  ];
  const bcRows = [
    ['broadcast', 'nodes', 'each receiver p50/p99', 'last receiver p50/p99', 'broadcasts/s', 'deliveries/s', 'lost'],
    ...broadcasts.map((b) => [b.name, String(b.nodes), us(b.anyReceiverUs), us(b.allReceivedUs), formatCount(b.throughput.perSec), formatCount(b.throughput.deliveriesPerSec), formatCount(b.throughput.lost)]),
  ];
  return [
    `\n== point to point (${s.payloadBytes} B payloads; latency: ${s.latencyMessages} paced at ${s.intervalMs} ms; throughput: ${s.throughputMessages} as fast as possible) ==`,
    table(p2pRows),
    `\n== cluster broadcast from n0 ==`,
    table(bcRows),
    `\nlost: QoS 0 frames dropped under backpressure (a link's buffer past maxBufferedBytes while the sender outpaces the receivers), by design.`,
    `QoS 1 ack: sendTo(reliable) until its promise resolves, i.e. stored at the destination and acked back hop by hop.`,
    `load average ${loadavg()[0]!.toFixed(1)} on ${cpus().length} cores: figures from a shared machine vary between runs.`,
  ].join('\n');
}

function sourceState(): { commit: string; uncommitted: string[] } | undefined {
  try {
    const git = (...a: string[]): string => execFileSync('git', a, { encoding: 'utf8', timeout: 5000, stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    return { commit: git('rev-parse', 'HEAD'), uncommitted: git('status', '--porcelain', '--', 'src/cluster').split('\n').filter(Boolean).map((l) => l.slice(3)) };
  } catch {
    return undefined;
  }
}

async function main(args: string[]): Promise<void> {
  if (args.includes('--help') || args.includes('-h')) return void process.stdout.write(USAGE + '\n');
  const { html, rest } = takeHtmlFlag(args);
  const s = parseArgs(rest);
  const uninstall = killChildrenOnExit();
  const startedAt = new Date();
  const loadAtStart = loadavg()[0]!;
  try {
    const p2p: P2pResult[] = [];
    process.stdout.write('raw ws baseline ...\n');
    p2p.push(await measureRawWs(s));
    for (const hops of [1, 2, 3]) {
      process.stdout.write(`line of ${hops + 1} nodes (${hops} hop${hops > 1 ? 's' : ''}) ...\n`);
      p2p.push(await measureLine(hops, s));
    }
    process.stdout.write('line of 2 nodes over TLS links ...\n');
    p2p.push(await measureLine(1, s, createTestCa('relaymesh-bench-ca')));
    const ids = ['n0', 'n1', 'n2', 'n3', 'n4'];
    const broadcasts: BroadcastResult[] = [];
    process.stdout.write('broadcast, 5-node line ...\n');
    broadcasts.push(await measureBroadcast('line n0–n4', ids, lineLinks(ids), s));
    process.stdout.write('broadcast, 5-node full mesh ...\n');
    broadcasts.push(await measureBroadcast('full mesh of 5', ids, meshLinks(ids), s));

    process.stdout.write(render(p2p, broadcasts, s) + '\n');
    const result = {
      startedAt: startedAt.toISOString(),
      durationS: (Date.now() - startedAt.getTime()) / 1000,
      machine: { node: process.version, cpus: cpus().length, cpuModel: cpus()[0]?.model ?? 'unknown', loadAverage: { atStart: loadAtStart, atEnd: loadavg()[0]! } },
      source: sourceState(),
      settings: s,
      note: 'each node in its own child process; latencies in µs on CLOCK_MONOTONIC shared by all processes',
      pointToPoint: p2p,
      broadcast: broadcasts,
    };
    const dir = fileURLToPath(new URL('../results/', import.meta.url));
    mkdirSync(dir, { recursive: true });
    writeFileSync(`${dir}cluster-latest.json`, JSON.stringify(result, null, 2) + '\n');
    const report = html ? `, ${writeHtmlReport(`${dir}cluster-latest.json`)}` : '';
    process.stdout.write(`\ndone in ${result.durationS.toFixed(0)} s; wrote bench/results/cluster-latest.json${report}\n`);
  } finally {
    killAllChildren();
    uninstall();
  }
}

main(process.argv.slice(2)).catch((err: Error) => {
  process.stderr.write(`bench cluster: ${err.message}\n`);
  killAllChildren();
  process.exitCode = 1;
});
