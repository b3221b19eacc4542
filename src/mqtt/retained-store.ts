import { RETAINED_PREFIX, remainingLifetime, topicMatches, type MessageProperties, type Qos } from '../protocol/index.js';
import type { MessageStore, StoredEntry } from '../store/index.js';
import { detachWrite, type StoreWriteFailed } from '../broker/durable/detached-writes.js';

export interface RetainedMessage {
  topic: string;
  payload: Uint8Array;
  /** The QoS it was published with: a subscriber gets it at the lower of this and its own. */
  qos: Qos;
  traceId: string;
  from?: string;
  props?: MessageProperties;
}

interface Kept extends RetainedMessage {
  publishedAt: number;
}

/**
 * MQTT retained messages, one per topic, kept in LMDB as the newest entry of the stream
 * `$retained/<topic>` (so they survive restarts and kill -9) and mirrored in memory for the
 * lookup on subscribe.
 */
export class RetainedStore {
  private readonly byTopic = new Map<string, Kept>();

  constructor(
    private readonly store: MessageStore,
    private readonly writeFailed: StoreWriteFailed,
  ) {
    for (const stream of store.streamNames()) {
      if (!stream.startsWith(RETAINED_PREFIX)) continue;
      const head = store.head(stream);
      if (head.lastOffset < head.firstOffset) continue;
      const entry = store.read(stream, head.lastOffset - 1, 1)[0];
      if (entry) this.keep(stream.slice(RETAINED_PREFIX.length), entry);
    }
  }

  /**
   * Replaces the retained message of `topic`; an empty payload clears it. Nobody waits for the
   * write (the message is kept in memory at once): a failure, e.g. the store closing as the
   * broker stops, is reported, never an unhandled rejection.
   */
  retain(message: RetainedMessage): void {
    detachWrite(this.write(message), 'retain', this.writeFailed);
  }

  private async write(message: RetainedMessage): Promise<void> {
    const stream = RETAINED_PREFIX + message.topic;
    if (message.payload.byteLength === 0) {
      this.byTopic.delete(message.topic);
      await this.store.pruneThrough(stream, this.store.head(stream).lastOffset);
      return;
    }
    this.byTopic.set(message.topic, { ...message, publishedAt: Date.now() });
    const { offset } = await this.store.append(stream, {
      payload: message.payload,
      traceId: message.traceId,
      qos: message.qos,
      ...(message.from !== undefined ? { from: message.from } : {}),
      ...(message.props !== undefined ? { props: message.props } : {}),
    });
    await this.store.pruneThrough(stream, offset - 1);
  }

  /** Retained messages whose topic matches `filter`, as of `now`: expired ones left out, the others with what remains of their expiry. */
  matching(filter: string, now = Date.now()): RetainedMessage[] {
    const out: RetainedMessage[] = [];
    for (const kept of this.byTopic.values()) {
      if (!topicMatches(filter, kept.topic)) continue;
      const props = remainingLifetime(kept.props, kept.publishedAt, now);
      if (props === 'expired') continue;
      const { publishedAt: _, props: __, ...message } = kept;
      out.push(props ? { ...message, props } : message);
    }
    return out;
  }

  get size(): number {
    return this.byTopic.size;
  }

  private keep(topic: string, entry: StoredEntry): void {
    this.byTopic.set(topic, {
      topic,
      payload: entry.payload,
      // Retained before QoS was kept: they were delivered at QoS 0, and still are.
      qos: entry.qos ?? 0,
      traceId: entry.traceId,
      publishedAt: entry.publishedAt,
      ...(entry.from !== undefined ? { from: entry.from } : {}),
      ...(entry.props !== undefined ? { props: entry.props } : {}),
    });
  }
}
