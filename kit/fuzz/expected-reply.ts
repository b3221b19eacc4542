/**
 * The oracle: what the broker must answer to one WebSocket message, worked out from the same
 * decoder and command registry the broker uses, and the order of its gateway's checks
 * (transport size limit, text vs binary, frame size, decoding, handshake phase, command lookup).
 */
import { CloseCode, ErrorCode, FrameKind, decodeFrame, deviceIdProblem, negotiateVersion, type Frame, type HelloFrame } from '../../src/protocol/index.js';
import { createDefaultRegistry } from '../../src/protocol/handlers/index.js';

export interface FrameLimits {
  /** The broker's maxFrameBytes: larger frames are refused with TOO_LARGE. */
  maxFrameBytes: number;
  /** The transport's limit (4 × maxFrameBytes): larger messages make uWS close the socket. */
  maxMessageBytes: number;
}

export function limitsFor(maxFrameBytes: number): FrameLimits {
  return { maxFrameBytes, maxMessageBytes: maxFrameBytes * 4 };
}

/** Where the connection stands: before HELLO, or a live session. */
export type Phase = 'handshake' | 'ready';

export type Expected =
  /** The transport closes the socket without a word (WebSocket 1009). */
  | { outcome: 'dropped' }
  /** An ERROR frame with this code and ref; with `close`, the socket is then closed with that code. */
  | { outcome: 'error'; code: ErrorCode; ref: number | undefined; close?: CloseCode }
  /** A HELLO the broker accepts: WELCOME follows. */
  | { outcome: 'welcome'; hello: HelloFrame }
  /** A command the device actor runs: whatever it answers, never INTERNAL. */
  | { outcome: 'command'; frame: Frame }
  /** An ERROR with one of these codes, when the answer cannot be told in advance (see DEEP_NESTING). */
  | { outcome: 'any-error'; codes: readonly ErrorCode[] };

const registry = createDefaultRegistry();
const SERVER_VERSIONS = registry.versions();

export function expectedReply(message: Uint8Array | string, phase: Phase, limits: FrameLimits): Expected {
  const size = typeof message === 'string' ? Buffer.byteLength(message) : message.byteLength;
  if (size > limits.maxMessageBytes) return { outcome: 'dropped' };
  const refuse = (code: ErrorCode, ref?: number): Expected =>
    phase === 'handshake' ? { outcome: 'error', code, ref, close: CloseCode.PROTOCOL_VIOLATION } : { outcome: 'error', code, ref };
  if (typeof message === 'string') return refuse(ErrorCode.MALFORMED_FRAME);
  if (size > limits.maxFrameBytes) return refuse(ErrorCode.TOO_LARGE);
  const decoded = decodeFrame(message);
  if (!decoded.ok) return refuse(decoded.code, decoded.seq);
  const frame = decoded.frame;
  if (phase === 'handshake') {
    if (frame.kind !== FrameKind.HELLO) return { outcome: 'error', code: ErrorCode.PROTOCOL_VIOLATION, ref: frame.seq, close: CloseCode.PROTOCOL_VIOLATION };
    if (negotiateVersion(frame.versions, SERVER_VERSIONS) === undefined) {
      return { outcome: 'error', code: ErrorCode.UNSUPPORTED_VERSION, ref: frame.seq, close: CloseCode.UNSUPPORTED_VERSION };
    }
    if (deviceIdProblem(frame.deviceId)) return { outcome: 'error', code: ErrorCode.INVALID_FIELD, ref: frame.seq, close: CloseCode.PROTOCOL_VIOLATION };
    return { outcome: 'welcome', hello: frame };
  }
  if (frame.kind === FrameKind.HELLO) return { outcome: 'error', code: ErrorCode.PROTOCOL_VIOLATION, ref: frame.seq };
  if (!registry.lookup(1, frame.kind)) return { outcome: 'error', code: ErrorCode.UNKNOWN_COMMAND, ref: frame.seq };
  return { outcome: 'command', frame };
}

/**
 * A message nested thousands of levels deep: the decoder gives up where the V8 stack runs out,
 * and how deep that is depends on JIT state (2,900 to 12,000+ levels measured here), so the
 * answer is the stack overflow's MALFORMED_FRAME or what a decoder with stack to spare says
 * (INVALID_FIELD, or UNKNOWN_COMMAND for a kind without a layout). Either way an ERROR.
 */
export const DEEP_NESTING: Expected = {
  outcome: 'any-error',
  codes: [ErrorCode.MALFORMED_FRAME, ErrorCode.INVALID_FIELD, ErrorCode.UNKNOWN_COMMAND],
};

/** Whether a close code is one the broker may use for bad input: a WebSocket (1xxx) or relaymesh (4xxx) code. */
export function isAllowedCloseCode(code: number): boolean {
  return (code >= 1000 && code <= 1999) || (code >= 4000 && code <= 4999);
}
