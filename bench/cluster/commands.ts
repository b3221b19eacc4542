import type { SparseCounts } from '../fanout/histogram.js';
import type { PeerAddress } from '../../src/cluster/index.js';
import type { ClusterTls } from '../../src/cluster/link-tls.js';

/** What travels in every benchmark payload: a sequence number, the send time, and filler bytes. */
export interface BenchPayload {
  s: number;
  /** Send time, µs on CLOCK_MONOTONIC (comparable across processes on this machine). */
  t: number;
  p: Uint8Array;
}

export interface Histogram {
  counts: SparseCounts;
  max: number;
  sum: number;
}

/** What a node process saw arrive since its last reset. */
export interface ReceiverStats {
  count: number;
  firstUs: number;
  lastUs: number;
  /** One-way latencies (send stamp to handler). */
  latency: Histogram;
  /** The hops of the last message, to confirm the path measured. */
  hops: string[];
  /** One-way latency per sequence number (paced runs only: the per-message maximum over receivers needs them). */
  perSeq: Record<number, number>;
}

export interface SendPlan {
  /** Destination node, or undefined for a cluster broadcast. */
  dest?: string;
  messages: number;
  payloadBytes: number;
  reliable: boolean;
  /** 0: as fast as the sender can (throughput); else one message every `intervalMs` (latency). */
  intervalMs: number;
}

export interface SendResult {
  startUs: number;
  endUs: number;
  /** Best-effort sends refused (no route or link congested). */
  refused: number;
  /** Reliable sends: time from sendTo to its promise resolving. */
  ack?: Histogram;
}

/** Aliases, not interfaces: they must satisfy CommandMap's index signature. */
export type NodeCommands = {
  start: { args: { nodeId: string; seeds: PeerAddress[]; heartbeatMs: number; tls?: ClusterTls }; reply: { port: number; pid: number } };
  waitRoutes: { args: { live: number; dest?: string; timeoutMs: number }; reply: { liveNodes: string[]; nextHop?: string } };
  reset: { args: { keepPerSeq: boolean }; reply: null };
  stats: { args: null; reply: ReceiverStats };
  send: { args: SendPlan; reply: SendResult };
  rawServe: { args: null; reply: { port: number } };
  rawSend: { args: SendPlan & { port: number }; reply: SendResult };
  /** The process's CPU time so far (user + system), µs. */
  cpu: { args: null; reply: { us: number } };
  stop: { args: null; reply: null };
};
