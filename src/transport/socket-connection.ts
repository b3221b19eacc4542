import type { WebSocket } from 'uWebSockets.js';
import { CloseCode, closeReason, type MessageTally, type Outbound } from '../protocol/index.js';
import type { TurnScheduler, TurnTask } from '../../actors/turn-scheduler.js';

export interface BackpressureLimits {
  /** Buffered bytes above which droppable (QoS 0) frames are dropped for this socket. */
  softLimitBytes: number;
  /** Buffered bytes above which a socket is closed as a slow consumer. */
  hardLimitBytes: number;
}

/** How long a closing socket may take to finish the close handshake before TCP is cut. */
const FORCE_CLOSE_AFTER_MS = 5000;

/** Totals over every socket of a server, for metrics. */
export interface TransportStats {
  opened: number;
  closed: number;
  framesIn: number;
  bytesIn: number;
  framesOut: number;
  bytesOut: number;
  /** Socket writes: one per socket per tick that had frames (several frames under one cork). */
  writes: number;
  framesDropped: number;
  /** Message handlers that threw (each closed its socket instead of reaching the process). */
  faults: number;
}

export const newTransportStats = (): TransportStats => ({ opened: 0, closed: 0, framesIn: 0, bytesIn: 0, framesOut: 0, bytesOut: 0, writes: 0, framesDropped: 0, faults: 0 });


/**
 * One WebSocket: a turn's writes flushed under one cork in the turn's output step (see
 * TurnScheduler), a slow consumer cut off at the hard limit, and a close that is safe to call
 * twice or after the peer left.
 */
export class SocketConnection<Slot> implements Outbound, TurnTask {
  private pending: Uint8Array[] = [];
  /** Indexes into `pending` of frames that may be dropped under backpressure. */
  private droppable: number[] = [];
  /** The batch being sent under the current cork. */
  private corked: Uint8Array[] = [];
  private isClosed = false;
  /** uWS reported the socket closed; `ws` must not be touched any more. */
  private gone = false;
  private forceCloseTimer: NodeJS.Timeout | undefined;
  lastSeenAt = Date.now();
  readonly openedAt = Date.now();
  framesDropped = 0;

  constructor(
    private readonly ws: WebSocket<unknown>,
    private readonly scheduler: TurnScheduler,
    private readonly limits: BackpressureLimits,
    private readonly stats: TransportStats,
    readonly tally: MessageTally,
    readonly remoteAddress: string,
    readonly id: number,
    /** What the layer above keeps on this socket (its connection state), typed by it. */
    readonly slot: Slot,
    /** Identity header sent at upgrade, if any (trusted only from configured proxy addresses). */
    readonly identityHeader?: string,
  ) {}

  get closed(): boolean {
    return this.isClosed;
  }

  write(bytes: Uint8Array, droppable = false): void {
    if (this.isClosed) return;
    if (droppable) this.droppable.push(this.pending.length);
    this.pending.push(bytes);
    if (this.pending.length === 1) this.scheduler.flush(this);
  }

  bufferedAmount(): number {
    return this.isClosed ? 0 : this.ws.getBufferedAmount();
  }

  run(): void {
    this.flush();
  }

  flush(): void {
    if (this.isClosed || this.pending.length === 0) return;
    let batch = this.pending;
    const droppable = this.droppable;
    this.pending = [];
    this.droppable = [];
    const buffered = this.ws.getBufferedAmount();
    if (buffered > this.limits.hardLimitBytes) {
      this.close(CloseCode.SLOW_CONSUMER, 'too far behind');
      return;
    }
    // One check per socket per tick, not per frame: a backed-up socket loses its QoS 0 frames.
    if (buffered > this.limits.softLimitBytes && droppable.length > 0) {
      const drop = new Set(droppable);
      batch = batch.filter((_, i) => !drop.has(i));
      this.framesDropped += drop.size;
      this.stats.framesDropped += drop.size;
    }
    this.stats.writes++;
    this.stats.framesOut += batch.length;
    this.corked = batch;
    this.ws.cork(this.sendCorked);
    this.corked = [];
  }

  /** Sends `corked`; bound once, so a flush allocates no closure. */
  private readonly sendCorked = (): void => {
    const batch = this.corked;
    let bytesOut = 0;
    for (let i = 0; i < batch.length; i++) {
      bytesOut += batch[i]!.byteLength;
      this.ws.send(batch[i]!, true);
    }
    this.stats.bytesOut += bytesOut;
  };

  close(code: CloseCode, reason: string): void {
    if (this.isClosed) return;
    this.flush();
    this.isClosed = true;
    this.ws.end(code, closeReason(reason));
    // A peer that stopped reading never completes the close handshake: cut the TCP connection.
    if (!this.gone) this.forceCloseTimer = setTimeout(() => this.gone || this.ws.close(), FORCE_CLOSE_AFTER_MS).unref();
  }

  /** The socket is gone (peer closed or we ended it): nothing may touch `ws` any more. */
  markClosed(): void {
    this.gone = true;
    clearTimeout(this.forceCloseTimer);
    this.isClosed = true;
    this.pending = [];
    this.droppable = [];
  }
}
