import { TopicTrie, inboxStream, topicMatches, type Qos } from '../../protocol/index.js';
import type { MessageStore } from '../../store/index.js';
import { detachWrite, type StoreWriteFailed } from './detached-writes.js';

/**
 * Who must receive each stored stream: the QoS 1 filters of every durable session (online or
 * not) and every device's cursor per stream, mirrored in memory from the store so that a
 * publish and the pruning sweep need no scan of the store.
 */
export class DurableIndex {
  /** QoS 1 filter → device ids holding it. */
  private readonly filters = new TopicTrie<string>();
  private readonly filtersOf = new Map<string, Set<string>>();
  /** stream → device id → acked offset. */
  private readonly cursorsByStream = new Map<string, Map<string, number>>();
  /** device id → stream → cursor advanced by ACKs and not yet written (see `acked`). */
  private readonly ackedSinceWrite = new Map<string, Map<string, number>>();
  private ackedWriteQueued = false;

  constructor(
    private readonly store: MessageStore,
    private readonly writeFailed: StoreWriteFailed,
  ) {
    for (const [deviceId, session] of store.sessions()) {
      for (const [filter, qos] of session.subscriptions) if (qos === 1) this.addFilter(deviceId, filter);
    }
    for (const { subscriberId, stream, offset } of store.allCursors()) this.remember(subscriberId, stream, offset);
  }

  /** Records a device's subscription QoS for `filter`; only QoS 1 ones make messages wait in the store. */
  subscribe(deviceId: string, filter: string, qos: Qos): void {
    if (qos === 1) this.addFilter(deviceId, filter);
    else this.unsubscribe(deviceId, filter);
  }

  /** Drops the filter and the cursors of streams that no other QoS 1 filter of the device matches. */
  unsubscribe(deviceId: string, filter: string): void {
    const mine = this.filtersOf.get(deviceId);
    if (!mine?.delete(filter)) return;
    this.filters.remove(filter, deviceId);
    for (const [stream, cursors] of this.cursorsByStream) {
      if (!cursors.has(deviceId) || stream === inboxStream(deviceId)) continue;
      if ([...mine].some((f) => topicMatches(f, stream))) continue;
      this.forgetCursor(deviceId, stream);
    }
  }

  /**
   * Before a QoS 1 append to topic `stream`: every durable subscriber without a cursor there
   * starts at the stream's current end, so the message about to be appended waits for it.
   * Issued in the same tick as the append, the cursor shares its commit.
   */
  prepareAppend(stream: string): void {
    const subscribers = this.filters.match(stream);
    if (subscribers.size === 0) return;
    const lastOffset = this.store.head(stream).lastOffset;
    const cursors = this.cursorsByStream.get(stream);
    for (const deviceId of subscribers) {
      if (cursors?.has(deviceId)) continue;
      this.advance(deviceId, stream, lastOffset);
    }
  }

  cursor(deviceId: string, stream: string): number | undefined {
    return this.cursorsByStream.get(stream)?.get(deviceId);
  }

  /** A device's cursors, with its inbox (whose cursor starts at 0). */
  cursorsOf(deviceId: string): Map<string, number> {
    const out = new Map<string, number>([[inboxStream(deviceId), 0]]);
    for (const [stream, offset] of this.store.cursors(deviceId)) out.set(stream, offset);
    return out;
  }

  /** Moves a cursor forward (in memory now, in the store with the next commit). */
  advance(deviceId: string, stream: string, offset: number): void {
    const previous = this.cursorsByStream.get(stream)?.get(deviceId);
    if (previous !== undefined && offset <= previous) return;
    this.remember(deviceId, stream, offset);
    detachWrite(this.store.setCursor(deviceId, stream, offset), 'setCursor', this.writeFailed);
  }

  /**
   * Moves a cursor forward for an ACK: in memory now, in the store once the ACKs handled in
   * this run of the turn are done (a microtask later, same commit): a device that acks a burst
   * one message at a time costs one store write per cursor, not one per ACK.
   */
  acked(deviceId: string, stream: string, offset: number): void {
    const previous = this.cursorsByStream.get(stream)?.get(deviceId);
    if (previous !== undefined && offset <= previous) return;
    this.remember(deviceId, stream, offset);
    let streams = this.ackedSinceWrite.get(deviceId);
    if (!streams) this.ackedSinceWrite.set(deviceId, (streams = new Map()));
    streams.set(stream, offset);
    if (!this.ackedWriteQueued) {
      this.ackedWriteQueued = true;
      queueMicrotask(this.writeAcked);
    }
  }

  private readonly writeAcked = (): void => {
    this.ackedWriteQueued = false;
    for (const [deviceId, streams] of this.ackedSinceWrite) {
      for (const [stream, offset] of streams) detachWrite(this.store.setCursor(deviceId, stream, offset), 'setCursor', this.writeFailed);
    }
    this.ackedSinceWrite.clear();
  };

  /** The offset through which `stream` is no longer needed by anyone. */
  prunableThrough(stream: string): number {
    const head = this.store.head(stream);
    const cursors = this.cursorsByStream.get(stream);
    const inboxOwner = stream.startsWith('$inbox/') ? stream.slice('$inbox/'.length) : undefined;
    let min = head.lastOffset;
    if (inboxOwner !== undefined && !cursors?.has(inboxOwner)) min = 0;
    for (const offset of cursors?.values() ?? []) if (offset < min) min = offset;
    return min;
  }

  /** Forgets everything of a device whose session expired. */
  forgetDevice(deviceId: string): void {
    for (const filter of this.filtersOf.get(deviceId) ?? []) this.filters.remove(filter, deviceId);
    this.filtersOf.delete(deviceId);
    for (const [stream, cursors] of this.cursorsByStream) if (cursors.has(deviceId)) this.forgetCursor(deviceId, stream);
  }

  private addFilter(deviceId: string, filter: string): void {
    let mine = this.filtersOf.get(deviceId);
    if (!mine) this.filtersOf.set(deviceId, (mine = new Set()));
    mine.add(filter);
    this.filters.add(filter, deviceId);
  }

  private remember(deviceId: string, stream: string, offset: number): void {
    let cursors = this.cursorsByStream.get(stream);
    if (!cursors) this.cursorsByStream.set(stream, (cursors = new Map()));
    cursors.set(deviceId, offset);
  }

  private forgetCursor(deviceId: string, stream: string): void {
    const cursors = this.cursorsByStream.get(stream);
    cursors?.delete(deviceId);
    if (cursors?.size === 0) this.cursorsByStream.delete(stream);
    this.ackedSinceWrite.get(deviceId)?.delete(stream);
    detachWrite(this.store.removeCursor(deviceId, stream), 'removeCursor', this.writeFailed);
  }
}
