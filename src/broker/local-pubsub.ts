import { FrameKind, TopicTrie, encodeFrame, inboxStream, type DirectMessage, type Outbound, type Publication, type Qos } from '../protocol/index.js';

/** A local subscriber: anything with an outbound socket side. */
export interface Subscriber {
  readonly conn: Outbound;
}

/**
 * Topic subscriptions of this node's devices and at-most-once delivery to them.
 * Each message is encoded once; the same bytes go to every matching subscriber.
 */
export class LocalPubSub<S extends Subscriber> {
  private readonly trie = new TopicTrie<S>();
  private readonly filtersOf = new Map<S, Map<string, Qos>>();

  subscribe(subscriber: S, filter: string, qos: Qos): void {
    let filters = this.filtersOf.get(subscriber);
    if (!filters) this.filtersOf.set(subscriber, (filters = new Map()));
    filters.set(filter, qos);
    this.trie.add(filter, subscriber);
  }

  unsubscribe(subscriber: S, filter: string): void {
    this.filtersOf.get(subscriber)?.delete(filter);
    this.trie.remove(filter, subscriber);
  }

  /** Drops every subscription of `subscriber` (it disconnected). */
  removeSubscriber(subscriber: S): void {
    const filters = this.filtersOf.get(subscriber);
    if (!filters) return;
    for (const filter of filters.keys()) this.trie.remove(filter, subscriber);
    this.filtersOf.delete(subscriber);
  }

  /** Delivers to every matching subscriber; returns how many got it. */
  publish(publication: Publication): number {
    const subscribers = this.trie.match(publication.topic);
    if (subscribers.size === 0) return 0;
    const bytes = encodeFrame({
      kind: FrameKind.MSG,
      seq: 0,
      stream: publication.topic,
      offset: 0,
      payload: publication.payload,
      traceId: publication.traceId,
      qos: 0,
      ...(publication.from !== undefined ? { from: publication.from } : {}),
    });
    for (const s of subscribers) s.conn.write(bytes);
    return subscribers.size;
  }

  get subscriptionCount(): number {
    return this.trie.size;
  }
}

/** Encodes a point-to-point message for its target's inbox stream. */
export function encodeDirect(message: DirectMessage, offset = 0): Uint8Array {
  return encodeFrame({
    kind: FrameKind.MSG,
    seq: 0,
    stream: inboxStream(message.target),
    offset,
    payload: message.payload,
    traceId: message.traceId,
    qos: message.qos,
    ...(message.from !== undefined ? { from: message.from } : {}),
  });
}
