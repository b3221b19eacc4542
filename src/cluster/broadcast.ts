import { randomBytes } from 'node:crypto';
import type { Logger } from '../logger.js';
import type { ClusterMessage } from './options.js';
import type { PeerLink } from './peer-link.js';
import { RecentIds } from './recent-ids.js';
import { Kind, encodeFrame, unpackPayload, type BroadcastFrame } from './wire.js';

export interface BroadcasterDeps {
  self: string;
  /** This node's children in the shortest-path tree rooted at `origin`. */
  childrenIn(origin: string): string[];
  link(peerId: string): PeerLink | undefined;
  deliver(message: ClusterMessage): void;
  dedupeWindow: number;
  log: Logger;
}

/**
 * Cluster broadcast along the shortest-path tree (SPT) rooted at the origin.
 *
 * Why the origin's SPT: every node holds the same link-state graph, so every node can compute the
 * origin's SPT by itself and knows its own children in it, with no tree to build, elect or repair
 * by messages. The frame only has to carry its origin. Each receiver delivers locally and forwards
 * the same bytes to its children, so every live node gets the broadcast once, each along its
 * cheapest path from the origin, and per-origin trees spread the load of many publishers instead
 * of funnelling all of them through one shared tree's root.
 *
 * While the graph is still converging two nodes may disagree about the tree: a node can then get a
 * broadcast twice (dropped here by (origin, broadcast id)) or, rarely, miss it. Broadcast is best
 * effort, like QoS 0; it is not queued or retried.
 */
export class Broadcaster {
  private readonly bootId = randomBytes(4).toString('hex');
  private counter = 0;
  private readonly seen: RecentIds;

  constructor(private readonly deps: BroadcasterDeps) {
    this.seen = new RecentIds(deps.dedupeWindow);
  }

  /** Sends to this node's children in its own tree; returns how many children it went to. */
  broadcast(payload: Uint8Array): number {
    const bid = `${this.bootId}.${++this.counter}`;
    this.seen.set(`${this.deps.self}\n${bid}`, true);
    return this.forward({ kind: Kind.BCAST, origin: this.deps.self, bid, hops: [this.deps.self], payload });
  }

  receive(frame: BroadcastFrame): void {
    const key = `${frame.origin}\n${frame.bid}`;
    if (this.seen.has(key)) return;
    this.seen.set(key, true);
    const onward: BroadcastFrame = { ...frame, hops: [...frame.hops, this.deps.self] };
    this.forward(onward);
    try {
      this.deps.deliver({ id: frame.bid, origin: frame.origin, hops: onward.hops, payload: unpackPayload(frame.payload), reliable: false });
    } catch (err) {
      this.deps.log.warn({ err, origin: frame.origin, bid: frame.bid }, 'cluster broadcast handler failed');
    }
  }

  private forward(frame: BroadcastFrame): number {
    const children = this.deps.childrenIn(frame.origin);
    if (children.length === 0) return 0;
    const bytes = encodeFrame(frame);
    let sent = 0;
    for (const child of children) if (this.deps.link(child)?.sendBytes(bytes, true)) sent++;
    return sent;
  }
}
