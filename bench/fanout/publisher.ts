import { nowUs } from './clock.js';
import type { PublishPlan, PublishResult } from './messages.js';
import { stampedPayload } from './payload.js';

/** Where the publisher's messages go: the broker, uWS's own pub/sub, or a corked send loop. */
export interface PublishSink {
  publish(payload: Buffer): void;
  /** The publishes of this event-loop tick are done. */
  endTick(): void;
}

/**
 * Publishes `plan.messages` stamped payloads. burst: `burstSize` per setImmediate, as fast as
 * the event loop turns; paced: one per tick at `rateHz`, scheduled on absolute times so a
 * slow tick does not lower the rate. Bounded by count and by `deadlineMs`.
 */
export function runPublisher(plan: PublishPlan, sink: PublishSink): Promise<PublishResult> {
  const startedAt = Date.now();
  let seq = 0;
  let firstUs = 0;
  let lastUs = 0;
  const publishOne = (): void => {
    const payload = stampedPayload(plan.payloadBytes, plan.runId, seq++);
    if (seq === 1) firstUs = nowUs();
    sink.publish(payload);
  };
  const finished = (): PublishResult => ({ published: seq, firstUs, lastUs });
  const overDeadline = (): boolean => Date.now() - startedAt > plan.deadlineMs;

  return new Promise((resolve) => {
    if (plan.pattern === 'burst') {
      const tick = (): void => {
        const end = Math.min(plan.messages, seq + plan.burstSize);
        while (seq < end) publishOne();
        sink.endTick();
        lastUs = nowUs();
        if (seq >= plan.messages || overDeadline()) resolve(finished());
        else setImmediate(tick);
      };
      setImmediate(tick);
      return;
    }
    const intervalMs = 1000 / plan.rateHz;
    const t0 = performance.now();
    const tick = (): void => {
      publishOne();
      sink.endTick();
      lastUs = nowUs();
      if (seq >= plan.messages || overDeadline()) return resolve(finished());
      const due = t0 + seq * intervalMs;
      setTimeout(tick, Math.max(0, due - performance.now()));
    };
    tick();
  });
}
