import { z } from 'zod';
import type { Logger } from '../logger.js';
import type { Discovery, PeerAddress } from './discovery.js';
import { NODE_ID_PATTERN } from './wire.js';

/** A payload as the destination's handler sees it. */
export interface ClusterMessage<T = unknown> {
  /** Caller-supplied (or generated) id; for broadcasts the broadcast id. */
  id: string;
  origin: string;
  /** Every node the frame passed through, origin first, this node last. */
  hops: string[];
  payload: T;
  reliable: boolean;
}

const SEED = /^([A-Za-z0-9._-]{1,64})@(\[[0-9a-fA-F:.]+\]|[^:@[\]\s]+):(\d{1,5})$/;

/** Parses a seed peer written `nodeId@host:port` (IPv6 hosts in brackets). */
export function parsePeerAddress(text: string): PeerAddress {
  const m = SEED.exec(text);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port < 1 || port > 65535) throw new ClusterOptionsError(`seed ${JSON.stringify(text)}: expected nodeId@host:port, e.g. b@127.0.0.2:9101`);
  return { nodeId: m[1]!, host: m[2]!.replace(/^\[|\]$/g, ''), port };
}

const ms = (min: number, fallback: number) => z.number().int().min(min).default(fallback);

const schema = z
  .object({
    nodeId: z.string().regex(NODE_ID_PATTERN, 'letters, digits, ".", "_" or "-", at most 64'),
    /** Address the cluster port listens on. */
    host: z.string().min(1).default('127.0.0.1'),
    /** Dedicated cluster port (0: any free port, see `ClusterNode.port`). */
    port: z.number().int().min(0).max(65535).default(9100),
    /** Encrypt links (wss): PEM key and certificate of this node and the CA of every node's certificate. */
    tls: z.object({ key: z.string().min(1), cert: z.string().min(1), ca: z.string().min(1) }).strict().optional(),
    /** Shared by every node; proves membership in the link handshake (HMAC-SHA256). */
    secret: z.string().min(16, 'use at least 16 characters'),
    seeds: z.array(z.union([z.string(), z.object({ nodeId: z.string().regex(NODE_ID_PATTERN), host: z.string().min(1), port: z.number().int().min(1).max(65535) })])).default([]),
    /** Test/link-layer knob: artificial delay (ms) added to every frame this node sends to that peer. */
    linkDelays: z.record(z.string(), z.number().min(0).max(60_000)).default({}),
    /** Ping period on every link; each pong is an RTT sample. */
    heartbeatMs: ms(10, 1000),
    /** A link silent this long is closed (default 3 × heartbeat). */
    linkTimeoutMs: z.number().int().min(20).optional(),
    /** A ping unanswered this long counts as lost (default 2 × heartbeat). */
    pingTimeoutMs: z.number().int().min(10).optional(),
    /** Every node re-floods its link state this often even when nothing changed. */
    lsaRefreshMs: ms(20, 5000),
    /** A node whose link state was not refreshed this long is dropped from the graph (default 3 × lsaRefresh). */
    nodeTimeoutMs: z.number().int().min(50).optional(),
    handshakeTimeoutMs: ms(50, 5000),
    /** How long a hop waits for the next hop to accept a reliable payload before retrying. */
    ackTimeoutMs: ms(50, 5000),
    /** Backoff of link redials and of forward-queue retries. */
    reconnect: z
      .object({ initialDelayMs: ms(1, 200), maxDelayMs: ms(1, 5000), jitter: z.number().min(0).max(1).default(0.5) })
      .strict()
      .default({ initialDelayMs: 200, maxDelayMs: 5000, jitter: 0.5 }),
    /** Weight of a new RTT sample in the smoothed RTT. */
    rttAlpha: z.number().gt(0).max(1).default(0.2),
    /** Cost added at a 100% loss rate (scaled by the smoothed loss rate). */
    lossPenaltyMs: z.number().min(0).default(500),
    /** Reliable payloads held for all destinations together (store-and-forward). */
    maxQueued: z.number().int().min(1).default(100_000),
    /** Reliable payloads per destination awaiting the next hop's ack at once. */
    maxInflightPerDest: z.number().int().min(1).max(65_536).default(64),
    maxHops: z.number().int().min(2).max(64).default(16),
    maxFrameBytes: z.number().int().min(1024).default(16 * 1024 * 1024),
    /** Above this many bytes queued on a link's socket, best-effort frames to it are dropped. */
    maxBufferedBytes: z.number().int().min(1024).default(8 * 1024 * 1024),
    /** Points per node on the device-home hash ring. */
    virtualNodes: z.number().int().min(1).max(4096).default(128),
    /** Recently delivered (origin, id) pairs and broadcast ids remembered to drop duplicates. */
    dedupeWindow: z.number().int().min(16).default(10_000),
  })
  .strict();

export interface ClusterHandlers<T> {
  /**
   * A payload addressed to this node. For reliable payloads return a promise that resolves once
   * the payload is durably stored: the sender's ack waits for it; a rejection is final (REJECTED).
   */
  onMessage?: (message: ClusterMessage<T>) => void | Promise<void>;
  /** A cluster broadcast from another node (each broadcast once per node). */
  onBroadcast?: (message: ClusterMessage<T>) => void;
  /** A reliable payload this node originated was accepted by its next hop (so: delivered). */
  onForwarded?: (id: string, dest: string) => void;
}

export type ClusterOptions<T = unknown> = z.input<typeof schema> &
  ClusterHandlers<T> & {
    /** More peers (etcd, DNS, ...), merged with `seeds`. */
    discovery?: Discovery;
    log?: Logger;
  };

export type ResolvedClusterOptions = Omit<z.output<typeof schema>, 'seeds'> & {
  seeds: PeerAddress[];
  linkTimeoutMs: number;
  pingTimeoutMs: number;
  nodeTimeoutMs: number;
};

export class ClusterOptionsError extends Error {
  override name = 'ClusterOptionsError';
}

/** Validates the data options once, at start-up, with every problem named. */
export function resolveClusterOptions(input: z.input<typeof schema>): ResolvedClusterOptions {
  const parsed = schema.safeParse(input);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.') || '(options)'}: ${i.message}`);
    throw new ClusterOptionsError(`invalid cluster options:\n  ${problems.join('\n  ')}`);
  }
  const o = parsed.data;
  const resolved: ResolvedClusterOptions = {
    ...o,
    seeds: o.seeds.map((s) => (typeof s === 'string' ? parsePeerAddress(s) : s)).filter((s) => s.nodeId !== o.nodeId),
    linkTimeoutMs: o.linkTimeoutMs ?? 3 * o.heartbeatMs,
    pingTimeoutMs: o.pingTimeoutMs ?? 2 * o.heartbeatMs,
    nodeTimeoutMs: o.nodeTimeoutMs ?? 3 * o.lsaRefreshMs,
  };
  if (resolved.linkTimeoutMs <= resolved.heartbeatMs) throw new ClusterOptionsError('invalid cluster options: linkTimeoutMs must exceed heartbeatMs');
  if (resolved.nodeTimeoutMs <= resolved.lsaRefreshMs) throw new ClusterOptionsError('invalid cluster options: nodeTimeoutMs must exceed lsaRefreshMs');
  if (o.reconnect.maxDelayMs < o.reconnect.initialDelayMs) throw new ClusterOptionsError('invalid cluster options: reconnect.maxDelayMs must be >= reconnect.initialDelayMs');
  return resolved;
}
