import type { DurableCopy } from '../../actors/fanout-node.js';
import type { ClusterGroups, GroupCount, SharedGroupPeers, SharedHandOff } from '../broker/shared-groups.js';
import { TopicTrie, type MessageTally, type Qos } from '../protocol/index.js';

/** A client in a group, as the group sees it. */
export interface SharedMember {
  /**
   * Delivers a MSG (its relaymesh bytes) of the group at `qos`: QoS 0 droppable under
   * backpressure; QoS 1 on a packet id of its own, `acked` called at its PUBACK.
   */
  deliverShared(bytes: Uint8Array, qos: Qos, dup: boolean, acked: () => void): void;
  /** Whether its receive maximum leaves room for one more QoS 1 message now. */
  hasRoom(): boolean;
}

/** Messages waiting in one group for a member with room; past this the oldest is dropped. */
export const MAX_WAITING_PER_GROUP = 10_000;
/** A message handed on more often than this stays on the node it reached. */
const MAX_HAND_OFFS = 3;

interface GroupMessage {
  bytes: Uint8Array;
  qos: Qos;
}

interface Membership {
  member: SharedMember;
  qos: Qos;
  /** QoS 1 messages given to it and not acknowledged yet. */
  unacked: Set<GroupMessage>;
}

/**
 * One `$share/<group>/<filter>`: its members on this node, and how many the other nodes have.
 * A message accepted on this node goes to one node with members, in proportion to their member
 * counts, then to one member there, in turn among those with room in their receive maximum.
 * A QoS 1 message given to a client waits for its PUBACK; if the client leaves first, it goes to
 * another member with DUP=1. A QoS 1 message no member has room for waits here.
 */
class SharedGroup {
  readonly memberships: Membership[] = [];
  /** Member counts of the other nodes that have members. */
  readonly remote = new Map<string, number>();
  /** QoS 1 messages no member had room for, oldest first, with whether they were given out before. */
  readonly waiting: { message: GroupMessage; dup: boolean }[] = [];
  private turn = 0;
  private spread = 0;

  constructor(
    readonly group: string,
    readonly filter: string,
    private readonly tally: MessageTally,
    private readonly peers: SharedGroupPeers | undefined,
    private readonly dropped: () => void,
  ) {}

  /** No member anywhere and nothing waiting: the group can be forgotten. */
  get empty(): boolean {
    return this.memberships.length === 0 && this.remote.size === 0 && this.waiting.length === 0;
  }

  /**
   * A message for the group that reached this node: `handOffs` 0 when accepted here, else handed
   * here by another node, which picked this one (it stays, unless no member is left here).
   */
  route(message: GroupMessage, handOffs: number, dup = false): void {
    const handedHere = handOffs > 0;
    const stay = handOffs >= MAX_HAND_OFFS || (handedHere && this.memberships.length > 0);
    const to = stay ? undefined : this.pickNode(handedHere);
    if (to === undefined) return this.deliverHere(message, dup);
    const handOff = { group: this.group, filter: this.filter, bytes: message.bytes, qos: message.qos, dup, handOffs: handOffs + 1 };
    this.peers!.handOff(to, handOff).catch(() => {
      // That node left (or refused): forget its members until it says otherwise, and pick again.
      this.remote.delete(to);
      if (message.qos === 1) this.route(message, handOffs + 1, dup);
    });
  }

  /** Gives a message to one member here; a QoS 1 one waits when none has room (or others wait already). */
  deliverHere(message: GroupMessage, dup: boolean): void {
    if (message.qos === 1 && this.waiting.length > 0) {
      this.wait(message, dup);
      return this.drain();
    }
    const to = this.nextMember(message.qos);
    if (!to) {
      if (message.qos === 1) this.wait(message, dup);
      return;
    }
    this.give(to, message, dup);
  }

  /** Hands waiting messages to members with room (one joined, or acknowledged); elsewhere when none is left here. */
  drain(): void {
    while (this.waiting.length > 0) {
      if (this.memberships.length === 0 && this.remote.size > 0) {
        const { message, dup } = this.waiting.shift()!;
        this.route(message, 1, dup);
        continue;
      }
      const to = this.nextMember(1);
      if (!to) return;
      const { message, dup } = this.waiting.shift()!;
      this.give(to, message, dup);
    }
  }

  private give(to: Membership, message: GroupMessage, dup: boolean): void {
    this.tally.messagesOut++;
    if (to.qos === 0 || message.qos === 0) return to.member.deliverShared(message.bytes, 0, dup, noop);
    to.unacked.add(message);
    to.member.deliverShared(message.bytes, 1, dup, () => {
      to.unacked.delete(message);
      this.drain();
    });
  }

  private wait(message: GroupMessage, dup: boolean): void {
    if (this.waiting.length >= MAX_WAITING_PER_GROUP) {
      this.waiting.shift();
      this.dropped();
    }
    this.waiting.push({ message, dup });
  }

  /**
   * The node for the next message, undefined for this one: each node with members in proportion
   * to its count (weighted round-robin), this node too unless `elsewhere`.
   */
  private pickNode(elsewhere: boolean): string | undefined {
    if (this.remote.size === 0) return undefined;
    const here = elsewhere ? 0 : this.memberships.length;
    let total = here;
    for (const count of this.remote.values()) total += count;
    if (total === 0) return undefined;
    let at = this.spread++ % total;
    if (at < here) return undefined;
    at -= here;
    for (const [nodeId, count] of this.remote) {
      if (at < count) return nodeId;
      at -= count;
    }
    return undefined;
  }

  /** The next member in turn that can take a message at `qos` now (QoS 1: a QoS 0 member, or one with room). */
  private nextMember(qos: Qos): Membership | undefined {
    const n = this.memberships.length;
    for (let i = 0; i < n; i++) {
      this.turn = (this.turn + 1) % n;
      const m = this.memberships[this.turn]!;
      if (qos === 0 || m.qos === 0 || m.member.hasRoom()) return m;
    }
    return undefined;
  }
}

const noop = (): void => undefined;

/**
 * The `$share` groups of this node's MQTT clients, and of the cluster: every node knows how many
 * members each group has on the other nodes (`setRemoteCounts`), so the node that accepts a
 * message picks the one node, and that node the one member, that gets it.
 */
export class SharedSubscriptions implements ClusterGroups {
  private readonly groups = new Map<string, SharedGroup>();
  /** filter → keys of the groups on it. */
  private readonly filters = new TopicTrie<string>();
  private readonly joined = new Map<SharedMember, Set<string>>();
  private peers: SharedGroupPeers | undefined;
  /** QoS 1 messages dropped because a group had MAX_WAITING_PER_GROUP waiting. */
  droppedWaiting = 0;

  constructor(
    /** The MQTT tally: a group's deliveries are its MQTT clients'. */
    private readonly tally: MessageTally,
  ) {}

  /** Joins the cluster: from now on groups span the nodes. */
  attach(peers: SharedGroupPeers): void {
    this.peers = peers;
  }

  join(member: SharedMember, group: string, filter: string, qos: Qos): void {
    const key = keyOf(group, filter);
    let mine = this.joined.get(member);
    if (!mine) this.joined.set(member, (mine = new Set()));
    const shared = this.groupOf(group, filter);
    if (mine.has(key)) {
      shared.memberships.find((m) => m.member === member)!.qos = qos;
      return;
    }
    mine.add(key);
    shared.memberships.push({ member, qos, unacked: new Set() });
    this.peers?.countsChanged();
    shared.drain();
  }

  leave(member: SharedMember, group: string, filter: string): void {
    const key = keyOf(group, filter);
    if (!this.joined.get(member)?.delete(key)) return;
    const shared = this.groups.get(key)!;
    const at = shared.memberships.findIndex((m) => m.member === member);
    const [gone] = shared.memberships.splice(at, 1);
    this.peers?.countsChanged();
    // Unacknowledged QoS 1 messages go to the others (MQTT 5 §4.8.2: it may have seen them).
    for (const message of gone!.unacked) shared.deliverHere(message, true);
    shared.drain();
    this.dropIfEmpty(key, shared);
  }

  /** The client is gone: it leaves every group. */
  leaveAll(member: SharedMember): void {
    for (const key of [...(this.joined.get(member) ?? [])]) {
      const at = key.indexOf('\u0000');
      this.leave(member, key.slice(0, at), key.slice(at + 1));
    }
    this.joined.delete(member);
  }

  /**
   * A message accepted on this node (not one broadcast here by another node): one member of each
   * matching group gets it, on this node or another. `durable`: it was stored (QoS 1). Returns
   * the groups it went to.
   */
  offer(topic: string, bytes: Uint8Array, durable: DurableCopy | undefined): number {
    if (this.groups.size === 0) return 0;
    const matched = this.filters.match(topic);
    const message: GroupMessage = durable ? { bytes: durable.bytes, qos: 1 } : { bytes, qos: 0 };
    for (const key of matched) this.groups.get(key)!.route(message, 0);
    return matched.size;
  }

  /** A message another node handed to this node's members of its group. */
  handedOff({ group, filter, bytes, qos, dup, handOffs }: SharedHandOff): void {
    this.groupOf(group, filter).route({ bytes, qos }, handOffs, dup);
  }

  /** A member's window may have room again (it acknowledged something). */
  roomFreed(member: SharedMember): void {
    if (!this.joined.get(member)?.size) return;
    // After the device actor moved the outbox's window with the ACK (a later turn).
    setImmediate(() => {
      for (const key of this.joined.get(member) ?? []) this.groups.get(key)!.drain();
    });
  }

  /** This node's member count per group, for the other nodes. */
  localCounts(): GroupCount[] {
    const out: GroupCount[] = [];
    for (const g of this.groups.values()) if (g.memberships.length > 0) out.push([g.group, g.filter, g.memberships.length]);
    return out;
  }

  setRemoteCounts(nodeId: string, counts: readonly GroupCount[]): void {
    const now = new Set<string>();
    for (const [group, filter, members] of counts) {
      if (!(members > 0)) continue;
      const key = keyOf(group, filter);
      now.add(key);
      const shared = this.groupOf(group, filter);
      shared.remote.set(nodeId, members);
      shared.drain();
      this.dropIfEmpty(key, shared);
    }
    for (const [key, shared] of this.groups) {
      if (now.has(key) || !shared.remote.delete(nodeId)) continue;
      this.dropIfEmpty(key, shared);
    }
  }

  private groupOf(group: string, filter: string): SharedGroup {
    const key = keyOf(group, filter);
    let shared = this.groups.get(key);
    if (!shared) {
      this.groups.set(key, (shared = new SharedGroup(group, filter, this.tally, this.peers, () => this.droppedWaiting++)));
      this.filters.add(filter, key);
    }
    return shared;
  }

  /** A group with no member anywhere and nothing waiting is forgotten. */
  private dropIfEmpty(key: string, shared: SharedGroup): void {
    if (!shared.empty) return;
    this.groups.delete(key);
    this.filters.remove(shared.filter, key);
  }
}

function keyOf(group: string, filter: string): string {
  return `${group}\u0000${filter}`;
}
