import { randomUUID } from 'node:crypto';
import type { Ref } from 'nact';
import { spawnDeviceActor } from '../../actors/device-actor.js';
import { turnScheduler } from '../../actors/turn-scheduler.js';
import type { HashRing } from '../cluster/hash-ring.js';
import type { Logger } from '../logger.js';
import {
  CloseCode,
  ConnectionState,
  ErrorCode,
  FrameKind,
  decodeFrame,
  encodeFrame,
  type BrokerPort,
  type CommandRegistry,
  type ConnectionStatus,
  type Frame,
  type HandshakePort,
  type HelloFrame,
} from '../protocol/index.js';
import { handleHello } from '../protocol/handlers/index.js';
import type { SocketConnection, SocketEvents } from '../transport/index.js';
import type { AuthGrant, VerdictSource } from './auth/index.js';
import type { ConnectionLiveness } from './liveness.js';
import { AddressCounter, FrameRateLimiter, type RateLimits } from './connection-limits.js';
import type { DeviceConnection, DeviceRegistry, LiveDevice } from './device-registry.js';
import type { DeviceSessions, SessionRequest } from './session/device-sessions.js';

/** Frames a client may pipeline after HELLO while it is being authenticated. */
const MAX_QUEUED_DURING_HANDSHAKE = 64;

/** What the gateway keeps on each of its sockets. */
export class ConnectionSlot implements ConnectionStatus {
  state = ConnectionState.AwaitingHello;
  /** Frames pipelined after HELLO while it is being authenticated; handled once admitted. */
  readonly queued: Frame[] = [];
  /** Set when admitted: from then on frames go to its actor. */
  device: LiveDevice | undefined = undefined;
  readonly limiter: FrameRateLimiter;

  constructor(limits: RateLimits) {
    this.limiter = new FrameRateLimiter(limits);
  }
}

type GatewayConnection = SocketConnection<ConnectionSlot>;

export interface GatewayDeps {
  registry: CommandRegistry;
  devices: DeviceRegistry;
  shards: { ring: HashRing; refs: Map<string, Ref<never>> };
  authenticate: VerdictSource;
  /** Builds the broker port a device's handlers use (its device set once it exists). */
  newPort(): BrokerPort & { device: LiveDevice };
  sessions: DeviceSessions;
  limits: { maxFrameBytes: number; heartbeatMs: number; maxInflight: number; maxConnectionsPerAddress: number } & RateLimits;
  /** Addresses of TLS-terminating proxies whose identity header is believed. */
  trustedProxies: ReadonlySet<string>;
  log: Logger;
}

/**
 * The connection lifecycle: decode and check every frame (size, rate, shape), hand HELLO to its
 * handler and carry out its effects (admission with takeover, WELCOME), then hand frames to the
 * device's actor. The session itself belongs to the device's DeviceSession.
 */
export class Gateway implements SocketEvents<ConnectionSlot> {
  /** Open connections per source address, over every protocol (MQTT listeners count here too). */
  readonly perAddress: AddressCounter;

  /** What WELCOME announces. */
  private readonly welcomeLimits: HandshakePort<AuthGrant>['limits'];

  constructor(private readonly deps: GatewayDeps) {
    this.perAddress = new AddressCounter(deps.limits.maxConnectionsPerAddress);
    const { heartbeatMs, maxFrameBytes, maxInflight } = deps.limits;
    this.welcomeLimits = { heartbeatMs, maxFrameBytes, maxInflight };
  }

  newSlot(): ConnectionSlot {
    return new ConnectionSlot(this.deps.limits);
  }

  onOpen(conn: GatewayConnection): void {
    if (!this.perAddress.admit(conn.remoteAddress)) {
      conn.slot.state = ConnectionState.Refused;
      conn.close(CloseCode.TOO_MANY_CONNECTIONS, 'too many connections from this address');
    }
  }

  onMessage(conn: GatewayConnection, bytes: Uint8Array, isBinary: boolean): void {
    const slot = conn.slot;
    const device = slot.device;
    // Rate limits come before decoding: garbage costs the broker as much as valid frames do.
    if (device) {
      const verdict = slot.limiter.check(bytes.byteLength);
      if (verdict === 'limited') return this.sendError(conn, ErrorCode.RATE_LIMITED, 'rate limit exceeded: frame dropped');
      if (verdict === 'abusive') return this.closeDevice(device, CloseCode.ABUSE, 'repeatedly over the rate limit');
    }
    if (!isBinary) return this.reject(conn, ErrorCode.MALFORMED_FRAME, 'frames must be binary WebSocket messages');
    if (bytes.byteLength > this.deps.limits.maxFrameBytes) {
      return this.reject(conn, ErrorCode.TOO_LARGE, `frame of ${bytes.byteLength} bytes exceeds ${this.deps.limits.maxFrameBytes}`);
    }
    const decoded = decodeFrame(bytes);
    if (!decoded.ok) return this.reject(conn, decoded.code, decoded.message, decoded.seq);
    if (device) {
      // Recorded on arrival as well: a close stops the actor with ACKs still in its mailbox.
      if (decoded.frame.kind === FrameKind.ACK) device.outbox.ackReceived(decoded.frame.stream, decoded.frame.offset);
      device.actor.post({ type: 'frame', frame: decoded.frame });
      return;
    }
    switch (slot.state) {
      case ConnectionState.AwaitingHello:
        if (decoded.frame.kind !== FrameKind.HELLO) {
          this.sendError(conn, ErrorCode.PROTOCOL_VIOLATION, 'the first frame must be HELLO', decoded.frame.seq);
          conn.close(CloseCode.PROTOCOL_VIOLATION, 'HELLO expected');
          return;
        }
        void this.handshake(conn, decoded.frame).catch((err: unknown) => {
          this.deps.log.error({ err }, 'handshake failed');
          conn.close(CloseCode.INTERNAL_ERROR, 'handshake failed');
        });
        return;
      case ConnectionState.Authenticating:
        if (slot.queued.length >= MAX_QUEUED_DURING_HANDSHAKE) {
          conn.close(CloseCode.PROTOCOL_VIOLATION, 'too many frames before WELCOME');
          return;
        }
        slot.queued.push(decoded.frame);
        return;
      default:
        return;
    }
  }

  onClose(conn: GatewayConnection): void {
    const slot = conn.slot;
    if (slot.state === ConnectionState.Refused) return;
    this.perAddress.release(conn.remoteAddress);
    const device = slot.device;
    // Frames that arrived before the close (a PUB sent just before closing) are still handled.
    if (device) device.actor.finish(() => this.retire(device));
  }

  onFault(conn: GatewayConnection, err: unknown): void {
    this.deps.log.error({ err, remote: conn.remoteAddress }, 'device message handler failed: socket closed');
  }

  /** What the liveness sweep needs to know of a connection. */
  livenessOf(conn: GatewayConnection): ConnectionLiveness {
    const device = conn.slot.device;
    if (!device) return { handshaking: true };
    const expiresAt = device.auth.expiresAt;
    return expiresAt === undefined ? { handshaking: false } : { handshaking: false, credentialsExpireAt: expiresAt };
  }

  /** Closes a device's connection through its actor, so it happens in order with its frames. */
  closeDevice(device: LiveDevice, code: CloseCode, reason: string): void {
    device.actor.post({ type: 'close', code, reason });
  }

  private async handshake(conn: GatewayConnection, hello: HelloFrame): Promise<void> {
    const slot = conn.slot;
    slot.state = ConnectionState.Authenticating;
    const effects = await handleHello(hello, this.handshakePort(conn));
    // Gone while its credentials were checked: nothing to admit.
    if (conn.closed) return;
    for (const effect of effects) {
      switch (effect.type) {
        case 'send':
          conn.write(encodeFrame(effect.frame));
          break;
        case 'close':
          conn.close(effect.code, effect.reason);
          break;
        case 'admit':
          slot.device = this.admit(conn, { deviceId: effect.hello.deviceId, resume: effect.hello.resume ?? [], sessionId: effect.sessionId }, effect.version, effect.grant, slot);
          break;
      }
    }
    const device = slot.device;
    if (!device) return;
    device.actor.post({ type: 'start' });
    for (const frame of slot.queued) device.actor.post({ type: 'frame', frame });
    slot.queued.length = 0;
  }

  private handshakePort(conn: GatewayConnection): HandshakePort<AuthGrant> {
    const proxied = conn.identityHeader !== undefined && this.deps.trustedProxies.has(conn.remoteAddress) ? conn.identityHeader : undefined;
    return {
      versions: this.deps.registry.versions(),
      limits: this.welcomeLimits,
      authenticate: (hello) =>
        this.deps.authenticate({
          deviceId: hello.deviceId,
          remoteAddress: conn.remoteAddress,
          ...(hello.token !== undefined ? { token: hello.token } : {}),
          ...(proxied !== undefined ? { proxiedIdentity: proxied } : {}),
        }),
      hasSession: (deviceId) => this.deps.sessions.has(deviceId),
      newSessionId,
    };
  }

  /**
   * Creates the session and device actor of an authenticated connection (of any protocol); an
   * older connection of the same device is replaced. The caller dispatches 'start' once it
   * answered the handshake.
   */
  admit(
    conn: DeviceConnection,
    request: Omit<SessionRequest, 'sessionId' | 'version'> & { sessionId?: string },
    version: number,
    auth: AuthGrant,
    /** The connection's state (a WebSocket's slot; MQTT keeps its own handshake apart). */
    status: ConnectionStatus = { state: ConnectionState.Authenticated },
  ): LiveDevice {
    status.state = ConnectionState.Authenticated;
    const deviceId = request.deviceId;
    const session = this.deps.sessions.open({ ...request, sessionId: request.sessionId ?? newSessionId(), version }, conn);
    const shardName = this.deps.shards.ring.locate(deviceId)!;
    const shard = this.deps.shards.refs.get(shardName)!;
    const actorName = `${shardName}.c${conn.id}.${actorSafe(deviceId)}`;
    const broker = this.deps.newPort();
    const context = { session, status, registry: this.deps.registry, broker, outbound: conn, onLive: () => session.restore() };
    const actor = spawnDeviceActor(shard, actorName, context, turnScheduler);
    const device: LiveDevice = { session, status, conn, actor, actorName, outbox: session.outbox, auth: { ...auth } };
    broker.device = device;
    session.bind(device);
    const previous = this.deps.devices.add(device);
    if (previous) {
      this.retire(previous);
      previous.conn.close(CloseCode.SESSION_TAKEN_OVER, 'another connection took over this device id');
      this.deps.log.info({ deviceId }, 'session taken over');
    }
    return device;
  }

  /** Forgets a device connection: registry, subscriptions, actor. Safe to call twice. */
  retire(device: LiveDevice): void {
    if (!this.deps.devices.remove(device)) return;
    device.status.state = ConnectionState.Closing;
    device.session.retire();
    device.actor.stop();
  }

  private reject(conn: GatewayConnection, code: ErrorCode, message: string, ref?: number): void {
    this.sendError(conn, code, message, ref);
    // Before the handshake there is no session worth keeping: garbage closes the socket.
    if (conn.slot.state === ConnectionState.AwaitingHello) conn.close(CloseCode.PROTOCOL_VIOLATION, 'bad frame before HELLO');
  }

  private sendError(conn: GatewayConnection, code: ErrorCode, message: string, ref?: number): void {
    conn.write(encodeFrame({ kind: FrameKind.ERROR, seq: 0, code, message, ...(ref !== undefined ? { ref } : {}) }));
  }
}

/**
 * A session id, kept as long as its session. randomUUID() builds its text by concatenation: a
 * rope of some 30 pieces (~480 bytes) until the string is first read, which flattens it to ~60.
 * An MQTT session's id is never sent, so it is read here.
 */
function newSessionId(): string {
  const id = randomUUID();
  id.charCodeAt(0);
  return id;
}

/** nact accepts only URI-safe actor names. */
function actorSafe(deviceId: string): string {
  return deviceId.slice(0, 64).replace(/[^a-z0-9\-_]/gi, '_');
}
