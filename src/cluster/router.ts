import { exponentialBackoff, type BackoffOptions } from '../protocol/backoff.js';
import type { Logger } from '../logger.js';
import { ForwardQueue, type QueuedPayload, type TransferResult } from './forward-queue.js';
import type { ClusterMessage } from './options.js';
import type { PeerLink } from './peer-link.js';
import { RecentIds } from './recent-ids.js';
import { AckStatus, Kind, unpackPayload, type DataAckFrame, type DataFrame } from './wire.js';

export interface RouterDeps {
  self: string;
  nextHop(dest: string): string | undefined;
  link(peerId: string): PeerLink | undefined;
  /** Hands a payload addressed to this node to the local handler of its channel. */
  deliver(channel: number, message: ClusterMessage): void | Promise<void>;
  /** A reliable payload this node originated was accepted by the next hop. */
  forwarded(item: QueuedPayload): void;
  ackTimeoutMs: number;
  maxHops: number;
  maxQueued: number;
  maxInflightPerDest: number;
  dedupeWindow: number;
  retry: BackoffOptions;
  log: Logger;
}

interface Awaiting {
  link: PeerLink;
  resolve(result: TransferResult): void;
  timer: NodeJS.Timeout;
}

const ok: TransferResult = { status: AckStatus.OK, reason: '' };
const retry = (reason: string): TransferResult => ({ status: AckStatus.RETRY, reason });

/**
 * Point-to-point forwarding, hop by hop: every node looks up its own next hop for the
 * destination and appends itself to the frame's hops.
 *
 * Reliable payloads are acked hop by hop, and a hop acks only once the frame is safe beyond it:
 * the destination after its handler's promise resolved (the broker stored it), a relay after its
 * own next hop acked. A relay never keeps a payload: if it has no route, its next hop dies or the
 * ack times out, it answers RETRY, and the origin, which holds the payload in its forward queue
 * (and the broker holds it on disk), tries again. Retries can deliver twice; the destination
 * remembers recent (origin, id) pairs and acks a repeat without calling its handler again.
 */
export class Router {
  readonly queue: ForwardQueue;
  private nextXid = 1;
  private readonly awaiting = new Map<number, Awaiting>();
  private readonly delivered: RecentIds<Promise<TransferResult>>;

  constructor(private readonly deps: RouterDeps) {
    this.delivered = new RecentIds(deps.dedupeWindow);
    this.queue = new ForwardQueue({
      transfer: (item) => this.transfer(item),
      hasRoute: (dest) => dest === deps.self || deps.nextHop(dest) !== undefined,
      forwarded: (item) => deps.forwarded(item),
      maxQueued: deps.maxQueued,
      maxInflightPerDest: deps.maxInflightPerDest,
      retryDelay: exponentialBackoff(deps.retry),
    });
  }

  /** Best effort: false when there is no route or the next hop's link is congested. */
  send(dest: string, channel: number, id: string, payload: Uint8Array): boolean {
    const frame = this.originate(dest, channel, id, payload);
    if (dest !== this.deps.self) return this.forwardBestEffort(frame);
    void this.deliverHere(frame, false);
    return true;
  }

  /**
   * Resolves once the next hop accepted the payload; queued while there is no route, unless
   * `giveUpIfUnreachable` (then it rejects with UNREACHABLE once `dest` is unreachable).
   */
  sendReliable(dest: string, channel: number, id: string, payload: Uint8Array, giveUpIfUnreachable = false): Promise<void> {
    return this.queue.push(dest, id, channel, payload, giveUpIfUnreachable);
  }

  receive(from: PeerLink, frame: DataFrame | DataAckFrame): void {
    if (frame.kind === Kind.DATA_ACK) {
      const waiting = this.awaiting.get(frame.xid);
      if (!waiting || waiting.link !== from) return;
      this.settle(frame.xid, { status: frame.status, reason: frame.reason });
      return;
    }
    const reliable = frame.xid !== 0;
    const answer = (result: TransferResult): void => {
      if (reliable) from.send({ kind: Kind.DATA_ACK, xid: frame.xid, status: result.status, reason: result.reason });
    };
    if (frame.hops.includes(this.deps.self) || frame.hops.length >= this.deps.maxHops) {
      this.deps.log.warn({ id: frame.id, origin: frame.origin, dest: frame.dest, hops: frame.hops }, 'cluster frame dropped: routing loop or hop limit');
      return answer(retry('routing loop or hop limit'));
    }
    const onward: DataFrame = { ...frame, hops: [...frame.hops, this.deps.self] };
    if (frame.dest === this.deps.self) void this.deliverHere(onward, reliable).then(answer);
    else if (!reliable) this.forwardBestEffort(onward);
    else void this.forwardReliable(onward).then(answer);
  }

  /** Transfers awaiting an ack on a closed link failed: their payloads are retried. */
  linkClosed(link: PeerLink): void {
    for (const [xid, waiting] of this.awaiting) if (waiting.link === link) this.settle(xid, retry('link lost'));
  }

  close(): void {
    this.queue.close();
    for (const xid of [...this.awaiting.keys()]) this.settle(xid, retry('node closing'));
  }

  private originate(dest: string, channel: number, id: string, payload: Uint8Array): DataFrame {
    return { kind: Kind.DATA, xid: 0, id, origin: this.deps.self, dest, hops: [this.deps.self], channel, payload };
  }

  private transfer(item: QueuedPayload): Promise<TransferResult> {
    const frame = this.originate(item.dest, item.channel, item.id, item.payload);
    return item.dest === this.deps.self ? this.deliverHere(frame, true) : this.forwardReliable(frame);
  }

  private forwardBestEffort(frame: DataFrame): boolean {
    const hop = this.deps.nextHop(frame.dest);
    const link = hop === undefined ? undefined : this.deps.link(hop);
    return link !== undefined && link.send(frame, true);
  }

  private forwardReliable(frame: DataFrame): Promise<TransferResult> {
    const hop = this.deps.nextHop(frame.dest);
    const link = hop === undefined ? undefined : this.deps.link(hop);
    if (!link) return Promise.resolve(retry(`no route to ${frame.dest}`));
    const xid = this.nextXid++;
    return new Promise((resolve) => {
      const timer = setTimeout(() => this.settle(xid, retry(`no ack from ${link.peerId}`)), this.deps.ackTimeoutMs);
      this.awaiting.set(xid, { link, resolve, timer });
      if (!link.send({ ...frame, xid })) this.settle(xid, retry('link closed'));
    });
  }

  private settle(xid: number, result: TransferResult): void {
    const waiting = this.awaiting.get(xid);
    if (!waiting) return;
    this.awaiting.delete(xid);
    clearTimeout(waiting.timer);
    waiting.resolve(result);
  }

  /** Local delivery. A reliable repeat of a recent (origin, id) shares the first outcome. */
  private deliverHere(frame: DataFrame, reliable: boolean): Promise<TransferResult> {
    const key = `${frame.origin}\n${frame.id}`;
    const prior = reliable ? this.delivered.get(key) : undefined;
    if (prior) return prior;
    const outcome = Promise.resolve()
      .then(() => this.deps.deliver(frame.channel, { id: frame.id, origin: frame.origin, hops: frame.hops, payload: unpackPayload(frame.payload), reliable }))
      .then(
        () => ok,
        (err: unknown): TransferResult => {
          if (!reliable) this.deps.log.warn({ err, origin: frame.origin, id: frame.id }, 'cluster message handler failed');
          return { status: AckStatus.REJECTED, reason: err instanceof Error ? err.message : String(err) };
        },
      );
    if (reliable) {
      this.delivered.set(key, outcome);
      void outcome.then((r) => r.status === AckStatus.OK || this.delivered.delete(key));
    }
    return outcome;
  }
}
