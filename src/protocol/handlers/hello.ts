import { CloseCode, ErrorCode, ProtocolError } from '../errors.js';
import { FrameKind, type HelloFrame } from '../frames.js';
import type { HandshakeEffect, HandshakePort } from '../ports.js';
import type { Handler } from '../registry.js';
import { deviceIdProblem } from '../topics.js';
import { negotiateVersion } from '../versions.js';

/**
 * The first frame of a connection: negotiates the version, checks the device id and the
 * credentials, then admits the device and welcomes it (in that order: WELCOME is the first
 * frame the device receives). A refusal is an ERROR for the HELLO and a close.
 */
export async function handleHello<Grant extends { ok: true }>(frame: HelloFrame, port: HandshakePort<Grant>): Promise<HandshakeEffect<Grant>[]> {
  const version = negotiateVersion(frame.versions, port.versions);
  if (version === undefined) {
    return refuse(frame.seq, ErrorCode.UNSUPPORTED_VERSION, `server speaks versions ${port.versions.join(', ')}`, CloseCode.UNSUPPORTED_VERSION, 'no common protocol version');
  }
  const idProblem = deviceIdProblem(frame.deviceId);
  if (idProblem) return refuse(frame.seq, ErrorCode.INVALID_FIELD, idProblem, CloseCode.PROTOCOL_VIOLATION, 'invalid device id');
  const verdict = await port.authenticate(frame);
  if (!verdict.ok) return refuse(frame.seq, ErrorCode.UNAUTHORIZED, verdict.reason, CloseCode.UNAUTHORIZED, 'unauthorized');
  // Asked before admitting: a connection taken over saves its session on the way out.
  const sessionPresent = port.hasSession(frame.deviceId);
  const sessionId = port.newSessionId();
  return [
    { type: 'admit', hello: frame, version, sessionId, grant: verdict },
    { type: 'send', frame: { kind: FrameKind.WELCOME, seq: frame.seq, version, sessionId, ...port.limits, sessionPresent } },
  ];
}

function refuse(ref: number, code: ErrorCode, message: string, closeCode: CloseCode, closeReason: string): HandshakeEffect<never>[] {
  return [
    { type: 'send', frame: { kind: FrameKind.ERROR, seq: 0, code, message, ref } },
    { type: 'close', code: closeCode, reason: closeReason },
  ];
}

/** HELLO is handled by the handshake; a second one on a live session is a client bug. */
export const handleRepeatedHello: Handler<FrameKind.HELLO> = () => {
  throw new ProtocolError(ErrorCode.PROTOCOL_VIOLATION, 'HELLO was already accepted on this connection');
};
