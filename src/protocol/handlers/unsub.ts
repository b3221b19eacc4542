import type { FrameKind } from '../frames.js';
import type { Handler } from '../registry.js';
import { ok } from './reply.js';

export const handleUnsub: Handler<FrameKind.UNSUB> = async (frame, { broker }) => {
  await broker.unsubscribe(frame.filters);
  return [ok(frame.seq)];
};
