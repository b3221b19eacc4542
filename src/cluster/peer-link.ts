import { performance } from 'node:perf_hooks';
import { WebSocket, type RawData } from 'ws';
import { closeReason } from '../protocol/close-reason.js';
import { FrameBatcher } from './frame-batcher.js';
import { LinkCost } from './link-cost.js';
import type { PeerTraffic } from './stats.js';
import { Kind, LinkClose, decodeFrames, encodeFrame, type Frame } from './wire.js';

/** Frames handled from one link before its socket reading yields to the rest of the event loop. */
const FRAMES_PER_TURN = 512;

export interface PeerLinkInfo {
  /** The node at the other end (proven by the handshake). */
  peerId: string;
  /** The node that dialled this link: decides which of two duplicate links survives. */
  dialerId: string;
  remote: string;
}

export interface PeerLinkTiming {
  heartbeatMs: number;
  pingTimeoutMs: number;
  linkTimeoutMs: number;
  rttAlpha: number;
  lossPenaltyMs: number;
  maxBufferedBytes: number;
  delayMs: number;
}

export interface PeerLinkHandlers {
  frame(link: PeerLink, frame: Frame): void;
  /** A new RTT sample or loss changed the cost (and the first sample made the link ready). */
  measured(link: PeerLink): void;
  closed(link: PeerLink, code: number, reason: string): void;
}

/**
 * One authenticated WebSocket to a peer node. Pings every heartbeat (each pong is an RTT
 * sample, each ping unanswered past its timeout a loss), closes the link when the peer falls
 * silent, and adds the configured artificial delay to what it sends. Frames that arrive before
 * the owner attaches are held, so none is lost between the handshake and the hand-over.
 */
export class PeerLink {
  readonly cost: LinkCost;
  /** Best-effort frames dropped because the socket's buffer was over `maxBufferedBytes`. */
  dropped = 0;
  /** The peer's counters, shared by its successive links; set when the link is adopted. */
  traffic: PeerTraffic | undefined;
  private handlers: PeerLinkHandlers | undefined;
  private early: Frame[] = [];
  private lastHeard = performance.now();
  private lastTick = performance.now();
  private stalls = 0;
  private turnFrames = 0;
  private paused = false;
  private pingSeq = 0;
  private readonly pings = new Map<number, number>();
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly batcher = new FrameBatcher((message) => this.transmit(message));
  /** Settles once the socket itself is closed (after the close handshake, or a terminate). */
  readonly socketClosed: Promise<void>;

  constructor(
    private readonly ws: WebSocket,
    readonly info: PeerLinkInfo,
    private readonly timing: PeerLinkTiming,
    /** A frame handler threw: the owner logs and counts it; this link is dropped. */
    private readonly fault: (err: unknown, remote: string) => void,
  ) {
    this.cost = new LinkCost(timing.rttAlpha, timing.lossPenaltyMs);
    ws.on('message', (data: RawData) => {
      try {
        this.receive(data);
      } catch (err) {
        // Nothing a peer sends may reach the process as an exception.
        this.fault(err, info.remote);
        this.close(LinkClose.INTERNAL, 'internal error');
      }
    });
    this.socketClosed = new Promise((resolve) => ws.once('close', () => resolve()));
    ws.on('close', (code: number, reason: Buffer) => this.onClose(code, reason.toString()));
    ws.on('error', () => undefined); // 'close' follows every error
  }

  get peerId(): string {
    return this.info.peerId;
  }

  get delayMs(): number {
    return this.timing.delayMs;
  }

  set delayMs(ms: number) {
    this.timing.delayMs = ms;
  }

  /** Closed, possibly before anyone attached (a bad frame in the handshake's last read). */
  get isClosed(): boolean {
    return this.closed;
  }

  attach(handlers: PeerLinkHandlers): void {
    if (this.closed) return;
    this.handlers = handlers;
    const early = this.early;
    this.early = [];
    for (const frame of early) if (!this.closed) handlers.frame(this, frame);
    this.lastTick = performance.now();
    this.timer = setInterval(() => this.tick(), this.timing.heartbeatMs);
    this.ping();
  }

  send(frame: Frame, droppable = false): boolean {
    const sent = this.sendBytes(encodeFrame(frame), droppable);
    if (sent && frame.kind === Kind.DATA && this.traffic) this.traffic.forwarded++;
    return sent;
  }

  /** Sends already-encoded bytes (encode once, send to many). False if closed or dropped. */
  sendBytes(bytes: Uint8Array, droppable = false): boolean {
    if (this.closed || this.ws.readyState !== WebSocket.OPEN) return false;
    if (droppable && this.ws.bufferedAmount + this.batcher.pendingBytes > this.timing.maxBufferedBytes) {
      this.dropped++;
      return false;
    }
    this.batcher.push(bytes);
    return true;
  }

  close(code: number = LinkClose.NORMAL, reason = ''): void {
    if (this.closed) return;
    if (code === LinkClose.TIMEOUT) this.ws.terminate();
    else this.ws.close(code, closeReason(reason));
    this.onClose(code, reason);
  }

  /** Drops the socket without a close handshake (a peer that does not answer the close). */
  terminate(): void {
    this.ws.terminate();
    this.onClose(LinkClose.GOING_AWAY, 'terminated');
  }

  private transmit(message: Uint8Array): void {
    // Same delay for every message keeps them in order: Node fires equal-duration timers FIFO.
    // Unref'd: messages still held back must not keep a stopped node's process alive.
    if (this.timing.delayMs > 0) setTimeout(() => this.write(message), this.timing.delayMs).unref();
    else this.write(message);
  }

  private write(message: Uint8Array): void {
    if (!this.closed && this.ws.readyState === WebSocket.OPEN) this.ws.send(message, { binary: true });
  }

  private receive(data: RawData): void {
    if (this.closed) return;
    this.lastHeard = performance.now();
    const frames = decodeFrames(data as Buffer);
    if (typeof frames === 'string') return this.close(LinkClose.PROTOCOL, frames);
    for (const frame of frames) {
      if (this.closed) return;
      this.handle(frame);
    }
    this.yieldIfBusy(frames.length);
  }

  /**
   * A peer that floods this link could keep the event loop reading its socket for a long time
   * (libuv reads up to 32 chunks in a row), starving timers: heartbeats stop and every other
   * link looks dead. After every FRAMES_PER_TURN frames, reading pauses until the next loop turn.
   */
  private yieldIfBusy(frames: number): void {
    this.turnFrames += frames;
    if (this.turnFrames < FRAMES_PER_TURN || this.paused) return;
    this.paused = true;
    this.ws.pause();
    setImmediate(() => {
      this.paused = false;
      this.turnFrames = 0;
      if (!this.closed) this.ws.resume();
    });
  }

  private handle(frame: Frame): void {
    if (frame.kind <= Kind.WELCOME) {
      this.close(LinkClose.PROTOCOL, 'handshake frame on an open link');
    } else if (frame.kind === Kind.PING) {
      this.send({ kind: Kind.PONG, seq: frame.seq });
    } else if (frame.kind === Kind.PONG) {
      const sentAt = this.pings.get(frame.seq);
      if (sentAt === undefined) return; // late: already counted as lost
      this.pings.delete(frame.seq);
      this.cost.sample(performance.now() - sentAt);
      this.handlers?.measured(this);
    } else if (this.handlers) {
      this.handlers.frame(this, frame);
    } else {
      this.early.push(frame);
    }
  }

  private tick(): void {
    const now = performance.now();
    // A late tick means this event loop was blocked (GC, a long task): frames from the peer may be
    // waiting unread, so silence and lost pings are not judged on this tick (nor on up to 3 such
    // ticks in a row: a loop that is late all the time must still notice a dead peer).
    const stalled = now - this.lastTick > 2 * this.timing.heartbeatMs;
    this.lastTick = now;
    this.stalls = stalled ? this.stalls + 1 : 0;
    if (stalled && this.stalls <= 3) {
      this.ping();
      return;
    }
    if (now - this.lastHeard > this.timing.linkTimeoutMs) {
      this.close(LinkClose.TIMEOUT, 'peer silent');
      return;
    }
    let lost = false;
    for (const [seq, sentAt] of this.pings) {
      if (now - sentAt <= this.timing.pingTimeoutMs) break; // insertion order is send order
      this.pings.delete(seq);
      this.cost.lost();
      lost = true;
    }
    if (lost) this.handlers?.measured(this);
    this.ping();
  }

  private ping(): void {
    const seq = ++this.pingSeq;
    this.pings.set(seq, performance.now());
    this.send({ kind: Kind.PING, seq });
  }

  private onClose(code: number, reason: string): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    this.batcher.clear();
    this.pings.clear();
    this.handlers?.closed(this, code, reason);
  }
}
