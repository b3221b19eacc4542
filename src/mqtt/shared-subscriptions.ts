import type { DurableReceiver, FanoutMember } from '../../actors/fanout-node.js';
import type { MessageTally, Outbound } from '../protocol/index.js';

/** What the shared subscriptions need of the broker's fan-out. */
export interface SharedFanout {
  subscribe(member: FanoutMember, filter: string, qos: 0): void;
  unsubscribe(member: FanoutMember, filter: string): void;
}

/**
 * One `$share/<group>/<filter>` on this node: a single member of the filter's fan-out tree
 * that hands each message to the next of its clients in turn, so the group shares the load.
 */
class SharedGroup implements FanoutMember {
  readonly clients: FanoutMember[] = [];
  private turn = 0;
  readonly conn: Outbound;

  constructor(tally: MessageTally) {
    this.conn = { write: (bytes, droppable) => this.next()?.conn.write(bytes, droppable), close: () => undefined, closed: false, tally };
  }
  /** Shared subscriptions are QoS 0 (the group joins QoS 0 trees only), so nothing is ever offered here. */
  readonly outbox: DurableReceiver = { offer: () => undefined };

  private next(): FanoutMember | undefined {
    if (this.clients.length === 0) return undefined;
    this.turn = (this.turn + 1) % this.clients.length;
    return this.clients[this.turn];
  }
}

/** Shared subscriptions of this node's MQTT clients; not part of stored sessions. */
export class SharedSubscriptions {
  private readonly groups = new Map<string, SharedGroup>();
  private readonly joined = new Map<FanoutMember, Set<string>>();

  constructor(
    private readonly fanout: SharedFanout,
    /** The MQTT tally: a group's deliveries are its MQTT clients'. */
    private readonly tally: MessageTally,
  ) {}

  join(client: FanoutMember, group: string, filter: string): void {
    const key = `${group}\u0000${filter}`;
    let mine = this.joined.get(client);
    if (!mine) this.joined.set(client, (mine = new Set()));
    if (mine.has(key)) return;
    mine.add(key);
    let shared = this.groups.get(key);
    if (!shared) {
      this.groups.set(key, (shared = new SharedGroup(this.tally)));
      this.fanout.subscribe(shared, filter, 0);
    }
    shared.clients.push(client);
  }

  leave(client: FanoutMember, group: string, filter: string): void {
    const key = `${group}\u0000${filter}`;
    if (!this.joined.get(client)?.delete(key)) return;
    const shared = this.groups.get(key)!;
    shared.clients.splice(shared.clients.indexOf(client), 1);
    if (shared.clients.length > 0) return;
    this.groups.delete(key);
    this.fanout.unsubscribe(shared, filter);
  }

  /** The client is gone: it leaves every group. */
  leaveAll(client: FanoutMember): void {
    for (const key of [...(this.joined.get(client) ?? [])]) {
      const at = key.indexOf('\u0000');
      this.leave(client, key.slice(0, at), key.slice(at + 1));
    }
    this.joined.delete(client);
  }
}
