import { FrameKind, encodeFrame, inboxStream, type DirectMessage, type Publication } from '../protocol/index.js';

/**
 * MSG bytes for a topic publication, encoded once for all its subscribers. `offset` 0: not
 * stored; a stored message carries its epoch and delivery count 1 (redeliveries are encoded apart).
 */
export function encodeTopicMessage(publication: Publication, offset = 0, epoch?: string): Uint8Array {
  return encodeFrame({
    kind: FrameKind.MSG,
    seq: 0,
    stream: publication.topic,
    offset,
    payload: publication.payload,
    traceId: publication.traceId,
    qos: publication.qos,
    ...(publication.from !== undefined ? { from: publication.from } : {}),
    ...(epoch !== undefined ? { epoch, delivery: 1 } : {}),
    ...(publication.hops ? { hops: publication.hops } : {}),
  });
}

/** MSG bytes for a point-to-point message, on its target's inbox stream. */
export function encodeDirectMessage(message: DirectMessage, offset = 0, epoch?: string): Uint8Array {
  return encodeFrame({
    kind: FrameKind.MSG,
    seq: 0,
    stream: inboxStream(message.target),
    offset,
    payload: message.payload,
    traceId: message.traceId,
    qos: message.qos,
    ...(message.from !== undefined ? { from: message.from } : {}),
    ...(epoch !== undefined ? { epoch, delivery: 1 } : {}),
    ...(message.hops ? { hops: message.hops } : {}),
  });
}
