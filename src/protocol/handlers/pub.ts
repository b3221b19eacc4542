import { ErrorCode, ProtocolError } from '../errors.js';
import type { FrameKind } from '../frames.js';
import type { Publication } from '../ports.js';
import type { Handler } from '../registry.js';
import { topicNameProblem } from '../topics.js';
import { acceptance } from './reply.js';

export const handlePub: Handler<FrameKind.PUB> = (frame, { session, broker }) => {
  const problem = topicNameProblem(frame.topic);
  if (problem) throw new ProtocolError(ErrorCode.INVALID_TOPIC, `${JSON.stringify(frame.topic)}: ${problem}`);
  const qos = frame.qos ?? 0;
  const traceId = frame.traceId ?? broker.newTraceId();
  const publication: Publication = { topic: frame.topic, payload: frame.payload, qos, traceId, from: session.deviceId };
  if (frame.props) publication.props = frame.props;
  if (frame.retain) publication.retain = true;
  return acceptance(frame.seq, qos, broker.publish(publication));
};
