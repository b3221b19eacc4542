import type { FrameKind } from '../frames.js';
import type { Handler } from '../registry.js';

export const handleAck: Handler<FrameKind.ACK> = async (frame, { broker }) => {
  await broker.ack(frame.stream, frame.offset);
  return [];
};
