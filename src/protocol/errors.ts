/**
 * One table of numbered error codes (in ERROR frames) and WebSocket close codes,
 * shared by broker and client. Ranges carry meaning so a client can decide
 * without knowing every code.
 */

/** Error codes carried in ERROR frames. 1xx: the frame was bad; 2xx: not allowed; 3xx: limits; 5xx: broker side. */
export enum ErrorCode {
  UNSUPPORTED_VERSION = 100,
  UNKNOWN_COMMAND = 101,
  MALFORMED_FRAME = 102,
  INVALID_FIELD = 103,
  PROTOCOL_VIOLATION = 104,
  INVALID_TOPIC = 105,
  UNAUTHORIZED = 200,
  FORBIDDEN = 201,
  TOO_LARGE = 300,
  RATE_LIMITED = 301,
  TOO_MANY_SUBSCRIPTIONS = 302,
  INBOX_FULL = 303,
  INTERNAL = 500,
  UNAVAILABLE = 501,
}

/**
 * WebSocket close codes. 4000–4499: transient, the client should reconnect (with backoff).
 * 4500–4999: terminal, reconnecting with the same input would fail the same way.
 */
export enum CloseCode {
  NORMAL = 1000,
  SHUTTING_DOWN = 4000,
  HEARTBEAT_TIMEOUT = 4001,
  SLOW_CONSUMER = 4002,
  HANDSHAKE_TIMEOUT = 4003,
  INTERNAL_ERROR = 4004,
  KICKED = 4005,
  TOO_MANY_CONNECTIONS = 4006,
  UNSUPPORTED_VERSION = 4500,
  UNAUTHORIZED = 4501,
  SESSION_TAKEN_OVER = 4502,
  PROTOCOL_VIOLATION = 4503,
  TOKEN_EXPIRED = 4504,
  ABUSE = 4505,
}

/** Whether a client that was closed with `code` should try to reconnect. */
export function shouldReconnect(code: number): boolean {
  if (code >= 4500 && code <= 4999) return false;
  return true;
}

/** Error raised by handlers; the connection turns it into an ERROR frame. */
export class ProtocolError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'ProtocolError';
  }
}
