/** One cluster node in its own process, driven by the coordinator over IPC (see commands.ts). */
import { setTimeout as sleep } from 'node:timers/promises';
import { Packr } from 'msgpackr';
import { pino } from 'pino';
import { WebSocket, WebSocketServer } from 'ws';
import { ClusterNode } from '../../src/cluster/index.js';
import { nowUs } from '../fanout/clock.js';
import { LatencyHistogram } from '../fanout/histogram.js';
import { serveCommands } from '../fanout/ipc.js';
import type { BenchPayload, NodeCommands, ReceiverStats, SendPlan, SendResult } from './commands.js';

const SECRET = 'cluster-bench-secret-0123456789';
/** Best-effort sends per event-loop turn when sending as fast as possible. */
const CHUNK = 256;

class Receiver {
  count = 0;
  firstUs = 0;
  lastUs = 0;
  hist = new LatencyHistogram();
  hops: string[] = [];
  perSeq: Record<number, number> | undefined;

  record(payload: BenchPayload, hops: string[]): void {
    const now = nowUs();
    const latency = now - payload.t;
    if (this.count++ === 0) this.firstUs = now;
    this.lastUs = now;
    this.hist.record(latency);
    this.hops = hops;
    if (this.perSeq) this.perSeq[payload.s] = latency;
  }

  reset(keepPerSeq: boolean): void {
    Object.assign(this, { count: 0, firstUs: 0, lastUs: 0, hist: new LatencyHistogram(), hops: [], perSeq: keepPerSeq ? {} : undefined });
  }

  stats(): ReceiverStats {
    return { count: this.count, firstUs: this.firstUs, lastUs: this.lastUs, latency: this.hist.toSparse(), hops: this.hops, perSeq: this.perSeq ?? {} };
  }
}

const rx = new Receiver();
const packr = new Packr({ useRecords: false });
let node: ClusterNode<BenchPayload> | undefined;
let raw: WebSocketServer | undefined;

/** Sends `plan.messages` payloads through `sendOne`, paced or as fast as possible. */
async function run(plan: SendPlan, sendOne: (payload: BenchPayload) => boolean | Promise<void>): Promise<SendResult> {
  const filler = Buffer.alloc(plan.payloadBytes, 7);
  const ack = new LatencyHistogram();
  let refused = 0;
  const one = (s: number): Promise<void> | undefined => {
    const t = nowUs();
    const r = sendOne({ s, t, p: filler });
    if (r === false) refused++;
    return r instanceof Promise ? r.then(() => ack.record(nowUs() - t)) : undefined;
  };
  const startUs = nowUs();
  const pending: Promise<void>[] = [];
  for (let s = 0; s < plan.messages; s++) {
    const p = one(s);
    if (plan.intervalMs > 0) {
      await p;
      await sleep(plan.intervalMs);
    } else if (p) {
      pending.push(p);
    } else if (s % CHUNK === CHUNK - 1) {
      await new Promise((r) => setImmediate(r));
    }
  }
  await Promise.all(pending);
  return { startUs, endUs: nowUs(), refused, ...(plan.reliable ? { ack: ack.toSparse() } : {}) };
}

function cluster(): ClusterNode<BenchPayload> {
  if (!node) throw new Error('node not started');
  return node;
}

serveCommands<NodeCommands>({
  start: async ({ nodeId, seeds, heartbeatMs, tls }) => {
    node = await ClusterNode.start<BenchPayload>({
      nodeId,
      host: '127.0.0.1',
      port: 0,
      secret: SECRET,
      seeds,
      heartbeatMs,
      ...(tls ? { tls } : {}),
      lsaRefreshMs: 2000,
      maxInflightPerDest: 256,
      log: pino({ level: 'warn' }),
      onMessage: (m) => rx.record(m.payload, m.hops),
      onBroadcast: (m) => rx.record(m.payload, m.hops),
    });
    return { port: node.port, pid: process.pid };
  },
  waitRoutes: async ({ live, dest, timeoutMs }) => {
    const n = cluster();
    const deadline = Date.now() + timeoutMs;
    const ready = (): boolean => n.liveNodes().length === live && (dest === undefined || n.nextHop(dest) !== undefined);
    while (!ready()) {
      if (Date.now() > deadline) throw new Error(`${n.nodeId}: ${n.liveNodes().length}/${live} nodes live after ${timeoutMs} ms`);
      await sleep(20);
    }
    return { liveNodes: n.liveNodes(), ...(dest === undefined ? {} : { nextHop: n.nextHop(dest)! }) };
  },
  reset: ({ keepPerSeq }) => {
    rx.reset(keepPerSeq);
    return null;
  },
  stats: () => rx.stats(),
  send: (plan) => {
    const n = cluster();
    if (plan.dest === undefined) return run(plan, (p) => n.broadcast(p) > 0);
    const dest = plan.dest;
    return run(plan, plan.reliable ? (p) => n.sendTo(dest, p, { reliable: true }) : (p) => n.sendTo(dest, p));
  },
  rawServe: async () => {
    raw = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false });
    raw.on('connection', (ws) => ws.on('message', (data) => rx.record(packr.unpack(data as Buffer) as BenchPayload, [])));
    await new Promise((resolve) => raw!.once('listening', resolve));
    return { port: (raw.address() as { port: number }).port };
  },
  rawSend: async ({ port, ...plan }) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/`, { perMessageDeflate: false });
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    const result = await run(plan, (p) => {
      ws.send(packr.pack(p));
      return true;
    });
    await new Promise((resolve) => (ws.bufferedAmount === 0 ? resolve(null) : setTimeout(resolve, 50)));
    ws.close();
    return result;
  },
  cpu: () => {
    const { user, system } = process.cpuUsage();
    return { us: user + system };
  },
  stop: async () => {
    await node?.close();
    raw?.close();
    return null;
  },
});
