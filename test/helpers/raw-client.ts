import WebSocket from 'ws';
import { FrameKind, decodeFrame, encodeFrame, type Frame, type FrameOf } from '../../src/index.js';

/**
 * A bare protocol client for tests that need to send exact bytes and see exact frames:
 * no SDK behaviour (no reconnect, no auto-ack) in the way.
 */
export class RawClient {
  readonly frames: Frame[] = [];
  closeEvent?: { code: number; reason: string };
  private waiters: { match: (f: Frame) => boolean; resolve: (f: Frame) => void }[] = [];
  private closeWaiters: ((e: { code: number; reason: string }) => void)[] = [];
  private seq = 0;

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data: Buffer) => {
      const decoded = decodeFrame(data);
      if (!decoded.ok) throw new Error(`server sent an undecodable frame: ${decoded.message}`);
      this.frames.push(decoded.frame);
      this.waiters = this.waiters.filter((w) => !(w.match(decoded.frame) && (w.resolve(decoded.frame), true)));
    });
    ws.on('close', (code, reason) => {
      this.closeEvent = { code, reason: reason.toString() };
      for (const w of this.closeWaiters) w(this.closeEvent);
    });
  }

  static async open(url: string): Promise<RawClient> {
    const ws = new WebSocket(url);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    });
    return new RawClient(ws);
  }

  /** Opens a socket and completes HELLO → WELCOME. */
  static async connect(url: string, deviceId: string, extra: Partial<FrameOf<FrameKind.HELLO>> = {}): Promise<RawClient> {
    const client = await RawClient.open(url);
    client.send({ kind: FrameKind.HELLO, seq: client.nextSeq(), versions: [1], deviceId, ...extra });
    await client.next(FrameKind.WELCOME);
    return client;
  }

  nextSeq(): number {
    return ++this.seq;
  }

  send(frame: Frame): void {
    this.ws.send(encodeFrame(frame));
  }

  sendRaw(bytes: Uint8Array | string): void {
    this.ws.send(bytes);
  }

  /** Sends a request frame and waits for its OK or ERROR. */
  async request(frame: Frame): Promise<Frame> {
    this.send(frame);
    return this.waitFor((f) => (f.kind === FrameKind.OK || f.kind === FrameKind.ERROR) && f.ref === frame.seq);
  }

  /** The next frame of `kind` not yet consumed by an earlier wait. */
  async next<K extends FrameKind>(kind: K, timeoutMs = 30_000): Promise<FrameOf<K>> {
    return (await this.waitFor((f) => f.kind === kind, timeoutMs)) as FrameOf<K>;
  }

  waitFor(match: (f: Frame) => boolean, timeoutMs = 30_000): Promise<Frame> {
    const seen = this.frames.findIndex(match);
    if (seen >= 0) return Promise.resolve(this.frames.splice(seen, 1)[0]!);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no matching frame within ${timeoutMs} ms`)), timeoutMs);
      this.waiters.push({
        match,
        resolve: (f) => {
          clearTimeout(timer);
          this.frames.splice(this.frames.indexOf(f), 1);
          resolve(f);
        },
      });
    });
  }

  closed(timeoutMs = 30_000): Promise<{ code: number; reason: string }> {
    if (this.closeEvent) return Promise.resolve(this.closeEvent);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`socket still open after ${timeoutMs} ms`)), timeoutMs);
      this.closeWaiters.push((e) => {
        clearTimeout(timer);
        resolve(e);
      });
    });
  }

  close(): void {
    this.ws.close();
  }
}
