import { ErrorCode, ProtocolError } from '../errors.js';
import type { FrameKind } from '../frames.js';
import type { Handler } from '../registry.js';
import { deviceIdProblem } from '../topics.js';
import { ok } from './reply.js';

export const handleSend: Handler<FrameKind.SEND> = async (frame, { session, broker }) => {
  const problem = deviceIdProblem(frame.target);
  if (problem) throw new ProtocolError(ErrorCode.INVALID_FIELD, `target: ${problem}`);
  const qos = frame.qos ?? 0;
  const stored = await broker.send({
    target: frame.target,
    payload: frame.payload,
    qos,
    traceId: frame.traceId ?? broker.newTraceId(),
    from: session.deviceId,
  });
  return qos === 1 ? [ok(frame.seq, stored?.offset)] : [];
};
