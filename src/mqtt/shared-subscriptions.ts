import type { DurableReceiver, FanoutMember } from '../../actors/fanout-node.js';
import type { MessageTally, Outbound, Qos } from '../protocol/index.js';

/** What the shared subscriptions need of the broker's fan-out. */
export interface SharedFanout {
  subscribe(member: FanoutMember, filter: string, qos: Qos): void;
  unsubscribe(member: FanoutMember, filter: string): void;
}

/** A client in a group, as the group sees it. */
export interface SharedMember {
  /**
   * Delivers a MSG (its relaymesh bytes) of the group at `qos`: QoS 0 droppable under
   * backpressure; QoS 1 on a packet id of its own, `acked` called at its PUBACK.
   */
  deliverShared(bytes: Uint8Array, qos: Qos, dup: boolean, acked: () => void): void;
}

/** A stored message handed to one member and not acknowledged yet. */
interface Unacked {
  key: string;
  bytes: Uint8Array;
}

interface Membership {
  member: SharedMember;
  qos: Qos;
  unacked: Map<string, Unacked>;
}

/**
 * One `$share/<group>/<filter>` on this node: a single QoS 1 member of the filter's fan-out tree
 * that hands each message to the next of its clients in turn, so the group shares the load.
 * A stored message given to a client at QoS 1 waits for that client's PUBACK; if the client
 * leaves first, it goes to another member with DUP=1.
 */
class SharedGroup implements FanoutMember {
  readonly memberships: Membership[] = [];
  private turn = 0;
  readonly conn: Outbound;
  readonly outbox: DurableReceiver = {
    offer: (stream, _epoch, offset, bytes) => this.deliverStored({ key: `${offset}\u0000${stream}`, bytes }, false),
  };

  constructor(private readonly tally: MessageTally) {
    this.conn = { write: (bytes) => this.next()?.member.deliverShared(bytes, 0, false, noop), close: () => undefined, closed: false, tally };
  }

  /** Hands a stored message on to the next member (none left: it is not kept for the group). */
  deliverStored(message: Unacked, dup: boolean): void {
    const to = this.next();
    if (!to) return;
    this.tally.messagesOut++;
    if (to.qos === 0) return to.member.deliverShared(message.bytes, 0, dup, noop);
    to.unacked.set(message.key, message);
    to.member.deliverShared(message.bytes, 1, dup, () => to.unacked.delete(message.key));
  }

  private next(): Membership | undefined {
    if (this.memberships.length === 0) return undefined;
    this.turn = (this.turn + 1) % this.memberships.length;
    return this.memberships[this.turn];
  }
}

const noop = (): void => undefined;

/** Shared subscriptions of this node's MQTT clients; they live with the connection, not in stored sessions. */
export class SharedSubscriptions {
  private readonly groups = new Map<string, SharedGroup>();
  private readonly joined = new Map<SharedMember, Set<string>>();

  constructor(
    private readonly fanout: SharedFanout,
    /** The MQTT tally: a group's deliveries are its MQTT clients'. */
    private readonly tally: MessageTally,
  ) {}

  join(member: SharedMember, group: string, filter: string, qos: Qos): void {
    const key = `${group}\u0000${filter}`;
    let mine = this.joined.get(member);
    if (!mine) this.joined.set(member, (mine = new Set()));
    let shared = this.groups.get(key);
    if (!shared) {
      this.groups.set(key, (shared = new SharedGroup(this.tally)));
      // QoS 1 tree: stored messages come as durable copies, each member gets its own QoS.
      this.fanout.subscribe(shared, filter, 1);
    }
    if (mine.has(key)) {
      shared.memberships.find((m) => m.member === member)!.qos = qos;
      return;
    }
    mine.add(key);
    shared.memberships.push({ member, qos, unacked: new Map() });
  }

  leave(member: SharedMember, group: string, filter: string): void {
    const key = `${group}\u0000${filter}`;
    if (!this.joined.get(member)?.delete(key)) return;
    const shared = this.groups.get(key)!;
    const at = shared.memberships.findIndex((m) => m.member === member);
    const [gone] = shared.memberships.splice(at, 1);
    // Unacknowledged QoS 1 messages go to the others (MQTT 5 §4.8.2: it may have seen them).
    for (const message of gone!.unacked.values()) shared.deliverStored(message, true);
    if (shared.memberships.length > 0) return;
    this.groups.delete(key);
    this.fanout.unsubscribe(shared, filter);
  }

  /** The client is gone: it leaves every group. */
  leaveAll(member: SharedMember): void {
    for (const key of [...(this.joined.get(member) ?? [])]) {
      const at = key.indexOf('\u0000');
      this.leave(member, key.slice(0, at), key.slice(at + 1));
    }
    this.joined.delete(member);
  }
}
