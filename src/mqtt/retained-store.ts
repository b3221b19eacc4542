import { RETAINED_PREFIX, topicMatches } from '../protocol/index.js';
import type { MessageStore } from '../store/index.js';

export interface RetainedMessage {
  topic: string;
  payload: Uint8Array;
  traceId: string;
  from?: string;
}

/**
 * MQTT retained messages, one per topic, kept in LMDB as the newest entry of the stream
 * `$retained/<topic>` (so they survive restarts and kill -9) and mirrored in memory for the
 * lookup on subscribe.
 */
export class RetainedStore {
  private readonly byTopic = new Map<string, RetainedMessage>();

  constructor(private readonly store: MessageStore) {
    for (const stream of store.streamNames()) {
      if (!stream.startsWith(RETAINED_PREFIX)) continue;
      const head = store.head(stream);
      if (head.lastOffset < head.firstOffset) continue;
      const entry = store.read(stream, head.lastOffset - 1, 1)[0];
      if (!entry) continue;
      const topic = stream.slice(RETAINED_PREFIX.length);
      this.byTopic.set(topic, { topic, payload: entry.payload, traceId: entry.traceId, ...(entry.from !== undefined ? { from: entry.from } : {}) });
    }
  }

  /** Replaces the retained message of `topic`; an empty payload clears it. Resolves once durable. */
  async retain(message: RetainedMessage): Promise<void> {
    const stream = RETAINED_PREFIX + message.topic;
    if (message.payload.byteLength === 0) {
      this.byTopic.delete(message.topic);
      await this.store.pruneThrough(stream, this.store.head(stream).lastOffset);
      return;
    }
    this.byTopic.set(message.topic, message);
    const { offset } = await this.store.append(stream, {
      payload: message.payload,
      traceId: message.traceId,
      ...(message.from !== undefined ? { from: message.from } : {}),
    });
    await this.store.pruneThrough(stream, offset - 1);
  }

  /** Retained messages whose topic matches `filter`. */
  matching(filter: string): RetainedMessage[] {
    const out: RetainedMessage[] = [];
    for (const message of this.byTopic.values()) if (topicMatches(filter, message.topic)) out.push(message);
    return out;
  }

  get size(): number {
    return this.byTopic.size;
  }
}
