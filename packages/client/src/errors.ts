import type { ErrorCode } from '../../../src/protocol/index.js';

/**
 * The errors the SDK rejects promises with. Three classes, told apart with `instanceof`:
 * the broker (or a local check of the same rule) refused; the connection went away; no reply came.
 */

/** A request was refused, by the broker (ERROR frame) or by the same check done locally before sending. */
export class RelaymeshError extends Error {
  override readonly name = 'RelaymeshError';

  constructor(
    readonly code: ErrorCode,
    message: string,
    /** seq of the request the broker refused, when the broker named one. */
    readonly ref?: number,
  ) {
    super(message);
  }
}

/** The request could not complete because the client is not connected, or the connection closed under it. */
export class DisconnectedError extends Error {
  override readonly name = 'DisconnectedError';

  constructor(
    message: string,
    /** WebSocket close code, when a connection closed. */
    readonly closeCode?: number,
  ) {
    super(message);
  }
}

/** No reply came within `requestTimeoutMs` (or no WELCOME within it, for a connection attempt). */
export class TimeoutError extends Error {
  override readonly name = 'TimeoutError';

  constructor(
    message: string,
    readonly timeoutMs: number,
  ) {
    super(message);
  }
}

