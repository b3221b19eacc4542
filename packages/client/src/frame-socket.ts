import { closeReason, decodeFrame, ErrorCode, type Frame } from '../../../src/protocol/index.js';
import { RelaymeshError } from './errors.js';
import { WEBSOCKET_OPEN, type WebSocketConstructor, type WebSocketLike } from './websocket.js';

export interface FrameSocketEvents {
  open(): void;
  frame(frame: Frame): void;
  /** An inbound message that is not a valid frame. The socket stays open. */
  badFrame(error: RelaymeshError): void;
  /** Fires exactly once per socket, whichever way it ended. */
  close(code: number, reason: string): void;
}

/** Close code reported when the socket could not be created or ended without a close frame. */
const ABNORMAL_CLOSURE = 1006;

/** One WebSocket carrying binary frames: decodes what comes in and reports the end once. */
export class FrameSocket {
  private readonly socket: WebSocketLike | undefined;
  private ended = false;

  constructor(WebSocket: WebSocketConstructor, url: string, private readonly events: FrameSocketEvents) {
    try {
      this.socket = new WebSocket(url);
    } catch (error) {
      // Report asynchronously, like a refused connection, so callers have one failure path.
      queueMicrotask(() => this.end(ABNORMAL_CLOSURE, `cannot open ${url}: ${(error as Error).message}`));
      return;
    }
    this.socket.binaryType = 'arraybuffer';
    // Listeners stay attached after end(): `ws` throws on an 'error' event nobody listens to.
    this.socket.addEventListener('open', () => {
      if (!this.ended) events.open();
    });
    this.socket.addEventListener('error', () => {
      // Always followed by 'close', which carries the code.
    });
    this.socket.addEventListener('message', (event) => {
      if (!this.ended) this.receive(event.data);
    });
    this.socket.addEventListener('close', (event) => this.end(event.code, event.reason));
  }

  get isOpen(): boolean {
    return !this.ended && this.socket?.readyState === WEBSOCKET_OPEN;
  }

  send(bytes: Uint8Array): void {
    if (this.isOpen) this.socket?.send(bytes);
  }

  /** Starts the closing handshake; `close` fires when the peer answers. */
  close(code: number, reason: string): void {
    this.socket?.close(code, closeReason(reason));
  }

  /** Gives up on the socket now (dead peer, handshake timeout): `close` fires synchronously. */
  abort(code: number, reason: string): void {
    if (this.ended) return;
    if (this.socket?.terminate) this.socket.terminate();
    else this.socket?.close(code, closeReason(reason));
    this.end(code, reason);
  }

  private receive(data: unknown): void {
    if (!(data instanceof ArrayBuffer)) {
      this.events.badFrame(new RelaymeshError(ErrorCode.MALFORMED_FRAME, 'broker sent a text message; the protocol uses binary frames only'));
      return;
    }
    const result = decodeFrame(new Uint8Array(data));
    if (result.ok) this.events.frame(result.frame);
    else this.events.badFrame(new RelaymeshError(result.code, `broker sent a bad frame: ${result.message}`));
  }

  private end(code: number, reason: string): void {
    if (this.ended) return;
    this.ended = true;
    this.events.close(code, reason);
  }
}
