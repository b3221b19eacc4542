import { FrameKind, OutgoingMsg, encodeFrame, type MessageProperties, type MsgFrame, type Qos } from '../protocol/index.js';
import type { NewEntry } from '../store/index.js';

/** What every MSG carries of its message, live or from the store (a Publication, DirectMessage or StoredEntry). */
type MessageBody = Pick<NewEntry, 'payload' | 'traceId' | 'from' | 'hops' | 'props' | 'retain'>;

/**
 * The one builder of MSG bytes, for live delivery, replay and redelivery alike. `epoch`
 * undefined: the message was not stored (offset 0); a stored one carries its epoch and its
 * delivery count (1 the first time). `props` are the message's own unless a replay passes
 * them as of now (a message expiry counts down). Optional fields are set in place: no object
 * spreads on the per-message path.
 */
export function encodeMsg(stream: string, body: MessageBody, qos: Qos, offset: number, epoch?: string, delivery = 1, props: MessageProperties | undefined = body.props): Uint8Array {
  return encodeFrame(msgFrame(stream, body, qos, offset, epoch, delivery, props));
}

/** A live QoS 0 MSG for the fan-out and QoS 0 sends: encoded only for the receivers that need the bytes. */
export function liveMsg(stream: string, body: MessageBody, offset = 0, epoch?: string): OutgoingMsg {
  return new OutgoingMsg(msgFrame(stream, body, 0, offset, epoch, 1, body.props));
}

function msgFrame(stream: string, body: MessageBody, qos: Qos, offset: number, epoch: string | undefined, delivery: number, props: MessageProperties | undefined): MsgFrame {
  const frame: MsgFrame = { kind: FrameKind.MSG, seq: 0, stream, offset, payload: body.payload, traceId: body.traceId, qos };
  if (body.from !== undefined) frame.from = body.from;
  if (epoch !== undefined) {
    frame.epoch = epoch;
    frame.delivery = delivery;
  }
  if (body.hops !== undefined) frame.hops = body.hops;
  if (props !== undefined) frame.props = props;
  if (body.retain) frame.retain = true;
  return frame;
}

/** RESET bytes: the device now holds `stream` up to `offset` under `epoch`; `reason` says why. */
export function encodeReset(stream: string, epoch: string, offset: number, reason: string): Uint8Array {
  return encodeFrame({ kind: FrameKind.RESET, seq: 0, stream, epoch, offset, reason });
}
