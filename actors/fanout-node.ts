import { deliverLive, type Outbound, type OutgoingMsg } from '../src/protocol/index.js';

/** Takes QoS 1 deliveries for one device: windowed, acked, replayed (see DurableOutbox). */
export interface DurableReceiver {
  offer(stream: string, epoch: string, offset: number, bytes: Uint8Array): void;
}

/** A subscriber as the fan-out tree sees it. */
export interface FanoutMember {
  readonly conn: Outbound;
  readonly outbox: DurableReceiver;
}

/** A stored (QoS 1) message: its position and its QoS 1 encoding. */
export interface DurableCopy {
  stream: string;
  epoch: string;
  offset: number;
  bytes: Uint8Array;
}

/** One broadcast travelling down a tree: each wire encoding of it is made once, by its first receiver. */
export interface Broadcast {
  msg: OutgoingMsg;
  /** Position in the tree's broadcast order, set by the tree. */
  serial: number;
  /** performance.now() when the broadcast entered the tree. */
  startedAt: number;
  /** Set on the way into a QoS 1 subscription's tree for a stored message: members get it through their outbox. */
  durable: DurableCopy | undefined;
  /**
   * Present only when a publish matched several trees (overlapping filters): members
   * already served by another tree are skipped, so each device gets one copy.
   */
  served: Set<FanoutMember> | undefined;
}

/**
 * A node of a fan-out tree: inner nodes pass a batch to their children, leaves write it to
 * their members. A turn's broadcasts travel as one batch, so a leaf queues all of a turn's
 * frames for each socket at once and the transport writes them under one cork.
 */
export class FanoutNode {
  readonly children: FanoutNode[] = [];
  /** Deliveries made by this leaf (for stats and benchmarks). */
  delivered = 0;

  constructor(
    /**
     * Leaf members with the broadcast serial at which they joined: a member gets only later
     * broadcasts, so one that joined during a turn never sees that turn's earlier ones.
     * Undefined for inner nodes.
     */
    readonly members: Map<FanoutMember, number> | undefined,
    /** Told, per leaf and batch, how long the batch's first broadcast took to reach it. */
    private readonly observe?: (seconds: number) => void,
  ) {}

  forward(batch: readonly Broadcast[]): void {
    for (let i = 0; i < this.children.length; i++) this.children[i]!.forward(batch);
    const members = this.members;
    if (!members) return;
    // QoS 0 copies may be dropped for a socket over its soft backpressure limit.
    for (const [member, joinedAt] of members) {
      for (let i = 0; i < batch.length; i++) {
        const b = batch[i]!;
        if (b.serial <= joinedAt) continue;
        if (b.served) {
          if (b.served.has(member)) continue;
          b.served.add(member);
        }
        if (b.durable) member.outbox.offer(b.durable.stream, b.durable.epoch, b.durable.offset, b.durable.bytes);
        else {
          deliverLive(member.conn, b.msg);
          member.conn.tally.messagesOut++;
        }
        this.delivered++;
      }
    }
    if (this.observe && batch.length > 0) this.observe((performance.now() - batch[0]!.startedAt) / 1000);
  }
}
