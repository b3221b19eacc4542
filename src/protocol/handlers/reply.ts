import { FrameKind, type OkFrame } from '../frames.js';
import type { Effect } from '../ports.js';

/** The OK frame confirming request `ref`. */
export function ok(ref: number, offset?: number): Effect {
  const frame: OkFrame = { kind: FrameKind.OK, seq: 0, ref };
  if (offset !== undefined) frame.offset = offset;
  return { type: 'send', frame };
}
