import WebSocket from 'ws';
import { FrameKind, decodeFrame, encodeFrame, type Frame } from '../../src/protocol/index.js';

/**
 * A WebSocket that sends whatever bytes it is given and records everything the broker answers,
 * including a broker frame it cannot decode and the close code. Every wait is bounded.
 */
export class ProbeSocket {
  /** Server frames that did not decode: a broker bug, since the broker encodes every frame. */
  readonly undecodable: Uint8Array[] = [];
  closeEvent: { code: number; reason: string } | undefined;
  private frames: Frame[] = [];
  private readonly changed = new Set<() => void>();

  private constructor(private readonly ws: WebSocket) {
    ws.on('message', (data: Buffer) => {
      const decoded = decodeFrame(data);
      if (decoded.ok) this.frames.push(decoded.frame);
      else this.undecodable.push(new Uint8Array(data));
      this.notify();
    });
    ws.on('close', (code, reason) => {
      this.closeEvent = { code, reason: reason.toString() };
      this.notify();
    });
    // A send racing the broker's close fails with EPIPE/ECONNRESET; the close event tells the story.
    ws.on('error', () => undefined);
  }

  /** Opens a socket without saying HELLO. */
  static open(url: string, timeoutMs: number): Promise<ProbeSocket> {
    const ws = new WebSocket(url);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        ws.terminate();
        reject(new Error(`no WebSocket open within ${timeoutMs} ms`));
      }, timeoutMs);
      ws.once('open', () => {
        clearTimeout(timer);
        resolve(new ProbeSocket(ws));
      });
      ws.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
    });
  }

  /** Opens a socket and completes HELLO → WELCOME as `deviceId`. */
  static async connect(url: string, deviceId: string, timeoutMs: number): Promise<ProbeSocket> {
    const socket = await ProbeSocket.open(url, timeoutMs);
    socket.send(encodeFrame({ kind: FrameKind.HELLO, seq: 1, versions: [1], deviceId }));
    if ((await socket.until((f) => f.kind === FrameKind.WELCOME, timeoutMs)) !== 'matched') {
      socket.terminate();
      throw new Error(`no WELCOME for ${deviceId} within ${timeoutMs} ms (close: ${JSON.stringify(socket.closeEvent)})`);
    }
    // Keep what came with the WELCOME (replayed messages, say): only the WELCOME is consumed.
    socket.frames = socket.frames.filter((f) => f.kind !== FrameKind.WELCOME);
    return socket;
  }

  get closed(): boolean {
    return this.closeEvent !== undefined || this.ws.readyState >= WebSocket.CLOSING;
  }

  /** Sends bytes as a binary message, a string as a text message. Nothing once closed. */
  send(message: Uint8Array | string): void {
    if (this.ws.readyState !== WebSocket.OPEN) return;
    this.ws.send(message, { binary: typeof message !== 'string' });
  }

  /**
   * Sends PING `seq` and waits for its PONG (or an ERROR refusing it, such as RATE_LIMITED). Frames
   * are handled in order, so by then every earlier frame has had its synchronous answer (only the
   * OK of a QoS 1 PUB/SEND may come later).
   */
  sync(seq: number, timeoutMs: number): Promise<'answered' | 'closed' | 'timeout'> {
    this.send(encodeFrame({ kind: FrameKind.PING, seq }));
    const answers = (f: Frame) => (f.kind === FrameKind.PONG && f.seq === seq) || (f.kind === FrameKind.ERROR && f.ref === seq);
    return this.until(answers, timeoutMs).then((r) => (r === 'matched' ? 'answered' : r));
  }

  /** Waits until a received frame matches, the socket closes, or `timeoutMs` passes. */
  until(match: (f: Frame) => boolean, timeoutMs: number): Promise<'matched' | 'closed' | 'timeout'> {
    return new Promise((resolve) => {
      const check = (): boolean => {
        if (this.frames.some(match)) return finish('matched');
        if (this.closeEvent) return finish('closed');
        return false;
      };
      const finish = (result: 'matched' | 'closed' | 'timeout'): true => {
        clearTimeout(timer);
        this.changed.delete(check);
        resolve(result);
        return true;
      };
      const timer = setTimeout(() => finish('timeout'), timeoutMs);
      if (!check()) this.changed.add(check);
    });
  }

  /** The frames received since the last take. */
  take(): Frame[] {
    const taken = this.frames;
    this.frames = [];
    return taken;
  }

  close(): void {
    this.ws.close();
  }

  terminate(): void {
    this.ws.terminate();
  }

  private notify(): void {
    for (const check of [...this.changed]) check();
  }
}
