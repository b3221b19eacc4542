import { FrameKind, encodeFrame, type Outbound, type StreamPosition } from '../../protocol/index.js';
import type { MessageStore, StoredEntry } from '../../store/index.js';

export interface OutboxLimits {
  /** Unacknowledged QoS 1 deliveries allowed per device. */
  maxInflight: number;
  /** A delivery not acked within this is sent again, with a higher delivery count. */
  ackTimeoutMs: number;
}

/** Told about deliveries, for metrics. */
export interface OutboxObserver {
  replayed(count: number): void;
  redelivered(count: number): void;
  /** Seconds from a delivery to its ack. */
  acked(seconds: number): void;
}

interface StreamState {
  epoch: string;
  /** Highest offset the device acknowledged (its cursor). */
  acked: number;
  /** Highest offset sent on this connection. */
  sent: number;
}

interface Inflight {
  stream: string;
  offset: number;
  sentAt: number;
  delivery: number;
}

/**
 * QoS 1 delivery to one connected device: an inflight window, cumulative acks that advance the
 * stored cursor, replay from the store after the cursor, redelivery after the ack timeout.
 *
 * Live messages are offered with their offset; one is written straight away only when it is
 * the next offset of its stream and the window has room. Otherwise the stream catches up
 * from the store, which already holds every offered message (delivery follows the commit).
 * That one rule gives in-order delivery with no gap and no duplicate at the replay/live seam.
 */
export class DurableOutbox {
  private readonly streams = new Map<string, StreamState>();
  private readonly inflight = new Map<string, Inflight>();
  private closed = false;

  constructor(
    private readonly store: MessageStore,
    private readonly conn: Outbound,
    private readonly limits: OutboxLimits,
    /** The device's stored cursor on a stream (undefined: none yet). */
    private readonly cursorOf: (stream: string) => number | undefined,
    /** Persists an advanced cursor. */
    private readonly saveCursor: (stream: string, offset: number) => void,
    private readonly observer?: OutboxObserver,
  ) {}

  /**
   * Starts delivery from the stored cursors, honouring the client's resume positions: a
   * position under the current epoch skips what the client already holds; a position under
   * another epoch, or behind retained history, is answered with RESET.
   */
  start(cursors: ReadonlyMap<string, number>, resume: readonly StreamPosition[] = []): void {
    const positions = new Map(resume.map((p) => [p.stream, p]));
    // Only streams the device is entitled to (its inbox, streams of its QoS 1 subscriptions):
    // a resume position can never open someone else's stream.
    for (const stream of cursors.keys()) {
      const head = this.store.head(stream);
      if (head.lastOffset === 0 && head.epoch === '') continue;
      let acked = cursors.get(stream) ?? 0;
      const position = positions.get(stream);
      if (position && position.epoch !== '' && position.epoch !== head.epoch) {
        this.reset(stream, head.epoch, head.firstOffset - 1, 'the stream was reset: its epoch changed');
        acked = Math.max(acked, head.firstOffset - 1);
      } else if (position && position.offset > acked && position.offset <= head.lastOffset) {
        acked = position.offset;
      }
      this.streams.set(stream, { epoch: head.epoch, acked, sent: acked });
      this.pump(stream);
    }
  }

  /** A live QoS 1 message on `stream`, already committed at `offset`; `bytes` is its shared encoding. */
  offer(stream: string, epoch: string, offset: number, bytes: Uint8Array): void {
    if (this.closed) return;
    let state = this.streams.get(stream);
    if (!state) {
      const acked = this.cursorOf(stream) ?? offset - 1;
      this.streams.set(stream, (state = { epoch, acked, sent: acked }));
    }
    if (offset <= state.sent) return;
    if (offset === state.sent + 1 && epoch === state.epoch && this.inflight.size < this.limits.maxInflight) {
      this.track(stream, offset, 1);
      state.sent = offset;
      this.conn.write(bytes);
      return;
    }
    this.pump(stream);
  }

  /** Cumulative ack: everything of `stream` up to `offset` arrived. */
  ack(stream: string, offset: number): void {
    const state = this.streams.get(stream);
    if (!state) return;
    const upTo = Math.min(offset, state.sent);
    if (upTo <= state.acked) return;
    state.acked = upTo;
    const now = Date.now();
    for (const [key, item] of this.inflight) {
      if (item.stream !== stream || item.offset > upTo) continue;
      this.inflight.delete(key);
      this.observer?.acked((now - item.sentAt) / 1000);
    }
    this.saveCursor(stream, upTo);
    this.pumpAll();
  }

  /** The client holds `stream` up to `offset` (it saw a gap): send again from there. */
  resync(stream: string, offset: number): void {
    const state = this.streams.get(stream);
    if (!state || offset >= state.sent) return;
    state.sent = Math.max(offset, state.acked);
    for (const [key, item] of this.inflight) if (item.stream === stream && item.offset > state.sent) this.inflight.delete(key);
    this.pump(stream);
  }

  /** Sends again what waited too long for its ack. Called from a periodic sweep. */
  redeliverExpired(now: number): number {
    let resent = 0;
    for (const [key, item] of this.inflight) {
      // The map is in send order: the first young entry ends the scan.
      if (now - item.sentAt < this.limits.ackTimeoutMs) break;
      this.inflight.delete(key);
      const entry = this.store.read(item.stream, item.offset - 1, 1)[0];
      if (!entry || entry.offset !== item.offset) continue;
      this.track(item.stream, item.offset, item.delivery + 1);
      this.conn.write(this.encode(entry, this.streams.get(item.stream)!.epoch, item.delivery + 1));
      resent++;
    }
    if (resent > 0) this.observer?.redelivered(resent);
    return resent;
  }

  positions(): StreamPosition[] {
    return [...this.streams].map(([stream, s]) => ({ stream, epoch: s.epoch, offset: s.acked }));
  }

  get inflightCount(): number {
    return this.inflight.size;
  }

  close(): void {
    this.closed = true;
    this.inflight.clear();
  }

  private pumpAll(): void {
    for (const stream of this.streams.keys()) {
      if (this.inflight.size >= this.limits.maxInflight) return;
      this.pump(stream);
    }
  }

  /** Sends stored entries after `sent` while the window has room. */
  private pump(stream: string): void {
    const state = this.streams.get(stream);
    if (!state || this.closed) return;
    const head = this.store.head(stream);
    if (head.epoch !== state.epoch) {
      this.reset(stream, head.epoch, head.firstOffset - 1, 'the stream was reset: its epoch changed');
      state.epoch = head.epoch;
      state.acked = state.sent = head.firstOffset - 1;
    }
    while (state.sent < head.lastOffset && this.inflight.size < this.limits.maxInflight) {
      const room = this.limits.maxInflight - this.inflight.size;
      const entries = this.store.read(stream, state.sent, Math.min(room, 256));
      if (entries.length === 0) break;
      if (entries[0]!.offset > state.sent + 1) {
        this.reset(stream, state.epoch, entries[0]!.offset - 1, 'retention removed messages after your position');
      }
      for (const entry of entries) {
        this.track(stream, entry.offset, 1);
        state.sent = entry.offset;
        this.conn.write(this.encode(entry, state.epoch, 1));
      }
      this.observer?.replayed(entries.length);
    }
  }

  private track(stream: string, offset: number, delivery: number): void {
    this.inflight.set(`${offset}\u0000${stream}`, { stream, offset, sentAt: Date.now(), delivery });
  }

  private reset(stream: string, epoch: string, offset: number, reason: string): void {
    this.conn.write(encodeFrame({ kind: FrameKind.RESET, seq: 0, stream, epoch, offset, reason }));
  }

  private encode(entry: StoredEntry, epoch: string, delivery: number): Uint8Array {
    return encodeFrame({
      kind: FrameKind.MSG,
      seq: 0,
      stream: entry.stream,
      offset: entry.offset,
      payload: entry.payload,
      traceId: entry.traceId,
      qos: 1,
      epoch,
      delivery,
      ...(entry.from !== undefined ? { from: entry.from } : {}),
    });
  }
}
