import { ErrorCode, ProtocolError } from '../errors.js';
import type { FrameKind } from '../frames.js';
import type { Handler } from '../registry.js';
import { deviceIdProblem } from '../topics.js';
import { acceptance } from './reply.js';

export const handleSend: Handler<FrameKind.SEND> = (frame, { session, broker }) => {
  const problem = deviceIdProblem(frame.target);
  if (problem) throw new ProtocolError(ErrorCode.INVALID_FIELD, `target: ${problem}`);
  const qos = frame.qos ?? 0;
  const traceId = frame.traceId ?? broker.newTraceId();
  return acceptance(frame.seq, qos, broker.send({ target: frame.target, payload: frame.payload, qos, traceId, from: session.deviceId, ...(frame.props ? { props: frame.props } : {}) }));
};
