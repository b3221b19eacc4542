import type { DurableCopy, FanoutMember } from '../../actors/fanout-node.js';
import { FanoutTree, type FanoutOptions, type FanoutTreeShape } from '../../actors/fanout-tree.js';
import type { TurnScheduler } from '../../actors/turn-scheduler.js';
import { TopicTrie, type OutgoingMsg, type Qos } from '../protocol/index.js';

/**
 * Topic subscriptions of this node's devices: one fan-out tree per distinct (filter, QoS),
 * found for a topic through the filter trie. A message is encoded once per QoS by the caller;
 * the same bytes travel down every matching tree.
 */
export class TopicFanout<M extends FanoutMember> {
  /** filter → tree keys (`<qos>:<filter>`) under it. */
  private readonly filters = new TopicTrie<string>();
  private readonly trees = new Map<string, { tree: FanoutTree; qos: Qos }>();
  private readonly filtersOf = new Map<M, Map<string, Qos>>();

  constructor(
    private readonly scheduler: TurnScheduler,
    private readonly shape: FanoutOptions,
  ) {}

  subscribe(member: M, filter: string, qos: Qos): void {
    let mine = this.filtersOf.get(member);
    if (!mine) this.filtersOf.set(member, (mine = new Map()));
    const previous = mine.get(filter);
    if (previous === qos) return;
    if (previous !== undefined) this.unsubscribe(member, filter);
    mine.set(filter, qos);
    const key = `${qos}:${filter}`;
    let entry = this.trees.get(key);
    if (!entry) {
      entry = { tree: new FanoutTree(this.scheduler, this.shape), qos };
      this.trees.set(key, entry);
      this.filters.add(filter, key);
    }
    entry.tree.add(member);
  }

  unsubscribe(member: M, filter: string): void {
    const mine = this.filtersOf.get(member);
    const qos = mine?.get(filter);
    if (qos === undefined) return;
    mine!.delete(filter);
    const key = `${qos}:${filter}`;
    const entry = this.trees.get(key)!;
    entry.tree.remove(member);
    if (entry.tree.size === 0) {
      entry.tree.destroy();
      this.trees.delete(key);
      this.filters.remove(filter, key);
    }
  }

  /** Drops every subscription of `member` (it disconnected). */
  removeMember(member: M): void {
    const mine = this.filtersOf.get(member);
    if (!mine) return;
    for (const filter of [...mine.keys()]) this.unsubscribe(member, filter);
    this.filtersOf.delete(member);
  }

  /**
   * Sends a message down every tree whose filter matches `topic`: `msg` (QoS 0,
   * droppable) to QoS 0 subscriptions, and `durable` to QoS 1 subscriptions when the message
   * was stored. Returns the matching subscriptions (a device with two matching filters counts
   * twice, but gets one copy).
   */
  broadcast(topic: string, msg: OutgoingMsg, durable?: DurableCopy): number {
    const matched = this.filters.match(topic);
    const served = matched.size > 1 ? new Set<FanoutMember>() : undefined;
    let subscriptions = 0;
    for (const key of matched) {
      const { tree, qos } = this.trees.get(key)!;
      subscriptions += tree.size;
      tree.broadcast(msg, qos === 1 ? durable : undefined, served);
    }
    return subscriptions;
  }

  /** Per subscription filter and QoS: subscribers and tree shape. */
  stats(): { filter: string; qos: Qos; subscribers: number; leaves: number; height: number }[] {
    return [...this.trees].map(([key, { tree, qos }]) => {
      const { leaves, height } = tree.stats();
      return { filter: key.slice(key.indexOf(':') + 1), qos, subscribers: tree.size, leaves, height };
    });
  }

  /** The tree of one (filter, QoS), for the dashboard. */
  treeShape(filter: string, qos: Qos): FanoutTreeShape | undefined {
    return this.trees.get(`${qos}:${filter}`)?.tree.describe();
  }

  get treeCount(): number {
    return this.trees.size;
  }

  destroy(): void {
    for (const { tree } of this.trees.values()) tree.destroy();
    this.trees.clear();
  }
}
