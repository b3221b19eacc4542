import { Kind, encodeFrame } from './wire.js';

/** A batch is flushed at once when it would grow past this (and a bigger frame goes alone). */
const BATCH_LIMIT_BYTES = 256 * 1024;

/**
 * Coalesces the frames one link sends within an event-loop turn into one WebSocket message
 * (a BATCH frame), flushed right after the I/O callbacks of the turn (setImmediate). A socket
 * write per frame costs microseconds of kernel time; per batch, that cost is shared.
 */
export class FrameBatcher {
  private frames: Uint8Array[] = [];
  private bytes = 0;
  private scheduled = false;

  constructor(private readonly transmit: (message: Uint8Array) => void) {}

  /** Bytes waiting for the next flush (counted against the link's buffer limit). */
  get pendingBytes(): number {
    return this.bytes;
  }

  push(frame: Uint8Array): void {
    if (this.bytes + frame.length > BATCH_LIMIT_BYTES) this.flush();
    this.frames.push(frame);
    this.bytes += frame.length;
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
  }

  flush(): void {
    this.scheduled = false;
    const frames = this.frames;
    if (frames.length === 0) return;
    this.frames = [];
    this.bytes = 0;
    this.transmit(frames.length === 1 ? frames[0]! : encodeFrame({ kind: Kind.BATCH, frames }));
  }

  clear(): void {
    this.frames = [];
    this.bytes = 0;
  }
}
