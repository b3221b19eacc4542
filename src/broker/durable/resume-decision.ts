import type { StreamPosition } from '../../protocol/index.js';
import type { StreamHead } from '../../store/index.js';

/** RESET reasons, the same at resume and during delivery. */
export const EPOCH_CHANGED = 'the stream was reset: its epoch changed';
export const RETENTION_GAP = 'retention removed messages after your position';

/** Where delivery of one stream starts when a device connects. */
export type ResumeDecision =
  /** The stream never held anything: nothing to deliver, no state to keep. */
  | { action: 'skip' }
  /** Deliver what follows `after` (the offset the device is known to hold). */
  | { action: 'deliver'; after: number }
  /** Tell the device with RESET that it holds `{epoch, offset: after}` now, then deliver what follows. */
  | { action: 'reset'; after: number; epoch: string; reason: string };

/**
 * Decides how a stream resumes from the device's stored cursor and the position the client
 * sent (if any), against the stream's head and retention:
 * - a position under another epoch means the client's history is gone: RESET to the oldest retained entry;
 * - a position ahead of the cursor (and not past the head) skips what the client already holds;
 * - a start before the oldest retained entry (retention removed some) is answered with RESET.
 */
export function decideResume(head: StreamHead, cursor: number, position: StreamPosition | undefined): ResumeDecision {
  if (head.lastOffset === 0 && head.epoch === '') return { action: 'skip' };
  const beforeOldest = head.firstOffset - 1;
  if (position && position.epoch !== '' && position.epoch !== head.epoch) {
    return { action: 'reset', after: Math.max(cursor, beforeOldest), epoch: head.epoch, reason: EPOCH_CHANGED };
  }
  const after = position && position.offset > cursor && position.offset <= head.lastOffset ? position.offset : cursor;
  // Only while entries remain: a stream pruned empty has nothing to skip to.
  if (after < beforeOldest && head.firstOffset <= head.lastOffset) {
    return { action: 'reset', after: beforeOldest, epoch: head.epoch, reason: RETENTION_GAP };
  }
  return { action: 'deliver', after };
}
