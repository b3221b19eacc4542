import type { FrameKind } from '../frames.js';
import type { Handler } from '../registry.js';
import { ok } from './reply.js';

export const handleAuth: Handler<FrameKind.AUTH> = async (frame, { broker }) => {
  await broker.reauthenticate(frame.token);
  return [ok(frame.seq)];
};
