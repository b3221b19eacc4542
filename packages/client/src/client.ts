/**
 * relaymesh client SDK.
 *
 * @example
 * import { RelaymeshClient } from 'relaymesh/client';
 *
 * const client = new RelaymeshClient({ urls: ['wss://a.example/ws', 'wss://b.example/ws'], deviceId: 'sensor-17', token: process.env.RELAYMESH_TOKEN });
 * client.on('message', (msg) => console.log(msg.stream, new TextDecoder().decode(msg.payload)));
 * client.on('error', (err) => console.error(err));
 * client.on('reconnecting', ({ attempt, delayMs }) => console.warn(`connection lost: attempt ${attempt} in ${delayMs} ms`));
 * client.on('reset', ({ stream, offset, reason }) => console.warn(`${stream}: history lost up to ${offset} (${reason})`));
 * await client.connect();
 * await client.subscribe(['fleet/+/alerts', 'fleet/sensor-17/#'], { qos: 1 });
 * const { offset } = await client.publish('fleet/sensor-17/temp', '21.5', { qos: 1 });
 * await client.send('gateway-3', 'hello');                 // to another device's inbox, QoS 0
 * await client.close();
 */
import {
  encodeFrame,
  ErrorCode,
  FrameKind,
  MAX_LIST_LENGTH,
  type Frame,
  type MessageProperties,
  type PubFrame,
  type Qos,
  type SendFrame,
  type StreamPosition,
} from '../../../src/protocol/index.js';
import { TypedEmitter } from './emitter.js';
import { checkFilters, checkTarget, checkTopic, toBytes } from './request-arguments.js';
import { DisconnectedError, RelaymeshError } from './errors.js';
import type { ClientEvents, WelcomeInfo } from './events.js';
import { MessageIntake, type IntakeHooks } from './message-intake.js';
import { resolveOptions, type ClientOptions, type ResolvedOptions } from './options.js';
import { ReconnectingLink, type LinkHooks } from './reconnecting-link.js';
import { RequestPipeline } from './request-pipeline.js';
import type { Reply } from './requests.js';
import { SubscriptionSet } from './subscriptions.js';

export interface SubscribeOptions {
  /** Omitted: the broker's default. */
  qos?: Qos;
}

export interface PublishOptions {
  /** 0 (default): resolves once written to the socket. 1: resolves once the broker stored it. */
  qos?: Qos;
  traceId?: string;
  /** Passed to every receiver as `message.props` (MQTT 5 receivers get them as publication properties). */
  props?: MessageProperties;
}

/** `offset` is where the broker stored a QoS 1 message; absent for QoS 0. */
export type PublishResult = Reply;

interface ConnectWaiter {
  resolve(info: WelcomeInfo): void;
  reject(error: Error): void;
}

export class RelaymeshClient extends TypedEmitter<ClientEvents> {
  private readonly options: ResolvedOptions;
  private readonly link: ReconnectingLink;
  private readonly requests: RequestPipeline;
  private readonly subscriptions = new SubscriptionSet();
  private readonly intake: MessageIntake;
  private welcome: WelcomeInfo | undefined;
  private connecting: Promise<WelcomeInfo> | undefined;
  private connectWaiter: ConnectWaiter | undefined;

  constructor(options: ClientOptions) {
    super();
    this.options = resolveOptions(options);
    const { urls, WebSocket, requestTimeoutMs, heartbeatMs, deadPeerTimeoutMs, reconnectDelay } = this.options;
    const settings = { urls, WebSocket, timeoutMs: requestTimeoutMs, heartbeatMs, deadPeerTimeoutMs, reconnectDelay };
    this.link = new ReconnectingLink(settings, this.linkHooks());
    this.requests = new RequestPipeline(this.link, requestTimeoutMs);
    const { autoAck, reconcileMs } = this.options;
    this.intake = new MessageIntake(this.intakeHooks(), { autoAck, reconcileMs });
  }

  get connected(): boolean {
    return this.welcome !== undefined;
  }

  get sessionId(): string | undefined {
    return this.welcome?.sessionId;
  }

  get version(): number | undefined {
    return this.welcome?.version;
  }

  /** Resolves on the next WELCOME (at once if connected); rejects when the client stops for good first. */
  connect(): Promise<WelcomeInfo> {
    if (this.welcome) return Promise.resolve(this.welcome);
    if (this.link.state === 'closing' || this.link.state === 'closed') return Promise.reject(new DisconnectedError('client is closed'));
    if (!this.connecting) {
      this.connecting = new Promise((resolve, reject) => (this.connectWaiter = { resolve, reject }));
      this.link.start();
    }
    return this.connecting;
  }

  async subscribe(filters: string | readonly string[], options: SubscribeOptions = {}): Promise<void> {
    const list = checkFilters(filters);
    const undo = this.subscriptions.add(list, options.qos);
    try {
      await this.request({ kind: FrameKind.SUB, seq: this.requests.nextSeq(), filters: list, qos: options.qos }, 'SUB', false);
    } catch (error) {
      undo();
      throw error;
    }
  }

  async unsubscribe(filters: string | readonly string[]): Promise<void> {
    const list = checkFilters(filters);
    // Forgotten now, so a reconnect never restores a filter the application let go of.
    this.subscriptions.remove(list);
    await this.request({ kind: FrameKind.UNSUB, seq: this.requests.nextSeq(), filters: list }, 'UNSUB', false);
  }

  /** Replaces the session's token before it expires (AUTH); later reconnects use the new one too. */
  async refreshToken(token: string): Promise<void> {
    this.options.token = token;
    await this.request({ kind: FrameKind.AUTH, seq: this.requests.nextSeq(), token }, 'AUTH', false);
  }

  async publish(topic: string, payload: Uint8Array | string, options: PublishOptions = {}): Promise<PublishResult> {
    checkTopic(topic);
    const { qos = 0, traceId, props } = options;
    const frame: PubFrame = { kind: FrameKind.PUB, seq: this.requests.nextSeq(), topic, payload: toBytes(payload), qos, traceId, props };
    return this.request(frame, `PUB to ${topic}`, qos === 0);
  }

  /** Sends to one device's inbox (`$inbox/<targetDeviceId>`). */
  async send(targetDeviceId: string, payload: Uint8Array | string, options: PublishOptions = {}): Promise<PublishResult> {
    const target = checkTarget(targetDeviceId);
    const { qos = 0, traceId, props } = options;
    const frame: SendFrame = { kind: FrameKind.SEND, seq: this.requests.nextSeq(), target, payload: toBytes(payload), qos, traceId, props };
    return this.request(frame, `SEND to ${target}`, qos === 0);
  }

  /**
   * Acknowledges every QoS 1 message of `stream` up to `offset` (at most what was delivered). Only
   * needed with autoAck: false. While disconnected the ack is remembered and redeliveries re-acked.
   */
  ack(stream: string, offset: number): void {
    if (!Number.isSafeInteger(offset) || offset < 0) throw new RangeError(`ack offset must be a non-negative integer, got ${offset}`);
    this.intake.ack(stream, offset);
  }

  /** Highest delivered offset per stream (QoS 1), sent as `resume` when reconnecting. */
  positions(): StreamPosition[] {
    return this.intake.positions();
  }

  /**
   * Closes gracefully without reconnecting. What was written before is flushed first: requests in
   * flight get their replies (QoS 1 PUB/SEND their OK), and the broker has handled every frame
   * sent (QoS 0 ones included) before the socket closes. Resolves when the socket is closed and
   * all timers are gone; new requests are refused from the call on.
   */
  async close(): Promise<void> {
    await this.requests.drain();
    await this.link.stop();
  }

  protected override listenerFailed(error: unknown, event: keyof ClientEvents): void {
    // An 'error' listener that throws has nowhere left to report to.
    if (event === 'error') super.listenerFailed(error, event);
    else this.emit('error', error instanceof Error ? error : new Error(`'${event}' listener threw: ${String(error)}`));
  }

  private request(frame: Frame, what: string, settleOnWrite: boolean): Promise<Reply> {
    return this.requests.send(frame, what, settleOnWrite, this.welcome?.maxFrameBytes);
  }

  /** ACK and RESYNC: no reply expected. Dropped when offline: the broker redelivers, and the resume position covers gaps. */
  private push(frame: Frame): void {
    if (this.link.writable) this.link.write(encodeFrame(frame));
  }

  private intakeHooks(): IntakeHooks {
    return {
      deliver: (message) => this.emit('message', message),
      reset: (info) => this.emit('reset', info),
      sendAck: (stream, offset) => this.push({ kind: FrameKind.ACK, seq: this.requests.nextSeq(), stream, offset }),
      sendResync: (stream, offset) => this.push({ kind: FrameKind.RESYNC, seq: this.requests.nextSeq(), stream, offset }),
    };
  }

  private linkHooks(): LinkHooks {
    return {
      nextSeq: () => this.requests.nextSeq(),
      hello: (seq) => {
        const resume = this.intake.positions().slice(-MAX_LIST_LENGTH);
        const { versions, deviceId, token } = this.options;
        return { kind: FrameKind.HELLO, seq, versions: [...versions], deviceId, token, resume: resume.length > 0 ? resume : undefined };
      },
      opened: () => this.requests.flushQueued(),
      welcomed: (info) => {
        this.welcome = info;
        this.intake.connected();
        if (!info.sessionPresent) this.resubscribe();
        this.takeConnectWaiter()?.resolve(info);
        this.emit('connected', info);
      },
      frame: (frame) => this.onFrame(frame),
      problem: (error) => this.emit('error', error),
      lost: (info) => {
        const wasConnected = this.welcome !== undefined;
        this.welcome = undefined;
        this.intake.stop();
        const detail = info.reason ? `: ${info.reason}` : '';
        this.requests.abandonAll(new DisconnectedError(`connection closed with code ${info.code}${detail}`, info.code));
        if (wasConnected) this.emit('disconnected', info);
      },
      reconnecting: (info) => this.emit('reconnecting', info),
      ended: (reason) => {
        this.intake.stop();
        const waiter = this.takeConnectWaiter();
        if (waiter) waiter.reject(reason ?? new DisconnectedError('client closed before connecting'));
        else if (reason) this.emit('error', reason);
        this.emit('closed', undefined);
      },
    };
  }

  private takeConnectWaiter(): ConnectWaiter | undefined {
    const waiter = this.connectWaiter;
    this.connecting = undefined;
    this.connectWaiter = undefined;
    return waiter;
  }

  private onFrame(frame: Frame): void {
    switch (frame.kind) {
      case FrameKind.MSG:
        return this.intake.onMessage(frame);
      case FrameKind.RESET:
        return this.intake.onReset(frame);
      case FrameKind.OK:
        return this.requests.settleOk(frame);
      case FrameKind.ERROR: {
        const unclaimed = this.requests.settleError(frame);
        if (unclaimed) this.emit('error', unclaimed);
        return;
      }
      default:
        this.emit('error', new RelaymeshError(ErrorCode.PROTOCOL_VIOLATION, `broker sent an unexpected ${FrameKind[frame.kind]} frame`));
    }
  }

  private resubscribe(): void {
    for (const { filters, qos } of this.subscriptions.batches()) {
      this.request({ kind: FrameKind.SUB, seq: this.requests.nextSeq(), filters, qos }, 'resubscribe', false).catch((error: Error) => {
        // A further disconnect resubscribes again; anything else the application should hear about.
        if (!(error instanceof DisconnectedError)) this.emit('error', error);
      });
    }
  }
}
