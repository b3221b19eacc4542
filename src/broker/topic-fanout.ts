import type { Ref } from 'nact';
import type { Broadcast, FanoutMember } from '../../actors/fanout-node.js';
import { FanoutTree, type FanoutShape } from '../../actors/fanout-tree.js';
import { TopicTrie, type Qos } from '../protocol/index.js';

/**
 * Topic subscriptions of this node's devices: one fan-out tree per distinct filter, found
 * for a topic through the filter trie. A message is encoded once by the caller; the same
 * bytes travel down every matching tree.
 */
export class TopicFanout<M extends FanoutMember> {
  private readonly filters = new TopicTrie<string>();
  private readonly trees = new Map<string, FanoutTree>();
  private readonly filtersOf = new Map<M, Map<string, Qos>>();
  private treeSerial = 0;

  constructor(
    private readonly owner: Ref<unknown>,
    private readonly shape: FanoutShape,
  ) {}

  subscribe(member: M, filter: string, qos: Qos): void {
    let mine = this.filtersOf.get(member);
    if (!mine) this.filtersOf.set(member, (mine = new Map()));
    mine.set(filter, qos);
    let tree = this.trees.get(filter);
    if (!tree) {
      tree = new FanoutTree(this.owner, `fanout-${++this.treeSerial}`, this.shape);
      this.trees.set(filter, tree);
      this.filters.add(filter, filter);
    }
    tree.add(member);
  }

  unsubscribe(member: M, filter: string): void {
    this.filtersOf.get(member)?.delete(filter);
    const tree = this.trees.get(filter);
    if (!tree) return;
    tree.remove(member);
    if (tree.size === 0) {
      tree.destroy();
      this.trees.delete(filter);
      this.filters.remove(filter, filter);
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
   * Sends already-encoded bytes down every tree whose filter matches `topic`. Returns the
   * matching subscriptions (a device with two matching filters counts twice, but gets one copy).
   */
  broadcast(topic: string, bytes: Uint8Array, droppable: boolean): number {
    const matched = this.filters.match(topic);
    const served = matched.size > 1 ? new Set<FanoutMember>() : undefined;
    const msg: Omit<Broadcast, 'serial'> = { bytes, droppable, ...(served ? { served } : {}) };
    let subscriptions = 0;
    for (const filter of matched) {
      const tree = this.trees.get(filter)!;
      subscriptions += tree.size;
      tree.broadcast(msg);
    }
    return subscriptions;
  }

  get treeCount(): number {
    return this.trees.size;
  }

  destroy(): void {
    for (const tree of this.trees.values()) tree.destroy();
    this.trees.clear();
  }
}
