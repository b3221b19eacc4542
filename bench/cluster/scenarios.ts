import { setTimeout as sleep } from 'node:timers/promises';
import { LatencyHistogram } from '../fanout/histogram.js';
import { forkChild, type ChildLink } from '../fanout/ipc.js';
import type { Histogram, NodeCommands, ReceiverStats, SendPlan, SendResult } from './commands.js';
import type { TestCa } from '../../kit/test-ca.js';

export interface BenchSettings {
  latencyMessages: number;
  intervalMs: number;
  throughputMessages: number;
  payloadBytes: number;
  heartbeatMs: number;
}

export interface Percentiles {
  p50: number;
  p99: number;
  max: number;
  mean: number;
}

export interface Throughput {
  sent: number;
  delivered: number;
  /** Best-effort sends the sender's link refused (congested) or that never arrived. */
  lost: number;
  durationMs: number;
  perSec: number;
  /** CPU time of every process in the run (nodes, or the two raw ws ends) per delivered message, µs. */
  cpuUsPerMsg: number;
}

export interface P2pResult {
  name: string;
  hops: number;
  path: string[];
  /** Links encrypted (wss with certificates): the TLS cost is this row against the same path without. */
  tls?: boolean;
  qos0: { oneWayUs: Percentiles; throughput: Throughput };
  qos1?: { ackUs: Percentiles; oneWayUs: Percentiles; throughput: Throughput };
}

export interface BroadcastResult {
  name: string;
  nodes: number;
  /** Every delivery's one-way latency, and per broadcast the latency of its last receiver. */
  anyReceiverUs: Percentiles;
  allReceivedUs: Percentiles;
  /** Broadcasts per second, and deliveries (broadcasts × receivers) per second. */
  throughput: Throughput & { deliveriesPerSec: number };
}

type Node = ChildLink<NodeCommands>;
const MODULE = new URL('./node-process.ts', import.meta.url);
const T = 30_000;

/** Starts `ids` in their own processes; each dials the earlier ids `links` pairs it with. */
export async function startCluster(ids: string[], links: [string, string][], heartbeatMs: number, ca?: TestCa): Promise<Map<string, Node>> {
  const nodes = new Map<string, Node>();
  const ports = new Map<string, number>();
  for (const id of ids) {
    const child = forkChild<NodeCommands>(id, MODULE);
    nodes.set(id, child);
    const seeds = links.flatMap(([a, b]) => (a === id && ports.has(b) ? [b] : b === id && ports.has(a) ? [a] : [])).map((n) => ({ nodeId: n, host: '127.0.0.1', port: ports.get(n)! }));
    const cert = ca?.issue(id);
    const tls = ca && cert ? { tls: { key: cert.key, cert: cert.cert, ca: ca.ca } } : {};
    const { port } = await child.request('start', { nodeId: id, seeds, heartbeatMs, ...tls }, T);
    ports.set(id, port);
  }
  await Promise.all([...nodes.values()].map((n) => n.request('waitRoutes', { live: ids.length, timeoutMs: 15_000 }, T)));
  return nodes;
}

export async function stopNodes(nodes: Iterable<Node>): Promise<void> {
  const list = [...nodes];
  await Promise.allSettled(list.map((n) => n.request('stop', null, 5000)));
  await Promise.all(list.map((n) => n.waitExit(0)));
}

type Send = (plan: Pick<SendPlan, 'messages' | 'reliable' | 'intervalMs'>) => Promise<SendResult>;

/** Total CPU time so far of the processes of a run, µs. */
async function cpuOf(processes: Iterable<Node>): Promise<number> {
  const each = await Promise.all([...processes].map((n) => n.request('cpu', null, T)));
  return each.reduce((sum, c) => sum + c.us, 0);
}

/** Best effort: paced one-way latency, then throughput when sending as fast as possible. */
async function measureQos0(processes: Node[], receiver: Node, send: Send, s: BenchSettings): Promise<{ path: string[]; qos0: P2pResult['qos0'] }> {
  await receiver.request('reset', { keepPerSeq: false }, T);
  await send({ messages: s.latencyMessages, reliable: false, intervalMs: s.intervalMs });
  const [lat] = await waitCounts([receiver], s.latencyMessages);
  await receiver.request('reset', { keepPerSeq: false }, T);
  const cpuBefore = await cpuOf(processes);
  const sent = await send({ messages: s.throughputMessages, reliable: false, intervalMs: 0 });
  const [tp] = await waitCounts([receiver], s.throughputMessages);
  const cpuUs = (await cpuOf(processes)) - cpuBefore;
  return { path: lat!.hops, qos0: { oneWayUs: percentiles(lat!.latency), throughput: throughput(s.throughputMessages, tp!.count, sent.startUs, tp!.lastUs, cpuUs) } };
}

export const lineLinks = (ids: string[]): [string, string][] => ids.slice(1).map((id, i) => [ids[i]!, id]);
export const meshLinks = (ids: string[]): [string, string][] => ids.flatMap((a, i) => ids.slice(i + 1).map((b): [string, string] => [a, b]));

/** Point-to-point from the first node of a line to its last; with `ca`, over TLS links with its certificates. */
export async function measureLine(hops: number, s: BenchSettings, ca?: TestCa): Promise<P2pResult> {
  const ids = Array.from({ length: hops + 1 }, (_, i) => `n${i}`);
  const nodes = await startCluster(ids, lineLinks(ids), s.heartbeatMs, ca);
  try {
    const origin = nodes.get(ids[0]!)!;
    const dest = nodes.get(ids.at(-1)!)!;
    const send: Send = (plan) => origin.request('send', { ...plan, dest: ids.at(-1)!, payloadBytes: s.payloadBytes }, 120_000);
    const { path, qos0 } = await measureQos0([...nodes.values()], dest, send, s);

    await dest.request('reset', { keepPerSeq: false }, T);
    const lat1 = await send({ messages: s.latencyMessages, reliable: true, intervalMs: s.intervalMs });
    const oneWay1 = await waitCounts([dest], s.latencyMessages);
    await dest.request('reset', { keepPerSeq: false }, T);
    const cpuBefore = await cpuOf(nodes.values());
    const tp1 = await send({ messages: s.throughputMessages, reliable: true, intervalMs: 0 });
    const cpuUs = (await cpuOf(nodes.values())) - cpuBefore;

    return {
      name: `cluster ${hops} hop${hops > 1 ? 's' : ''}${ca ? ', TLS' : ''}`,
      tls: ca !== undefined,
      hops,
      path,
      qos0,
      qos1: { ackUs: percentiles(lat1.ack!), oneWayUs: percentiles(oneWay1[0]!.latency), throughput: throughput(s.throughputMessages, s.throughputMessages, tp1.startUs, tp1.endUs, cpuUs) },
    };
  } finally {
    await stopNodes(nodes.values());
  }
}

/** The floor: the same payloads over one bare `ws` connection between two processes, no cluster layer. */
export async function measureRawWs(s: BenchSettings): Promise<P2pResult> {
  const [sender, receiver] = [forkChild<NodeCommands>('raw-sender', MODULE), forkChild<NodeCommands>('raw-receiver', MODULE)];
  try {
    const { port } = await receiver.request('rawServe', null, T);
    const { qos0 } = await measureQos0([sender, receiver], receiver, (plan) => sender.request('rawSend', { ...plan, port, payloadBytes: s.payloadBytes }, 120_000), s);
    return { name: 'raw ws (baseline)', hops: 1, path: [], qos0 };
  } finally {
    await stopNodes([sender, receiver]);
  }
}

/** Cluster broadcast from the first node to all others. */
export async function measureBroadcast(name: string, ids: string[], links: [string, string][], s: BenchSettings): Promise<BroadcastResult> {
  const nodes = await startCluster(ids, links, s.heartbeatMs);
  try {
    const origin = nodes.get(ids[0]!)!;
    const receivers = ids.slice(1).map((id) => nodes.get(id)!);
    const send = (plan: Omit<SendPlan, 'payloadBytes' | 'reliable'>) => origin.request('send', { ...plan, reliable: false, payloadBytes: s.payloadBytes }, 120_000);

    await Promise.all(receivers.map((r) => r.request('reset', { keepPerSeq: true }, T)));
    await send({ messages: s.latencyMessages, intervalMs: s.intervalMs });
    const lat = await waitCounts(receivers, s.latencyMessages);
    const any = new LatencyHistogram();
    const all = new LatencyHistogram();
    for (const st of lat) any.merge(st.latency);
    for (let seq = 0; seq < s.latencyMessages; seq++) {
      const each = lat.map((st) => st.perSeq[seq]);
      if (each.every((v) => v !== undefined)) all.record(Math.max(...(each as number[])));
    }

    await Promise.all(receivers.map((r) => r.request('reset', { keepPerSeq: false }, T)));
    const cpuBefore = await cpuOf(nodes.values());
    const tp = await send({ messages: s.throughputMessages, intervalMs: 0 });
    const tps = await waitCounts(receivers, s.throughputMessages);
    const cpuUs = (await cpuOf(nodes.values())) - cpuBefore;
    const delivered = tps.reduce((sum, st) => sum + st.count, 0);
    const expected = s.throughputMessages * receivers.length;
    const t = throughput(expected, delivered, tp.startUs, Math.max(...tps.map((st) => st.lastUs)), cpuUs);
    return {
      name,
      nodes: ids.length,
      anyReceiverUs: percentiles(any.toSparse()),
      allReceivedUs: percentiles(all.toSparse()),
      throughput: { ...t, sent: s.throughputMessages, perSec: t.perSec / receivers.length, deliveriesPerSec: t.perSec },
    };
  } finally {
    await stopNodes(nodes.values());
  }
}

/** Polls until every receiver counted `expected`, or counts stop moving for a second (best-effort losses). */
async function waitCounts(receivers: Node[], expected: number): Promise<ReceiverStats[]> {
  let last = '';
  let stableSince = Date.now();
  for (const deadline = Date.now() + 60_000; Date.now() < deadline; await sleep(50)) {
    const stats = await Promise.all(receivers.map((r) => r.request('stats', null, T)));
    if (stats.every((st) => st.count >= expected)) return stats;
    const key = stats.map((st) => st.count).join();
    if (key !== last) [last, stableSince] = [key, Date.now()];
    else if (Date.now() - stableSince > 1000) return stats;
  }
  throw new Error(`receivers still short of ${expected} messages after 60 s`);
}

function throughput(sent: number, delivered: number, startUs: number, endUs: number, cpuUs: number): Throughput {
  const durationMs = Math.max(0.001, (endUs - startUs) / 1000);
  return { sent, delivered, lost: sent - delivered, durationMs, perSec: delivered / (durationMs / 1000), cpuUsPerMsg: cpuUs / Math.max(1, delivered) };
}

function percentiles(h: Histogram): Percentiles {
  const hist = new LatencyHistogram();
  hist.merge(h);
  return { p50: hist.percentile(50), p99: hist.percentile(99), max: hist.max, mean: hist.mean };
}
