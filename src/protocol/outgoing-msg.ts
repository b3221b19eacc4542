import { encodeFrame } from './codec.js';
import type { MsgFrame } from './frames.js';
import type { Outbound } from './ports.js';

/**
 * A live MSG on its way to its receivers: the frame itself, and each wire encoding of it made
 * at most once, when the first receiver that speaks that wire needs it. An MQTT receiver reads
 * the frame and never pays for (nor decodes) the relaymesh bytes; relaymesh receivers share one
 * encoding, as before.
 */
export class OutgoingMsg {
  private relaymesh: Uint8Array | undefined;
  /** Another protocol's encoding (e.g. an MQTT PUBLISH of one version), and the encoder that made it. */
  private otherEncoder: ((frame: MsgFrame) => Uint8Array) | undefined;
  private other: Uint8Array | undefined;

  constructor(readonly frame: MsgFrame) {}

  /** The relaymesh wire bytes. */
  get bytes(): Uint8Array {
    return (this.relaymesh ??= encodeFrame(this.frame));
  }

  /**
   * What `encode` (one function per wire format) makes of this message, made once: a message
   * mostly goes to receivers of one format, so one slot is kept, never a map per message.
   */
  encodedBy(encode: (frame: MsgFrame) => Uint8Array): Uint8Array {
    if (this.otherEncoder !== encode) {
      this.other = encode(this.frame);
      this.otherEncoder = encode;
    }
    return this.other!;
  }
}

/** Queues a live QoS 0 `msg` on `conn` (droppable): as the frame where the receiver takes it, else as relaymesh bytes. */
export function deliverLive(conn: Outbound, msg: OutgoingMsg): void {
  if (conn.deliver) conn.deliver(msg);
  else conn.write(msg.bytes, true);
}
