import type { FrameKind } from '../frames.js';
import type { Handler } from '../registry.js';

export const handleResync: Handler<FrameKind.RESYNC> = (frame, { broker }) => {
  broker.resync(frame.stream, frame.offset);
  return [];
};
