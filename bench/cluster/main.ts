/**
 * Cluster benchmark: `npm run bench:cluster [-- --quick]`. Every cluster node runs in its own
 * child process (real WebSocket links on 127.0.0.1). Measures point-to-point latency, throughput
 * and CPU per message over line topologies of 1, 2 and 3 hops (against a bare `ws` connection as
 * the floor; 1 hop also over TLS links, for the cost of encryption), cluster broadcast to every
 * node of a 5-node line and a 5-node full mesh, and membership through a real etcd (join time,
 * failure detection by link and by lease; skipped with the reason when etcd is not installed).
 * Prints tables and writes bench/results/cluster-latest.json.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { takeHtmlFlag, writeHtmlReport } from '../harness/html-report.js';
import { cpus, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { formatCount, formatUs } from '../fanout/coordinator.js';
import { killAllChildren, killChildrenOnExit } from '../fanout/ipc.js';
import { createTestCa } from '../../kit/test-ca.js';
import { measureMembership, type MembershipResult } from './membership.js';
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
  return rows.map((r) => r.map((cell, c) => cell.padEnd(widths[c]!)).join('  ').trimEnd()).join('\n');
}

const cpu = (t: { cpuUsPerMsg: number }): string => t.cpuUsPerMsg.toFixed(1);

/** One hop over TLS links against the same hop in plaintext: what encryption costs per forwarded message. */
function tlsRows(p2p: P2pResult[]): string[][] {
  const plain = p2p.find((r) => r.hops === 1 && r.path.length > 0 && !r.tls);
  const tls = p2p.find((r) => r.tls);
  if (!plain?.qos1 || !tls?.qos1) return [];
  const row = (qos: string, a: P2pResult['qos0']['throughput'], b: P2pResult['qos0']['throughput']) => [
    qos, formatCount(a.perSec), formatCount(b.perSec), cpu(a), cpu(b), `${(b.cpuUsPerMsg - a.cpuUsPerMsg).toFixed(1)} (${((b.cpuUsPerMsg / a.cpuUsPerMsg - 1) * 100).toFixed(0)} %)`,
  ];
  return [
    ['one hop', 'plaintext msg/s', 'TLS msg/s', 'plaintext CPU µs/msg', 'TLS CPU µs/msg', 'TLS extra µs/msg'],
    row('QoS 0', plain.qos0.throughput, tls.qos0.throughput),
    row('QoS 1', plain.qos1.throughput, tls.qos1.throughput),
  ];
}

function membershipRows(m: MembershipResult): string[][] {
  return [
    ['join through etcd', 'ms until in every graph'],
    ...m.joins.map((j) => [j.nodeId, j.joinMs.toFixed(0)]),
    [],
    ['failure', 'ms until out of every graph', 'ms until its etcd key is gone (lease)'],
    ...m.detections.map((d) => [d.failure, d.graphMs.toFixed(0), d.etcdKeyMs.toFixed(0)]),
  ];
}

function render(p2p: P2pResult[], broadcasts: BroadcastResult[], membership: MembershipResult | string, s: BenchSettings): string {
  const p2pRows = [
    ['path', 'hops', 'QoS0 one-way p50/p99', 'QoS0 msg/s', 'QoS0 CPU µs/msg', 'QoS0 lost', 'QoS1 ack p50/p99', 'QoS1 one-way p50/p99', 'QoS1 msg/s', 'QoS1 CPU µs/msg'],
    ...p2p.map((r) => [
      r.path.length ? `${r.path.join('→')}${r.tls ? ' (TLS)' : ''}` : r.name,
      String(r.hops),
      us(r.qos0.oneWayUs),
      formatCount(r.qos0.throughput.perSec),
      cpu(r.qos0.throughput),
      formatCount(r.qos0.throughput.lost),
      r.qos1 ? us(r.qos1.ackUs) : '-',
      r.qos1 ? us(r.qos1.oneWayUs) : '-',
      r.qos1 ? formatCount(r.qos1.throughput.perSec) : '-',
      r.qos1 ? cpu(r.qos1.throughput) : '-',
    ]),
  ];
  const bcRows = [
    ['broadcast', 'nodes', 'each receiver p50/p99', 'last receiver p50/p99', 'broadcasts/s', 'deliveries/s', 'CPU µs/delivery', 'lost'],
    ...broadcasts.map((b) => [b.name, String(b.nodes), us(b.anyReceiverUs), us(b.allReceivedUs), formatCount(b.throughput.perSec), formatCount(b.throughput.deliveriesPerSec), cpu(b.throughput), formatCount(b.throughput.lost)]),
  ];
  const timing = typeof membership === 'string' ? '' : ` (heartbeat ${membership.timing.heartbeatMs} ms, link timeout ${membership.timing.linkTimeoutMs} ms, lease TTL ${membership.timing.leaseTtlSeconds} s)`;
  return [
    `\n== point to point (${s.payloadBytes} B payloads; latency: ${s.latencyMessages} paced at ${s.intervalMs} ms; throughput: ${s.throughputMessages} as fast as possible) ==`,
    table(p2pRows),
    `\n== TLS on the links: one hop, throughput runs ==`,
    table(tlsRows(p2p)),
    `\n== cluster broadcast from n0 ==`,
    table(bcRows),
    `\n== membership through etcd${timing} ==`,
    typeof membership === 'string' ? `skipped: ${membership}` : table(membershipRows(membership)),
    `\nlost: QoS 0 frames dropped under backpressure (a link's buffer past maxBufferedBytes while the sender outpaces the receivers), by design.`,
    `QoS 1 ack: sendTo(reliable) until its promise resolves, i.e. stored at the destination and acked back hop by hop.`,
    `CPU µs/msg: CPU time (user + system) of every node process of the run over its throughput phase, per delivered message.`,
    `join: in-process nodes from their start; broker processes from their spawn (mostly process start-up).`,
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

function etcdInstalled(): boolean {
  try {
    execFileSync('etcd', ['--version'], { stdio: 'ignore', timeout: 10_000 });
    return true;
  } catch {
    return false;
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
    process.stdout.write('membership through etcd ...\n');
    const membership = etcdInstalled() ? await measureMembership() : 'etcd is not installed (Debian: apt-get install etcd-server)';

    process.stdout.write(render(p2p, broadcasts, membership, s) + '\n');
    const result = {
      startedAt: startedAt.toISOString(),
      durationS: (Date.now() - startedAt.getTime()) / 1000,
      machine: { node: process.version, cpus: cpus().length, cpuModel: cpus()[0]?.model ?? 'unknown', loadAverage: { atStart: loadAtStart, atEnd: loadavg()[0]! } },
      source: sourceState(),
      settings: s,
      note: 'each node in its own child process; latencies in µs on CLOCK_MONOTONIC shared by all processes',
      pointToPoint: p2p,
      broadcast: broadcasts,
      membership,
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
