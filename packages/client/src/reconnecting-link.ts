import { CloseCode, encodeFrame, ErrorCode, FrameKind, shouldReconnect, type Frame, type HelloFrame, type WelcomeFrame } from '../../../src/protocol/index.js';
import { RetrySchedule, type ReconnectDelay } from '../../../src/protocol/backoff.js';
import { DisconnectedError, RelaymeshError, TimeoutError } from './errors.js';
import type { DisconnectInfo, ReconnectInfo, WelcomeInfo } from './events.js';
import { FrameSocket } from './frame-socket.js';
import { Heartbeat } from './heartbeat.js';
import { DEAD_PEER_HEARTBEATS, DEFAULT_HEARTBEAT_MS } from './options.js';
import { loadWebSocket, type WebSocketConstructor } from './websocket.js';

export interface LinkSettings {
  urls: readonly string[];
  WebSocket: WebSocketConstructor | undefined;
  /** Deadline for WELCOME after dialling, and for the closing handshake on stop(). */
  timeoutMs: number;
  heartbeatMs: number | undefined;
  deadPeerTimeoutMs: number | undefined;
  /** undefined: never reconnect. */
  reconnectDelay: ReconnectDelay | undefined;
}

/** What the link asks of, and reports to, the client that owns it. */
export interface LinkHooks {
  nextSeq(): number;
  /** The HELLO for a new connection: built per dial, since resume positions change. */
  hello(seq: number): HelloFrame;
  /** HELLO went out: requests may be pipelined from here on. */
  opened(): void;
  welcomed(info: WelcomeInfo): void;
  /** Every frame except WELCOME, PING, PONG and the handshake's own ERROR. */
  frame(frame: Frame): void;
  /** Worth reporting, not fatal: a bad inbound frame, a refused attempt that will be retried. */
  problem(error: Error): void;
  /** A socket ended, whether or not its handshake had completed. */
  lost(info: DisconnectInfo): void;
  reconnecting(info: ReconnectInfo): void;
  /** The link stopped for good; `reason` is undefined when stop() was asked for. */
  ended(reason: Error | undefined): void;
}

export type LinkState = 'idle' | 'opening' | 'handshaking' | 'live' | 'waiting' | 'closing' | 'closed';

/**
 * Keeps one handshaken connection to a broker: dials (rotating through the URLs), sends HELLO,
 * waits for WELCOME, runs the heartbeat, and redials with backoff unless the close code says
 * the broker will never accept us. It knows nothing of requests or messages.
 */
export class ReconnectingLink {
  private currentState: LinkState = 'idle';
  private socket: FrameSocket | undefined;
  private WebSocket: WebSocketConstructor | undefined;
  private readonly retry: RetrySchedule | undefined;
  private readonly heartbeat: Heartbeat;
  private urlIndex = 0;
  private helloSeq = 0;
  /** Why the broker refused the current attempt, reported when its socket closes. */
  private refusal: Error | undefined;
  private deadline: ReturnType<typeof setTimeout> | undefined;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private stopped: Promise<void> | undefined;
  private resolveStopped: (() => void) | undefined;
  /** The PING stop() sent: its PONG says the broker handled every frame written before it. */
  private closingPingSeq: number | undefined;

  constructor(
    private readonly settings: LinkSettings,
    private readonly hooks: LinkHooks,
  ) {
    this.WebSocket = settings.WebSocket;
    this.retry = settings.reconnectDelay && new RetrySchedule(settings.reconnectDelay);
    this.heartbeat = new Heartbeat({
      ping: () => this.write(encodeFrame({ kind: FrameKind.PING, seq: hooks.nextSeq(), ts: Date.now() })),
      peerDead: (idleMs) => this.socket?.abort(CloseCode.HEARTBEAT_TIMEOUT, `no frame from the broker for ${idleMs} ms`),
    });
  }

  get state(): LinkState {
    return this.currentState;
  }

  /** Whether HELLO is out and the socket takes frames. */
  get writable(): boolean {
    return (this.currentState === 'handshaking' || this.currentState === 'live') && this.socket?.isOpen === true;
  }

  start(): void {
    if (this.currentState === 'idle') void this.dial(this.nextUrl());
  }

  write(bytes: Uint8Array): void {
    this.socket?.send(bytes);
  }

  /**
   * Closes gracefully and stops reconnecting; resolves once the socket is closed. On an open
   * connection a PING goes first and the close waits for its PONG: the broker handles a
   * device's frames in order, so by then it has handled everything written before.
   */
  stop(): Promise<void> {
    if (this.currentState === 'closed') return Promise.resolve();
    if (this.stopped) return this.stopped;
    this.stopped = new Promise((resolve) => (this.resolveStopped = resolve));
    const socket = this.socket;
    if (socket) {
      const flush = this.writable;
      this.currentState = 'closing';
      this.heartbeat.stop();
      clearTimeout(this.deadline);
      // A dead peer answers neither the PING nor the closing handshake; don't let it hold close() up.
      this.deadline = setTimeout(() => socket.abort(CloseCode.NORMAL, 'client closed'), this.settings.timeoutMs);
      if (flush) {
        this.closingPingSeq = this.hooks.nextSeq();
        this.write(encodeFrame({ kind: FrameKind.PING, seq: this.closingPingSeq, ts: Date.now() }));
      } else {
        socket.close(CloseCode.NORMAL, 'client closed');
      }
    } else {
      this.finish(undefined);
    }
    return this.stopped;
  }

  private async dial(url: string): Promise<void> {
    this.currentState = 'opening';
    if (!this.WebSocket) {
      try {
        this.WebSocket = await loadWebSocket();
      } catch (error) {
        this.finish(error as Error);
        return;
      }
      if (this.currentState !== 'opening') return; // stop() was called meanwhile
    }
    this.refusal = undefined;
    this.deadline = setTimeout(() => {
      this.refusal = new TimeoutError(`no WELCOME from ${url} within ${this.settings.timeoutMs} ms`, this.settings.timeoutMs);
      this.socket?.abort(CloseCode.HANDSHAKE_TIMEOUT, 'handshake timeout');
    }, this.settings.timeoutMs);
    this.socket = new FrameSocket(this.WebSocket, url, {
      open: () => this.onOpen(),
      frame: (frame) => this.onFrame(frame, url),
      badFrame: (error) => this.hooks.problem(error),
      close: (code, reason) => this.onClose(code, reason),
    });
  }

  private onOpen(): void {
    this.currentState = 'handshaking';
    this.helloSeq = this.hooks.nextSeq();
    this.write(encodeFrame(this.hooks.hello(this.helloSeq)));
    this.hooks.opened();
  }

  private onFrame(frame: Frame, url: string): void {
    this.heartbeat.noteInbound();
    switch (frame.kind) {
      case FrameKind.WELCOME:
        if (this.currentState === 'handshaking') this.onWelcome(frame, url);
        else this.hooks.problem(new RelaymeshError(ErrorCode.PROTOCOL_VIOLATION, 'broker sent a second WELCOME'));
        return;
      case FrameKind.PING:
        this.write(encodeFrame({ kind: FrameKind.PONG, seq: this.hooks.nextSeq(), ts: frame.ts }));
        return;
      case FrameKind.PONG:
        if (this.currentState === 'closing' && frame.seq === this.closingPingSeq) this.socket?.close(CloseCode.NORMAL, 'client closed');
        return;
      case FrameKind.ERROR:
        if (this.currentState === 'handshaking' && (frame.ref === undefined || frame.ref === this.helloSeq)) {
          // The close that follows decides whether to retry; keep the broker's reason for that moment.
          this.refusal = new RelaymeshError(frame.code, frame.message, frame.ref);
          return;
        }
    }
    this.hooks.frame(frame);
  }

  private onWelcome(frame: WelcomeFrame, url: string): void {
    clearTimeout(this.deadline);
    this.currentState = 'live';
    this.retry?.reset();
    const heartbeatMs = this.settings.heartbeatMs ?? (frame.heartbeatMs || DEFAULT_HEARTBEAT_MS);
    this.heartbeat.start(heartbeatMs, this.settings.deadPeerTimeoutMs ?? heartbeatMs * DEAD_PEER_HEARTBEATS);
    const { version, sessionId, maxFrameBytes, maxInflight, sessionPresent } = frame;
    this.hooks.welcomed({ url, version, sessionId, heartbeatMs: frame.heartbeatMs, maxFrameBytes, maxInflight, sessionPresent });
  }

  private onClose(code: number, reason: string): void {
    this.socket = undefined;
    this.heartbeat.stop();
    clearTimeout(this.deadline);
    const refusal = this.refusal;
    this.refusal = undefined;
    if (this.stopped) return this.finish(undefined, { code, reason });
    if (!this.retry || !shouldReconnect(code)) {
      const detail = reason ? `: ${reason}` : '';
      return this.finish(refusal ?? new DisconnectedError(`connection closed with code ${code}${detail}`, code), { code, reason });
    }
    const { attempt, delayMs } = this.retry.next();
    const url = this.nextUrl();
    this.currentState = 'waiting';
    this.retryTimer = setTimeout(() => void this.dial(url), delayMs);
    // Hooks last: a listener may call close(), which must find the state settled.
    this.hooks.lost({ code, reason, willReconnect: true });
    if (refusal) this.hooks.problem(refusal);
    if (this.currentState === 'waiting') this.hooks.reconnecting({ attempt, delayMs, url });
  }

  private finish(reason: Error | undefined, closed?: { code: number; reason: string }): void {
    this.currentState = 'closed';
    clearTimeout(this.retryTimer);
    clearTimeout(this.deadline);
    this.heartbeat.stop();
    if (closed) this.hooks.lost({ ...closed, willReconnect: false });
    this.hooks.ended(reason);
    this.resolveStopped?.();
  }

  private nextUrl(): string {
    const url = this.settings.urls[this.urlIndex % this.settings.urls.length]!;
    this.urlIndex += 1;
    return url;
  }
}
