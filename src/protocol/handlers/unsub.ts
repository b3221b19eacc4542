import type { FrameKind } from '../frames.js';
import type { Handler } from '../registry.js';
import { ok } from './reply.js';

export const handleUnsub: Handler<FrameKind.UNSUB> = async (frame, { session, broker }) => {
  await broker.unsubscribe(frame.filters);
  for (const filter of frame.filters) session.subscriptions.delete(filter);
  return [ok(frame.seq)];
};
