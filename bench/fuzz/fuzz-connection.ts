import WebSocket from 'ws';
import { ErrorCode, FrameKind, decodeFrame, encodeFrame } from '../../src/protocol/index.js';
import type { CampaignStats } from './campaign-stats.js';
import { DEEP_NESTING, expectedReply, type Expected, type FrameLimits } from '../../kit/fuzz/expected-reply.js';
import type { FrameMix, FuzzMessage } from './frame-mix.js';

/** Frames the whole pool may still send. */
export class FrameBudget {
  constructor(private remaining: number) {}

  take(): boolean {
    if (this.remaining <= 0) return false;
    this.remaining--;
    return true;
  }

  get left(): number {
    return this.remaining;
  }
}

export interface FuzzConnectionOptions {
  url: string;
  index: number;
  mix: FrameMix;
  limits: FrameLimits;
  stats: CampaignStats;
  budget: FrameBudget;
  /** An answer (WELCOME, sentinel PONG, close) missing for this long on an open socket is a stall. */
  stallMs: number;
  /** Epoch ms at which the connection stops sending, budget left or not. */
  deadline: number;
  /** Share of socket lifetimes whose first frame is fuzz instead of a HELLO. */
  firstFrameFuzzRate: number;
  random: () => number;
}

/** A PING every this many frames: its PONG confirms the broker got through everything before it. */
const SENTINEL_EVERY = 32;
/** Unanswered sentinels allowed in flight: bounds unconfirmed frames to ~128 per connection. */
const MAX_SENTINELS = 4;
/** ws sends not yet handed to the kernel: the client-side bound on buffering. */
const MAX_UNFLUSHED = 64;
const SENTINEL_BASE = 2 ** 52;
const RECENT = 32;
/**
 * Error codes only the gateway's own checks produce, before the rate limiter: their count must
 * match the oracle's exactly. (A decoder thrown off by earlier input would refuse valid frames.)
 */
const STRICT_CODES: ReadonlySet<number> = new Set([ErrorCode.MALFORMED_FRAME, ErrorCode.TOO_LARGE]);
const strictVerdicts = new WeakMap<Uint8Array, 'yes' | 'no' | 'maybe'>();

/**
 * One connection of the campaign pool: opens a socket, says HELLO (or sends fuzz first), then
 * pipelines fuzz frames with a PING sentinel every SENTINEL_EVERY frames, holding back while
 * MAX_SENTINELS are unanswered or the socket's send queue is full. Reconnects when closed.
 */
export class FuzzConnection {
  private ws: WebSocket | undefined;
  private stopped = false;
  private closedByBroker: number | undefined;
  private closedByUs = false;
  private welcomed = false;
  /** Unanswered sentinel seq → when it was sent and the fewest strict errors the oracle expected before it. */
  private readonly sentinels = new Map<number, { sentAt: number; strictBefore: number }>();
  /** Strict errors the oracle expects for the frames sent so far: at least min, at most max (deep nesting may go either way). */
  private strictMin = 0;
  private strictMax = 0;
  private strictReceived = 0;
  /** Set after a mismatch: the counts of this socket are no longer comparable. */
  private oracleLost = false;
  private nextSentinel = SENTINEL_BASE;
  private sinceSentinel = 0;
  private unflushed = 0;
  private waiter: (() => void) | undefined;
  /** The last frames sent, for the report when something goes wrong. */
  private readonly recent: (Uint8Array | string)[] = [];

  constructor(private readonly o: FuzzConnectionOptions) {}

  async run(): Promise<void> {
    while (!this.stopped && this.o.budget.left > 0 && Date.now() < this.o.deadline) await this.lifetime();
  }

  stop(): void {
    this.stopped = true;
    this.ws?.terminate();
    this.wake();
  }

  /** One socket, from open to close. */
  private async lifetime(): Promise<void> {
    const ws = await this.open();
    if (!ws) {
      // Refused or timed out: pause rather than hammer a broker that may be gone.
      await new Promise((r) => setTimeout(r, 100));
      return;
    }
    const { stats } = this.o;
    if (this.o.random() < this.o.firstFrameFuzzRate) {
      stats.handshakeProbes++;
      if (!this.o.budget.take()) return this.finish();
      this.sendFuzz(this.o.mix.nextFirst());
    } else {
      this.sendControl(encodeFrame({ kind: FrameKind.HELLO, seq: 1, versions: [1], deviceId: `fuzz-${this.o.index}` }));
    }
    if (!(await this.waitFor(() => this.welcomed, 'no WELCOME and no close'))) return this.finish();
    while (!this.isClosed() && !this.stopped && Date.now() < this.o.deadline) {
      if (this.sentinels.size >= MAX_SENTINELS || this.unflushed >= MAX_UNFLUSHED) {
        if (!(await this.waitFor(() => this.sentinels.size < MAX_SENTINELS && this.unflushed < MAX_UNFLUSHED, 'sentinel PING unanswered'))) break;
        continue;
      }
      if (!this.o.budget.take()) break;
      this.sendFuzz(this.o.mix.next());
      if (++this.sinceSentinel >= SENTINEL_EVERY) this.sendSentinel();
    }
    // Out of budget or time: one last sentinel, so every frame sent has been through the broker.
    if (!this.isClosed()) {
      this.sendSentinel();
      const drained = await this.waitFor(() => this.sentinels.size === 0, 'final sentinel PING unanswered');
      if (drained && !this.isClosed() && !this.oracleLost && (this.strictReceived < this.strictMin || this.strictReceived > this.strictMax)) {
        this.mismatch(`at the end: ${this.strictReceived} MALFORMED_FRAME/TOO_LARGE errors, the oracle expected ${this.strictMin}..${this.strictMax}`);
      }
    }
    return this.finish();
  }

  private open(): Promise<WebSocket | undefined> {
    this.closedByBroker = undefined;
    this.closedByUs = false;
    this.welcomed = false;
    this.sentinels.clear();
    this.strictMin = this.strictMax = this.strictReceived = 0;
    this.oracleLost = false;
    this.unflushed = 0;
    this.sinceSentinel = 0;
    const ws = (this.ws = new WebSocket(this.o.url, { perMessageDeflate: false }));
    // A socket given up on may still report: only the current one counts.
    ws.on('message', (data: Buffer) => this.ws === ws && this.onMessage(data));
    ws.on('close', (code) => {
      if (this.ws !== ws) return;
      if (!this.closedByUs) {
        this.closedByBroker = code;
        this.o.stats.countClose(code);
      }
      this.wake();
    });
    ws.on('error', () => this.wake());
    return new Promise((resolve) => {
      const timer = setTimeout(() => done(false), this.o.stallMs);
      const done = (ok: boolean) => {
        clearTimeout(timer);
        if (ok) this.o.stats.connectionsOpened++;
        else {
          this.o.stats.openFailures++;
          ws.terminate();
        }
        resolve(ok ? ws : undefined);
      };
      ws.once('open', () => done(true));
      ws.once('error', () => done(false));
    });
  }

  private onMessage(data: Buffer): void {
    const { stats } = this.o;
    const decoded = decodeFrame(data);
    if (!decoded.ok) {
      stats.undecodableReplies++;
      this.report('undecodable broker frame', data.toString('hex').slice(0, 400));
      return;
    }
    const frame = decoded.frame;
    stats.countReceived(frame.kind);
    switch (frame.kind) {
      case FrameKind.WELCOME:
        this.welcomed = true;
        break;
      case FrameKind.PONG:
        this.answered(frame.seq);
        break;
      case FrameKind.ERROR:
        stats.countError(frame.code);
        if (STRICT_CODES.has(frame.code)) this.strictReceived++;
        // A sentinel refused (RATE_LIMITED, say) is answered all the same.
        if (frame.ref !== undefined) this.answered(frame.ref);
        if (frame.code === ErrorCode.INTERNAL) this.report('INTERNAL error', `${frame.message} (ref ${frame.ref})`);
        break;
    }
    this.wake();
  }

  /**
   * A sentinel's answer: every strict error of the frames before it has arrived by now, and none
   * can have come for frames not yet sent.
   */
  private answered(seq: number): void {
    const sentinel = this.sentinels.get(seq);
    if (!sentinel) return;
    this.sentinels.delete(seq);
    if (!this.oracleLost && (this.strictReceived < sentinel.strictBefore || this.strictReceived > this.strictMax)) {
      this.mismatch(`at sentinel ${seq - SENTINEL_BASE}: ${this.strictReceived} MALFORMED_FRAME/TOO_LARGE errors, the oracle expected ${sentinel.strictBefore}..${this.strictMax}`);
    }
  }

  private mismatch(detail: string): void {
    this.oracleLost = true;
    this.o.stats.oracleMismatches++;
    this.report('answers differ from the oracle', detail);
  }

  private sendFuzz(message: FuzzMessage): void {
    const size = typeof message.data === 'string' ? message.data.length : message.data.byteLength;
    this.o.stats.countSent(message.category, size);
    if (this.welcomed) {
      const strict = this.strictVerdict(message);
      if (strict === 'yes') this.strictMin++;
      if (strict !== 'no') this.strictMax++;
    }
    this.recent.push(message.data);
    if (this.recent.length > RECENT) this.recent.shift();
    this.send(message.data);
  }

  /** Whether the oracle expects a strict error; remembered for corpus entries (sent many times; a deeply nested one costs milliseconds to decode). */
  private strictVerdict(message: FuzzMessage): 'yes' | 'no' | 'maybe' {
    const { data } = message;
    const known = typeof data === 'string' ? undefined : strictVerdicts.get(data);
    if (known !== undefined) return known;
    const expected: Expected = message.category === 'nested' ? DEEP_NESTING : expectedReply(data, 'ready', this.o.limits);
    const verdict =
      expected.outcome === 'error' ? (STRICT_CODES.has(expected.code) ? 'yes' : 'no') : expected.outcome === 'any-error' && expected.codes.some((c) => STRICT_CODES.has(c)) ? 'maybe' : 'no';
    if (typeof data !== 'string') strictVerdicts.set(data, verdict);
    return verdict;
  }

  private sendSentinel(): void {
    this.sinceSentinel = 0;
    const seq = this.nextSentinel++;
    this.sentinels.set(seq, { sentAt: Date.now(), strictBefore: this.strictMin });
    this.sendControl(encodeFrame({ kind: FrameKind.PING, seq }));
  }

  private sendControl(bytes: Uint8Array): void {
    this.o.stats.controlFramesSent++;
    this.send(bytes);
  }

  private send(data: Uint8Array | string): void {
    const ws = this.ws!;
    if (ws.readyState !== WebSocket.OPEN) return;
    this.unflushed++;
    ws.send(data, { binary: typeof data !== 'string' }, () => {
      if (this.ws !== ws) return;
      this.unflushed--;
      this.wake();
    });
  }

  /** Waits until `ready()` holds (true), or the socket closes (false). Past the stall limit: reports, cuts the socket, false. */
  private async waitFor(ready: () => boolean, stallWhat: string): Promise<boolean> {
    const since = Date.now();
    while (!ready()) {
      if (this.isClosed() || this.stopped) return false;
      const left = this.o.stallMs - (Date.now() - since);
      if (left <= 0) {
        this.o.stats.stalls++;
        this.report(`stall: ${stallWhat} for ${this.o.stallMs} ms`, `${this.sentinels.size} sentinels unanswered`);
        this.ws?.terminate();
        return false;
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, Math.min(left, 1000));
        function done() {
          clearTimeout(timer);
          resolve();
        }
        this.waiter = done;
      });
      this.waiter = undefined;
    }
    return true;
  }

  private wake(): void {
    this.waiter?.();
  }

  private isClosed(): boolean {
    return this.closedByBroker !== undefined || !this.ws || this.ws.readyState !== WebSocket.OPEN;
  }

  /** Closes our side and waits (bounded) for the close to complete. */
  private async finish(): Promise<void> {
    const ws = this.ws;
    if (!ws || ws.readyState === WebSocket.CLOSED) return;
    // Still open: the close is ours. Already closing: the broker's close frame came first, and its close event counts it.
    this.closedByUs = ws.readyState === WebSocket.OPEN;
    ws.close();
    const closed = () => ws.readyState === WebSocket.CLOSED;
    const deadline = Date.now() + 5_000;
    while (!closed() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    if (!closed()) ws.terminate();
  }

  private report(what: string, detail: string): void {
    this.o.stats.suspect({
      what,
      at: new Date().toISOString(),
      connection: this.o.index,
      detail,
      lastFramesHex: this.recent.map((m) => (typeof m === 'string' ? `text:${JSON.stringify(m)}` : Buffer.from(m).toString('hex').slice(0, 2000))),
    });
  }
}
