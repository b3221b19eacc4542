/**
 * Subscription index: filters stored in a trie by level, so matching a topic costs
 * O(levels × wildcard branches), not O(subscriptions). Values are subscriber keys.
 */
interface TrieNode<S> {
  children: Map<string, TrieNode<S>>;
  /** Subscribers whose filter ends at this node. */
  subscribers: Set<S>;
}

const newNode = <S>(): TrieNode<S> => ({ children: new Map(), subscribers: new Set() });

export class TopicTrie<S> {
  private readonly root: TrieNode<S> = newNode();
  private count = 0;

  /** Adds `subscriber` under `filter`; returns false when it was already there. */
  add(filter: string, subscriber: S): boolean {
    let node = this.root;
    for (const level of filter.split('/')) {
      let next = node.children.get(level);
      if (!next) node.children.set(level, (next = newNode()));
      node = next;
    }
    if (node.subscribers.has(subscriber)) return false;
    node.subscribers.add(subscriber);
    this.count++;
    return true;
  }

  /** Removes `subscriber` from `filter`, pruning empty branches; returns whether it was there. */
  remove(filter: string, subscriber: S): boolean {
    const levels = filter.split('/');
    const path: TrieNode<S>[] = [this.root];
    for (const level of levels) {
      const next = path[path.length - 1]!.children.get(level);
      if (!next) return false;
      path.push(next);
    }
    const leaf = path[path.length - 1]!;
    if (!leaf.subscribers.delete(subscriber)) return false;
    this.count--;
    for (let i = levels.length; i > 0; i--) {
      const node = path[i]!;
      if (node.subscribers.size > 0 || node.children.size > 0) break;
      path[i - 1]!.children.delete(levels[i - 1]!);
    }
    return true;
  }

  /** Every subscriber with at least one filter matching `topic`, each once. */
  match(topic: string): Set<S> {
    const out = new Set<S>();
    this.collect(this.root, topic.split('/'), 0, out);
    return out;
  }

  get size(): number {
    return this.count;
  }

  private collect(node: TrieNode<S>, levels: string[], depth: number, out: Set<S>): void {
    const rest = node.children.get('#');
    if (rest) for (const s of rest.subscribers) out.add(s);
    if (depth === levels.length) {
      for (const s of node.subscribers) out.add(s);
      return;
    }
    const exact = node.children.get(levels[depth]!);
    if (exact) this.collect(exact, levels, depth + 1, out);
    const one = node.children.get('+');
    if (one) this.collect(one, levels, depth + 1, out);
  }
}
