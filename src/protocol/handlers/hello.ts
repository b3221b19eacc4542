import { ErrorCode, ProtocolError } from '../errors.js';
import type { FrameKind } from '../frames.js';
import type { Handler } from '../registry.js';

/** HELLO is handled by the handshake; a second one on a live session is a client bug. */
export const handleRepeatedHello: Handler<FrameKind.HELLO> = () => {
  throw new ProtocolError(ErrorCode.PROTOCOL_VIOLATION, 'HELLO was already accepted on this connection');
};
