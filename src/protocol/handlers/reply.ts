import { FrameKind, type OkFrame, type Qos } from '../frames.js';
import type { Effect, Stored } from '../ports.js';

/** The OK frame confirming request `ref`. */
export function ok(ref: number, offset?: number): Effect {
  const frame: OkFrame = { kind: FrameKind.OK, seq: 0, ref };
  if (offset !== undefined) frame.offset = offset;
  return { type: 'send', frame };
}

/**
 * The reply to a PUB or SEND that is being stored and routed: nothing for QoS 0 (unless it
 * fails), OK with the stored offset for QoS 1 once committed. Not awaited by the handler, so
 * the device's next frames go on meanwhile; the store keeps call order.
 */
export function acceptance(ref: number, qos: Qos, stored: Stored | undefined | Promise<Stored | undefined>): Effect[] {
  // Already done (a QoS 0 publish delivered in this call): nothing to wait for, nothing to say.
  if (qos === 0 && !(stored instanceof Promise)) return [];
  const effects = Promise.resolve(stored).then((s) => (qos === 1 ? [ok(ref, s?.offset)] : []));
  return [{ type: 'later', ref, effects }];
}
