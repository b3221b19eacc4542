import { FrameKind } from '../frames.js';
import type { Handler } from '../registry.js';

export const handlePing: Handler<FrameKind.PING> = (frame) => [
  { type: 'send', frame: { kind: FrameKind.PONG, seq: frame.seq, ts: frame.ts } },
];
