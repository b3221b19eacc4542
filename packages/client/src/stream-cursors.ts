import type { MsgFrame, StreamPosition } from '../../../src/protocol/index.js';

interface Cursor {
  /** '' when the broker sent no epoch. */
  epoch: string;
  /** Highest offset handed to the application; everything up to it arrived, in order. */
  delivered: number;
  /** Highest offset acknowledged to the broker; ACKs are cumulative per stream. */
  acked: number | undefined;
  /** Highest offset seen under `epoch`, including messages held back as gaps. */
  announced: number;
  /** Epochs this stream left behind: a message under one of them is stale. */
  retired: string[];
}

/** What to do with an incoming QoS 1 message. */
export type Verdict =
  /** Hand it to the application: it is the next offset, or the first seen of the stream. */
  | { kind: 'deliver' }
  /** Hand it over, but the stream moved to a new epoch without a RESET: history may be lost. */
  | { kind: 'epoch-changed' }
  /** Already delivered; `reack` is the ACK that covers it, when the application acked that far. */
  | { kind: 'duplicate'; reack: number | undefined }
  /** Offsets before it are missing: hold it back (no delivery, no ACK) and ask for a resend. */
  | { kind: 'gap'; expected: number }
  /** Sent under an epoch the stream already left: drop it. */
  | { kind: 'stale' };

/** Epochs remembered per stream to recognise stale messages; older ones are forgotten. */
const RETIRED_EPOCHS_KEPT = 4;

/**
 * Per-stream delivery and ack positions of QoS 1 messages. Pure bookkeeping: it decides,
 * the client sends. Offsets are contiguous within an epoch, so a jump is a gap; an epoch
 * change means the stream was recreated and its offsets restart.
 */
export class StreamCursors {
  private readonly cursors = new Map<string, Cursor>();

  /** Judges a QoS 1 message and records it when it is to be delivered. */
  receive(msg: Pick<MsgFrame, 'stream' | 'offset' | 'epoch'>): Verdict {
    const epoch = msg.epoch ?? '';
    const cursor = this.cursors.get(msg.stream);
    if (!cursor) {
      this.touch(msg.stream, { epoch, delivered: msg.offset, acked: undefined, announced: msg.offset, retired: [] });
      return { kind: 'deliver' };
    }
    if (cursor.epoch !== epoch) {
      if (cursor.retired.includes(epoch)) return { kind: 'stale' };
      this.moveTo(msg.stream, cursor, epoch, msg.offset);
      return { kind: 'epoch-changed' };
    }
    cursor.announced = Math.max(cursor.announced, msg.offset);
    if (msg.offset <= cursor.delivered) return { kind: 'duplicate', reack: this.reackOffset(cursor, msg.offset) };
    if (msg.offset > cursor.delivered + 1) return { kind: 'gap', expected: cursor.delivered + 1 };
    cursor.delivered = msg.offset;
    this.touch(msg.stream, cursor);
    return { kind: 'deliver' };
  }

  /**
   * The broker's RESET: delivery continues after `offset` under `epoch`. Within the same epoch
   * the position never moves back, so nothing already delivered is delivered twice.
   */
  reset(stream: string, epoch: string, offset: number): void {
    const cursor = this.cursors.get(stream);
    if (!cursor) {
      this.touch(stream, { epoch, delivered: offset, acked: undefined, announced: offset, retired: [] });
    } else if (cursor.epoch !== epoch) {
      this.moveTo(stream, cursor, epoch, offset);
    } else {
      cursor.delivered = Math.max(cursor.delivered, offset);
      cursor.announced = Math.max(cursor.announced, cursor.delivered);
      this.touch(stream, cursor);
    }
  }

  /**
   * Records an ack, capped at what was delivered: acking a held-back gap would tell the broker
   * to skip it. Returns the offset to send, or undefined when an ack as high was already sent.
   */
  ack(stream: string, offset: number): number | undefined {
    const cursor = this.cursors.get(stream);
    if (!cursor) return offset;
    const upTo = Math.min(offset, cursor.delivered);
    if (cursor.acked !== undefined && upTo <= cursor.acked) return undefined;
    cursor.acked = upTo;
    return upTo;
  }

  /** The highest delivered offset of `stream` while later offsets were seen but held back. */
  gapOf(stream: string): number | undefined {
    const cursor = this.cursors.get(stream);
    return cursor && cursor.announced > cursor.delivered ? cursor.delivered : undefined;
  }

  /** Streams with an unrepaired gap: the RESYNC each needs. */
  gaps(): { stream: string; offset: number }[] {
    return [...this.cursors].filter(([, c]) => c.announced > c.delivered).map(([stream, c]) => ({ stream, offset: c.delivered }));
  }

  /** Highest delivered offset per stream, least recently delivered first: HELLO's `resume` on reconnect. */
  positions(): StreamPosition[] {
    return [...this.cursors].map(([stream, { epoch, delivered }]) => ({ stream, epoch, offset: delivered }));
  }

  /**
   * The ACK offset that covers a redelivered `offset`, or undefined while the application has
   * not acked that far (manual ack mode): acking for it would lose the message on a crash.
   */
  private reackOffset(cursor: Cursor, offset: number): number | undefined {
    return cursor.acked !== undefined && offset <= cursor.acked ? cursor.acked : undefined;
  }

  /** Starts `epoch` with everything up to `offset` settled; acks of the old epoch mean nothing there. */
  private moveTo(stream: string, cursor: Cursor, epoch: string, offset: number): void {
    const retired = [cursor.epoch, ...cursor.retired.filter((e) => e !== epoch)].slice(0, RETIRED_EPOCHS_KEPT);
    this.touch(stream, { epoch, delivered: offset, acked: undefined, announced: offset, retired });
  }

  // Re-inserted so the map stays ordered by last delivery: HELLO keeps the most recent streams.
  private touch(stream: string, cursor: Cursor): void {
    this.cursors.delete(stream);
    this.cursors.set(stream, cursor);
  }
}
