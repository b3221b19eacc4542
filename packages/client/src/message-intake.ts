import type { MsgFrame, ResetFrame, StreamPosition } from '../../../src/protocol/index.js';
import type { Message, ResetInfo } from './events.js';
import { DEFAULT_RECONCILE_MS, DEFAULT_RESYNC_ATTEMPTS, DEFAULT_RESYNC_RETRY_MS, ResyncScheduler, type ResyncTiming } from './resync-scheduler.js';
import { StreamCursors } from './stream-cursors.js';

/** What the intake asks of the client that owns it. */
export interface IntakeHooks {
  /** Emit 'message'. */
  deliver(message: Message): void;
  /** Emit 'reset'. */
  reset(info: ResetInfo): void;
  /** Write an ACK if connected; dropped otherwise (the broker redelivers and we re-ack). */
  sendAck(stream: string, offset: number): void;
  /** Write a RESYNC if connected; dropped otherwise (the scheduler or reconnect covers it). */
  sendResync(stream: string, offset: number): void;
}

export interface IntakeSettings extends Partial<ResyncTiming> {
  /** Ack each QoS 1 message once its 'message' listeners ran. */
  autoAck: boolean;
}

/**
 * Incoming MSG and RESET frames, from the wire to the application: QoS 1 messages reach the
 * application once each, in offset order per stream; gaps are held back and repaired with
 * RESYNC; history the broker lost is reported as 'reset'. Acks go out cumulatively.
 */
export class MessageIntake {
  private readonly cursors = new StreamCursors();
  private readonly resyncs: ResyncScheduler;
  private readonly autoAck: boolean;

  constructor(
    private readonly hooks: IntakeHooks,
    settings: IntakeSettings,
  ) {
    this.autoAck = settings.autoAck;
    const { retryMs = DEFAULT_RESYNC_RETRY_MS, maxAttempts = DEFAULT_RESYNC_ATTEMPTS, reconcileMs = DEFAULT_RECONCILE_MS } = settings;
    const send = (stream: string, offset: number) => hooks.sendResync(stream, offset);
    this.resyncs = new ResyncScheduler(this.cursors, send, { retryMs, maxAttempts, reconcileMs });
  }

  onMessage(frame: MsgFrame): void {
    if (frame.qos === 1 && !this.admit(frame)) return;
    this.hooks.deliver(toMessage(frame));
    // Acked even when a listener threw: that went to 'error', and the next cumulative ACK would cover it anyway.
    if (frame.qos === 1 && this.autoAck) this.ack(frame.stream, frame.offset);
  }

  onReset({ stream, epoch, offset, reason }: ResetFrame): void {
    this.cursors.reset(stream, epoch, offset);
    // The broker continues right after the RESET; a gap that remains shows at the next message.
    this.resyncs.forget(stream);
    this.hooks.reset({ stream, epoch, offset, reason });
  }

  ack(stream: string, offset: number): void {
    const upTo = this.cursors.ack(stream, offset);
    if (upTo !== undefined) this.hooks.sendAck(stream, upTo);
  }

  positions(): StreamPosition[] {
    return this.cursors.positions();
  }

  /** A handshake completed: the replay from the resume positions takes over any repair under way. */
  connected(): void {
    this.resyncs.connected();
  }

  /** Connection lost or client closed. */
  stop(): void {
    this.resyncs.stop();
  }

  /** Whether a QoS 1 message goes to the application. */
  private admit(frame: MsgFrame): boolean {
    const verdict = this.cursors.receive(frame);
    switch (verdict.kind) {
      case 'deliver':
        return true;
      case 'epoch-changed': {
        this.resyncs.forget(frame.stream);
        const { stream, epoch = '', offset } = frame;
        this.hooks.reset({ stream, epoch, offset: offset - 1, reason: 'epoch changed' });
        return true;
      }
      case 'duplicate':
        if (verdict.reack !== undefined) this.hooks.sendAck(frame.stream, verdict.reack);
        return false;
      case 'gap':
        this.resyncs.gapSeen(frame.stream);
        return false;
      case 'stale':
        return false;
    }
  }
}

function toMessage({ kind: _kind, seq: _seq, ...message }: MsgFrame): Message {
  return message;
}
