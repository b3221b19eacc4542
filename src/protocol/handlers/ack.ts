import type { FrameKind } from '../frames.js';
import type { Handler } from '../registry.js';

/** Synchronous when the broker applies the ACK at once: a device's burst of ACKs is handled in one pass of its mailbox. */
export const handleAck: Handler<FrameKind.ACK> = (frame, { broker }) => {
  const applied = broker.ack(frame.stream, frame.offset);
  return applied ? applied.then(() => []) : [];
};
