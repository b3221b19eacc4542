import { ErrorCode, ProtocolError } from '../errors.js';
import type { FrameKind } from '../frames.js';
import type { Handler } from '../registry.js';
import { topicFilterProblem } from '../topics.js';
import { ok } from './reply.js';

export const handleSub: Handler<FrameKind.SUB> = async (frame, { broker }) => {
  for (const filter of frame.filters) {
    const problem = topicFilterProblem(filter);
    if (problem) throw new ProtocolError(ErrorCode.INVALID_TOPIC, `${JSON.stringify(filter)}: ${problem}`);
  }
  const qos = frame.qos ?? 0;
  await broker.subscribe(frame.filters, qos);
  return [ok(frame.seq)];
};
