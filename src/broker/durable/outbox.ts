import { remainingLifetime, type Outbound, type StreamPosition } from '../../protocol/index.js';
import type { MessageStore } from '../../store/index.js';
import { encodeMsg, encodeReset } from '../message-frames.js';
import { InflightWindow } from './inflight-window.js';
import { EPOCH_CHANGED, RETENTION_GAP, decideResume } from './resume-decision.js';

export interface OutboxLimits {
  /** Unacknowledged QoS 1 deliveries allowed per device. */
  maxInflight: number;
  /**
   * A delivery not acked within this (from its write) is sent again, with a higher delivery
   * count; each further attempt waits twice as long, up to eight times this.
   */
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
  // Both maps are allocated on first use: a device without QoS 1 traffic keeps neither.
  private streams: Map<string, StreamState> | undefined;
  private readonly inflight: InflightWindow;
  /** The highest ACK per stream that arrived on the socket, applied or still waiting in the device's mailbox. */
  private receivedAcks: Map<string, number> | undefined;
  private started = false;
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
  ) {
    this.inflight = new InflightWindow(limits.ackTimeoutMs);
  }

  /**
   * Starts delivery from the stored cursors, honouring the client's resume positions: a
   * position under the current epoch skips what the client already holds; a position under
   * another epoch, or behind retained history, is answered with RESET.
   */
  start(cursors: ReadonlyMap<string, number>, resume: readonly StreamPosition[] = []): void {
    if (this.started || this.closed) return;
    this.started = true;
    const positions = new Map(resume.map((p) => [p.stream, p]));
    // Only streams the device is entitled to (its inbox, streams of its QoS 1 subscriptions):
    // a resume position can never open someone else's stream.
    for (const [stream, cursor] of cursors) {
      const head = this.store.head(stream);
      const decision = decideResume(head, cursor, positions.get(stream));
      if (decision.action === 'skip') continue;
      if (decision.action === 'reset') this.reset(stream, decision.epoch, decision.after, decision.reason);
      (this.streams ??= new Map()).set(stream, { epoch: head.epoch, acked: decision.after, sent: decision.after });
      this.pump(stream);
    }
  }

  /** A live QoS 1 message on `stream`, already committed at `offset`; `bytes` is its shared encoding. */
  offer(stream: string, epoch: string, offset: number, bytes: Uint8Array): void {
    // Before start (the device is registered before its actor starts it) the message is already
    // in the store and start replays it: start alone builds the streams' state.
    if (this.closed || !this.started) return;
    let state = this.streams?.get(stream);
    if (!state) {
      const acked = this.cursorOf(stream) ?? offset - 1;
      (this.streams ??= new Map()).set(stream, (state = { epoch, acked, sent: acked }));
    }
    if (offset <= state.sent) return;
    if (offset === state.sent + 1 && epoch === state.epoch && this.inflight.size < this.limits.maxInflight) {
      this.inflight.add(stream, offset, Date.now());
      state.sent = offset;
      this.conn.write(bytes);
      this.conn.tally.messagesOut++;
      return;
    }
    this.pump(stream);
  }

  /** Cumulative ack: everything of `stream` up to `offset` arrived. */
  ack(stream: string, offset: number): void {
    const state = this.streams?.get(stream);
    if (!state) return;
    const upTo = Math.min(offset, state.sent);
    if (upTo <= state.acked) return;
    state.acked = upTo;
    const now = Date.now();
    this.inflight.ackThrough(stream, upTo, (item) => this.observer?.acked((now - item.queuedAt) / 1000));
    this.saveCursor(stream, upTo);
    this.pumpAll();
  }

  /**
   * An ACK arrived on the socket. The device actor applies it in order with the other frames;
   * this record lets `close` apply those still waiting in the mailbox when the socket goes.
   */
  ackReceived(stream: string, offset: number): void {
    // Only streams delivered on this connection: the record stays as small as the session.
    if (!this.streams?.has(stream)) return;
    this.receivedAcks ??= new Map();
    if (offset > (this.receivedAcks.get(stream) ?? 0)) this.receivedAcks.set(stream, offset);
  }

  /** The client holds `stream` up to `offset` (it saw a gap): send again from there. */
  resync(stream: string, offset: number): void {
    const state = this.streams?.get(stream);
    if (!state || offset >= state.sent) return;
    state.sent = Math.max(offset, state.acked);
    this.inflight.dropAfter(stream, state.sent);
    this.pump(stream);
  }

  /** Sends again what waited too long for its ack. Called from a periodic sweep. */
  redeliverExpired(now: number): number {
    let resent = 0;
    for (const item of this.inflight.dueForRedelivery(now)) {
      const entry = this.store.read(item.stream, item.offset - 1, 1)[0];
      if (!entry || entry.offset !== item.offset) {
        this.inflight.remove(item);
        continue;
      }
      // Onward delivery started before the expiry, so it goes on (MQTT 5 §3.3.2.3.3): an expired
      // message is resent with the last second of its lifetime.
      const props = remainingLifetime(entry.props, entry.publishedAt, now);
      this.conn.write(encodeMsg(entry.stream, entry, 1, entry.offset, this.streams!.get(item.stream)!.epoch, item.delivery, props === 'expired' ? { ...entry.props, expirySeconds: 1 } : props));
      resent++;
    }
    this.conn.tally.messagesOut += resent;
    if (resent > 0) this.observer?.redelivered(resent);
    return resent;
  }

  positions(): StreamPosition[] {
    return [...(this.streams ?? [])].map(([stream, s]) => ({ stream, epoch: s.epoch, offset: s.acked }));
  }

  get inflightCount(): number {
    return this.inflight.size;
  }

  /** The window: at most this many in flight (an MQTT client's receive maximum, capped by the broker's). */
  get maxInflight(): number {
    return this.limits.maxInflight;
  }

  /** The connection is gone. ACKs that arrived but were not applied yet still move the cursors. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const [stream, offset] of this.receivedAcks ?? []) this.ack(stream, offset);
    this.receivedAcks = undefined;
    this.inflight.clear();
  }

  private pumpAll(): void {
    if (this.closed) return;
    for (const stream of this.streams?.keys() ?? []) {
      if (this.inflight.size >= this.limits.maxInflight) return;
      this.pump(stream);
    }
  }

  /** Sends stored entries after `sent` while the window has room. */
  private pump(stream: string): void {
    const state = this.streams?.get(stream);
    if (!state || this.closed) return;
    const head = this.store.head(stream);
    if (head.epoch !== state.epoch) {
      this.reset(stream, head.epoch, head.firstOffset - 1, EPOCH_CHANGED);
      state.epoch = head.epoch;
      state.acked = state.sent = head.firstOffset - 1;
      this.inflight.dropAfter(stream, 0);
    }
    while (state.sent < head.lastOffset && this.inflight.size < this.limits.maxInflight) {
      const room = this.limits.maxInflight - this.inflight.size;
      const entries = this.store.read(stream, state.sent, Math.min(room, 256));
      if (entries.length === 0) break;
      if (entries[0]!.offset > state.sent + 1) {
        this.reset(stream, state.epoch, entries[0]!.offset - 1, RETENTION_GAP);
      }
      const now = Date.now();
      let replayed = 0;
      const ackedBefore = state.acked;
      for (const entry of entries) {
        state.sent = entry.offset;
        // An expired message is passed over (MQTT 5: not delivered once its expiry passed). With
        // nothing before it waiting for an ack the cursor passes it now, else the next ACK does.
        const props = remainingLifetime(entry.props, entry.publishedAt, now);
        if (props === 'expired') {
          if (state.acked === entry.offset - 1) state.acked = entry.offset;
          continue;
        }
        this.inflight.add(stream, entry.offset, now);
        this.conn.write(encodeMsg(entry.stream, entry, 1, entry.offset, state.epoch, 1, props));
        replayed++;
      }
      this.conn.tally.messagesOut += replayed;
      if (replayed > 0) this.observer?.replayed(replayed);
      if (state.acked > ackedBefore) this.saveCursor(stream, state.acked);
    }
  }

  private reset(stream: string, epoch: string, offset: number, reason: string): void {
    this.conn.write(encodeReset(stream, epoch, offset, reason));
  }
}
