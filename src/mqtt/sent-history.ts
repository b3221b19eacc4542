import { RETAINED_PREFIX } from '../protocol/index.js';
import type { MessageStore } from '../store/index.js';

/**
 * Per client id and stream, the highest offset sent since this broker started; and per stream,
 * the newest offset stored before it started. The broker does not record sends on disk, so any
 * stored message from before the start may have been sent before it (then a kill -9 or restart
 * came): it goes out with DUP=1, which tells the client "possibly a duplicate", never less.
 */
export class SentHistory {
  private readonly storedBeforeStart = new Map<string, number>();
  private readonly byClient = new Map<string, Map<string, number>>();

  constructor(store: MessageStore) {
    for (const stream of store.streamNames()) {
      if (stream.startsWith(RETAINED_PREFIX)) continue;
      const { lastOffset } = store.head(stream);
      if (lastOffset > 0) this.storedBeforeStart.set(stream, lastOffset);
    }
  }

  /** Whether `offset` of `stream` may have reached `clientId` before; records that it has now. */
  sendingNow(clientId: string, stream: string, offset: number): boolean {
    let sent = this.byClient.get(clientId);
    if (!sent) this.byClient.set(clientId, (sent = new Map()));
    const highest = sent.get(stream) ?? 0;
    if (highest < offset) sent.set(stream, offset);
    return highest >= offset || offset <= (this.storedBeforeStart.get(stream) ?? 0);
  }

  /** The client's session ended: nothing of it will be redelivered. */
  forget(clientId: string): void {
    this.byClient.delete(clientId);
  }
}
