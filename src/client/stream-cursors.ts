import type { MsgFrame, StreamPosition } from '../protocol/index.js';

interface Cursor {
  /** '' when the broker sent no epoch. */
  epoch: string;
  /** Highest offset handed to the application. */
  delivered: number;
  /** Highest offset acknowledged to the broker; ACKs are cumulative per stream. */
  acked: number | undefined;
}

/**
 * Per-stream delivery and ack positions of QoS 1 messages. Pure bookkeeping: it decides,
 * the client sends. An epoch change means the stream was recreated, so its offsets restart.
 */
export class StreamCursors {
  private readonly cursors = new Map<string, Cursor>();

  /** Records a QoS 1 message; returns false when it is a redelivery of one already delivered. */
  deliver(msg: Pick<MsgFrame, 'stream' | 'offset' | 'epoch'>): boolean {
    const epoch = msg.epoch ?? '';
    const cursor = this.cursors.get(msg.stream);
    if (cursor && cursor.epoch === epoch && msg.offset <= cursor.delivered) return false;
    const acked = cursor && cursor.epoch === epoch ? cursor.acked : undefined;
    // Re-inserted so the map stays ordered by last delivery: HELLO keeps the most recent streams.
    this.cursors.delete(msg.stream);
    this.cursors.set(msg.stream, { epoch, delivered: msg.offset, acked });
    return true;
  }

  /** Records an ack; returns false when an ack as high was already recorded, so no ACK is needed. */
  ack(stream: string, offset: number): boolean {
    const cursor = this.cursors.get(stream);
    if (!cursor) return true;
    if (cursor.acked !== undefined && offset <= cursor.acked) return false;
    cursor.acked = offset;
    return true;
  }

  /**
   * The ACK offset that covers a redelivered `offset`, or undefined while the application has
   * not acked that far (manual ack mode): acking for it would lose the message on a crash.
   */
  reackOffset(stream: string, offset: number): number | undefined {
    const acked = this.cursors.get(stream)?.acked;
    return acked !== undefined && offset <= acked ? acked : undefined;
  }

  /** Highest delivered offset per stream, least recently delivered first: HELLO's `resume` on reconnect. */
  positions(): StreamPosition[] {
    return [...this.cursors].map(([stream, { epoch, delivered }]) => ({ stream, epoch, offset: delivered }));
  }
}
