import { FrameKind, encodeFrame, inboxStream, type DirectMessage, type MsgFrame, type Publication } from '../protocol/index.js';

/**
 * MSG bytes for a topic publication, encoded once for all its subscribers. `offset` 0: not
 * stored; a stored message carries its epoch and delivery count 1 (redeliveries are encoded apart).
 */
export function encodeTopicMessage(publication: Publication, offset = 0, epoch?: string): Uint8Array {
  return encodeFrame(liveMessage(publication.topic, publication, offset, epoch));
}

/** MSG bytes for a point-to-point message, on its target's inbox stream. */
export function encodeDirectMessage(message: DirectMessage, offset = 0, epoch?: string): Uint8Array {
  return encodeFrame(liveMessage(inboxStream(message.target), message, offset, epoch));
}

/** Optional fields set in place: no object spreads on the per-message path. */
function liveMessage(stream: string, message: Publication | DirectMessage, offset: number, epoch: string | undefined): MsgFrame {
  const frame: MsgFrame = { kind: FrameKind.MSG, seq: 0, stream, offset, payload: message.payload, traceId: message.traceId, qos: message.qos };
  if (message.from !== undefined) frame.from = message.from;
  if (epoch !== undefined) {
    frame.epoch = epoch;
    frame.delivery = 1;
  }
  if (message.hops) frame.hops = message.hops;
  if (message.props) frame.props = message.props;
  return frame;
}
