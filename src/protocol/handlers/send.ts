import { ErrorCode, ProtocolError } from '../errors.js';
import type { FrameKind } from '../frames.js';
import type { Handler } from '../registry.js';
import { deviceIdProblem } from '../topics.js';
import { ok } from './reply.js';

export const handleSend: Handler<FrameKind.SEND> = (frame, { session, broker }) => {
  const problem = deviceIdProblem(frame.target);
  if (problem) throw new ProtocolError(ErrorCode.INVALID_FIELD, `target: ${problem}`);
  const qos = frame.qos ?? 0;
  // Not awaited: the next frames go on while this one commits; the store keeps call order.
  const stored = Promise.resolve(broker.send({
    target: frame.target,
    payload: frame.payload,
    qos,
    traceId: frame.traceId ?? broker.newTraceId(),
    from: session.deviceId,
  }));
  return [{ type: 'later', ref: frame.seq, effects: stored.then((s) => (qos === 1 ? [ok(frame.seq, s?.offset)] : [])) }];
};
