import type { DurableCopy } from '../../actors/fanout-node.js';
import type { ClusterGroups, GroupCount, SharedGroupPeers, SharedHandOff } from '../broker/shared-groups.js';
import { TopicTrie, type MessageTally, type OutgoingMsg, type Qos } from '../protocol/index.js';
import type { SessionRecord } from '../store/index.js';

/** A `$share/<group>/<filter>` subscription. */
export interface SharedSubscription {
  group: string;
  filter: string;
}

/** A client in a group, as the group sees it. */
export interface SharedMember {
  /**
   * Delivers a MSG (its relaymesh bytes) of the group at `qos`: QoS 0 droppable under
   * backpressure; QoS 1 on a packet id of its own, `acked` called at its PUBACK.
   */
  deliverShared(bytes: Uint8Array, subscription: SharedSubscription, qos: Qos, dup: boolean, acked: () => void): void;
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
 * another member with DUP=1. A QoS 1 message no member has room for waits here, and so does
 * one for a group whose members are all away with a stored session ("parked"), for the first
 * that comes back.
 */
class SharedGroup {
  readonly memberships: Membership[] = [];
  /** The other nodes that have members, connected or parked. */
  readonly remote = new Map<string, { members: number; parked: number }>();
  /** Members away with a stored session: client id → when that session expires. */
  readonly parked = new Map<string, number>();
  /** QoS 1 messages no member had room for, oldest first, with whether they were given out before. */
  readonly waiting: { message: GroupMessage; dup: boolean }[] = [];
  private turn = 0;
  private spread = 0;

  constructor(
    readonly group: string,
    readonly filter: string,
    private readonly tally: MessageTally,
    /** The cluster, once joined (groups parked at start-up exist before). */
    private readonly peers: () => SharedGroupPeers | undefined,
    private readonly dropped: () => void,
  ) {}

  /** No member anywhere, connected or parked: the group is forgotten, with what waited in it. */
  get empty(): boolean {
    return this.memberships.length === 0 && this.remote.size === 0 && this.parkedHere() === 0;
  }

  /** Parked members whose session has not expired. */
  parkedHere(now = Date.now()): number {
    for (const [clientId, expiresAt] of this.parked) if (expiresAt <= now) this.parked.delete(clientId);
    return this.parked.size;
  }

  /**
   * A message for the group that reached this node: `handOffs` 0 when accepted here, else handed
   * here by another node, which picked this one (it stays, unless no member is left here).
   */
  route(message: GroupMessage, handOffs: number, dup = false): void {
    const handedHere = handOffs > 0;
    const keptHere = this.memberships.length > 0 || (this.remoteMembers() === 0 && this.parkedHere() > 0);
    const stay = handOffs >= MAX_HAND_OFFS || (handedHere && keptHere);
    const to = stay ? undefined : this.pickNode(handedHere);
    const peers = this.peers();
    if (to === undefined || !peers) return this.deliverHere(message, dup);
    const handOff = { group: this.group, filter: this.filter, bytes: message.bytes, qos: message.qos, dup, handOffs: handOffs + 1 };
    peers.handOff(to, handOff).catch(() => {
      // That node left (or refused): forget its members until it says otherwise, and pick again,
      // with DUP set: it may have taken the message just before its link went down.
      this.remote.delete(to);
      if (message.qos === 1) this.route(message, handOffs + 1, true);
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
      if (this.memberships.length === 0 && this.remoteMembers() > 0) {
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
    if (to.qos === 0 || message.qos === 0) return to.member.deliverShared(message.bytes, this, 0, dup, noop);
    to.unacked.add(message);
    to.member.deliverShared(message.bytes, this, 1, dup, () => {
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
   * The node for the next message, undefined for this one: each node with connected members in
   * proportion to their count (weighted round-robin), this node too unless `elsewhere`; when no
   * member is connected anywhere, a node with parked members (this one first).
   */
  private pickNode(elsewhere: boolean): string | undefined {
    if (this.remote.size === 0) return undefined;
    const here = elsewhere ? 0 : this.memberships.length;
    const total = here + this.remoteMembers();
    if (total === 0) {
      if (!elsewhere && this.parkedHere() > 0) return undefined;
      for (const [nodeId, { parked }] of this.remote) if (parked > 0) return nodeId;
      return undefined;
    }
    let at = this.spread++ % total;
    if (at < here) return undefined;
    at -= here;
    for (const [nodeId, { members }] of this.remote) {
      if (at < members) return nodeId;
      at -= members;
    }
    return undefined;
  }

  private remoteMembers(): number {
    let total = 0;
    for (const { members } of this.remote.values()) total += members;
    return total;
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
  /** client id → keys of the groups it is parked in. */
  private readonly parkedIn = new Map<string, Set<string>>();
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

  /** `clientId`: the member's, no longer parked in the group once it joined. */
  join(member: SharedMember, group: string, filter: string, qos: Qos, clientId?: string): void {
    const key = keyOf(group, filter);
    let mine = this.joined.get(member);
    if (!mine) this.joined.set(member, (mine = new Set()));
    const shared = this.groupOf(group, filter);
    if (clientId !== undefined && shared.parked.delete(clientId)) this.parkedIn.get(clientId)?.delete(key);
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

  /**
   * A client with a stored session went away (call before `leaveAll`): it stays in the group,
   * parked, until its session expires at `expiresAt` or it rejoins. While all members are
   * parked, QoS 1 messages wait for the first that comes back.
   */
  park(clientId: string, group: string, filter: string, expiresAt: number): void {
    const key = keyOf(group, filter);
    this.groupOf(group, filter).parked.set(clientId, expiresAt);
    let mine = this.parkedIn.get(clientId);
    if (!mine) this.parkedIn.set(clientId, (mine = new Set()));
    mine.add(key);
    this.peers?.countsChanged();
  }

  /**
   * At start-up: the clients of stored sessions are parked in their groups, until their session
   * expires (a session stored as connected, by a broker that was killed, for at most `longestMs`).
   */
  parkStored(sessions: Iterable<[clientId: string, record: SessionRecord]>, longestMs: number): void {
    const latest = Date.now() + longestMs;
    for (const [clientId, record] of sessions) {
      for (const [group, filter] of record.shared ?? []) this.park(clientId, group, filter, Math.min(record.expiresAt, latest));
    }
  }

  /** The client's stored session ended (clean start): it is parked nowhere. */
  unparkAll(clientId: string): void {
    const keys = this.parkedIn.get(clientId);
    if (!keys) return;
    this.parkedIn.delete(clientId);
    for (const key of keys) {
      const shared = this.groups.get(key);
      if (!shared?.parked.delete(clientId)) continue;
      this.dropIfEmpty(key, shared);
    }
    this.peers?.countsChanged();
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
  offer(topic: string, live: Pick<OutgoingMsg, 'bytes'>, durable: DurableCopy | undefined): number {
    if (this.groups.size === 0) return 0;
    const matched = this.filters.match(topic);
    // Made only when a group matches: a live message's relaymesh bytes may be needed by no one else.
    let message: GroupMessage | undefined;
    let reached = 0;
    for (const key of matched) {
      const shared = this.groups.get(key)!;
      // Its last parked member's session expired since: nobody is left to get it.
      if (shared.empty) {
        this.dropIfEmpty(key, shared);
        continue;
      }
      message ??= durable ? { bytes: durable.bytes, qos: 1 } : { bytes: live.bytes, qos: 0 };
      shared.route(message, 0);
      reached++;
    }
    return reached;
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
    const now = Date.now();
    for (const g of this.groups.values()) {
      const parked = g.parkedHere(now);
      if (g.memberships.length > 0 || parked > 0) out.push([g.group, g.filter, g.memberships.length, parked]);
    }
    return out;
  }

  setRemoteCounts(nodeId: string, counts: readonly GroupCount[]): void {
    const now = new Set<string>();
    for (const [group, filter, members, parked] of counts) {
      if (!(members > 0 || parked > 0)) continue;
      const key = keyOf(group, filter);
      now.add(key);
      const shared = this.groupOf(group, filter);
      shared.remote.set(nodeId, { members, parked });
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
      this.groups.set(key, (shared = new SharedGroup(group, filter, this.tally, () => this.peers, () => this.droppedWaiting++)));
      this.filters.add(filter, key);
    }
    return shared;
  }

  /** A group with no member anywhere, connected or parked, is forgotten. */
  private dropIfEmpty(key: string, shared: SharedGroup): void {
    if (!shared.empty) return;
    this.groups.delete(key);
    this.filters.remove(shared.filter, key);
  }
}

function keyOf(group: string, filter: string): string {
  return `${group}\u0000${filter}`;
}
