import { encodeFrame, ErrorCode, type ErrorFrame, type Frame, type OkFrame } from '../../../src/protocol/index.js';
import { DisconnectedError, RelaymeshError } from './errors.js';
import type { LinkState } from './reconnecting-link.js';
import { PendingRequests, type Reply } from './requests.js';

/** The part of the link requests travel over. */
export interface RequestLink {
  readonly state: LinkState;
  readonly writable: boolean;
  write(bytes: Uint8Array): void;
}

/**
 * Requests from call to reply: checked, queued while the socket is still opening, written
 * after HELLO, then in flight until their OK, ERROR, deadline, or the connection's end.
 */
export class RequestPipeline {
  private readonly pending = new PendingRequests();
  /** Requests made while the socket was still opening; written right after HELLO. */
  private queued: { bytes: Uint8Array; written: (() => void) | undefined }[] = [];
  /** close() was called: requests in flight finish, new ones are refused. */
  private draining = false;

  constructor(
    private readonly link: RequestLink,
    private readonly timeoutMs: number,
  ) {}

  nextSeq(): number {
    return this.pending.nextSeq();
  }

  /**
   * Sends `frame` and resolves with the broker's reply, or, with `settleOnWrite` (QoS 0), as
   * soon as it is written. `maxFrameBytes` is the WELCOME's limit, once known.
   */
  send(frame: Frame, what: string, settleOnWrite: boolean, maxFrameBytes: number | undefined): Promise<Reply> {
    const notReady = this.whyNotAccepting();
    if (notReady) return Promise.reject(notReady);
    const bytes = encodeFrame(frame);
    if (maxFrameBytes && bytes.byteLength > maxFrameBytes) {
      return Promise.reject(new RelaymeshError(ErrorCode.TOO_LARGE, `${what} is ${bytes.byteLength} bytes; the broker takes at most ${maxFrameBytes}`));
    }
    const reply = this.pending.track(frame.seq, what, this.timeoutMs);
    const written = settleOnWrite ? () => void this.pending.resolve(frame.seq, {}) : undefined;
    if (this.link.writable) {
      this.link.write(bytes);
      written?.();
    } else {
      this.queued.push({ bytes, written });
    }
    return reply;
  }

  /** HELLO is out: write what was asked for meanwhile, in order. */
  flushQueued(): void {
    const queued = this.queued;
    this.queued = [];
    for (const { bytes, written } of queued) {
      this.link.write(bytes);
      written?.();
    }
  }

  /** Refuses new requests from now on; resolves once every request in flight has its reply (or failed). */
  drain(): Promise<void> {
    this.draining = true;
    return this.pending.settled();
  }

  /** The connection ended: nothing is replayed on the next one, every request fails now. */
  abandonAll(error: DisconnectedError): void {
    this.queued = [];
    this.pending.rejectAll(error);
  }

  settleOk(frame: OkFrame): void {
    // An unknown ref is a reply that arrived after its request timed out: nobody waits for it.
    this.pending.resolve(frame.ref, frame.offset === undefined ? {} : { offset: frame.offset });
  }

  /** Rejects the request the ERROR names; returns the error when no request claims it. */
  settleError(frame: ErrorFrame): RelaymeshError | undefined {
    const error = new RelaymeshError(frame.code, frame.message, frame.ref);
    return frame.ref !== undefined && this.pending.reject(frame.ref, error) ? undefined : error;
  }

  /** Requests are taken from the moment a socket is being dialled; queuing across reconnects would replay stale intent. */
  private whyNotAccepting(): DisconnectedError | undefined {
    if (this.draining) return new DisconnectedError('client is closed');
    switch (this.link.state) {
      case 'opening':
      case 'handshaking':
      case 'live':
        return undefined;
      case 'idle':
        return new DisconnectedError('not connected: call connect() first');
      case 'waiting':
        return new DisconnectedError('not connected: waiting to reconnect');
      case 'closing':
      case 'closed':
        return new DisconnectedError('client is closed');
    }
  }
}
