import { randomUUID } from 'node:crypto';
import type { IConnackPacket, IConnectPacket } from 'mqtt-packet';
import { checkPublish, mayReceive, type Authenticator } from '../broker/auth/index.js';
import { FrameRateLimiter, type RateLimits } from '../broker/connection-limits.js';
import type { MessageRouter } from '../broker/delivery.js';
import type { DeviceRegistry, LiveDevice } from '../broker/device-registry.js';
import type { Gateway } from '../broker/gateway.js';
import type { DeviceSessions } from '../broker/session/device-sessions.js';
import type { Logger } from '../logger.js';
import { CloseCode, MAX_USER_PROPERTIES, ProtocolError, type MessageTally, SUPPORTED_VERSIONS, deviceIdProblem, topicFilterProblem, topicNameProblem } from '../protocol/index.js';
import { MqttChannel, type ChannelEffect } from './channel.js';
import { MqttConnection, type ConnectionOwner } from './connection.js';
import { fromMqttProperties } from './publication-properties.js';
import type { MqttLink, MqttLinkEvents, MqttReceiver } from './link.js';
import { Reason, connackV4 } from './reason-codes.js';
import type { RetainedStore } from './retained-store.js';
import type { SentHistory } from './sent-history.js';
import type { SharedSubscriptions } from './shared-subscriptions.js';
import { SubscriptionOptions } from './subscription-options.js';
import { WillTimers, type Will } from './will.js';

/** Topic aliases a 5.0 client may set on its PUBLISHes. */
const TOPIC_ALIAS_MAXIMUM = 64;
/** 5.0 session expiry interval meaning "never". */
const NEVER_EXPIRES = 0xffffffff;

export interface MqttGatewayDeps {
  gateway: Pick<Gateway, 'admit' | 'retire' | 'perAddress'>;
  devices: DeviceRegistry;
  authenticate: Authenticator;
  /** Stored sessions: whether one exists, its record, and ending one now (clean start). */
  sessions: Pick<DeviceSessions, 'has' | 'discard' | 'stored'>;
  router: MessageRouter;
  retained: RetainedStore;
  sentHistory: SentHistory;
  shared: SharedSubscriptions;
  newTraceId(): string;
  /** Where MQTT devices' messages are counted. */
  tally: MessageTally;
  limits: RateLimits & {
    maxPacketBytes: number;
    handshakeTimeoutMs: number;
    /** Longest session a client may ask for. */
    sessionExpiryMs: number;
  };
  log: Logger;
}

/** What CONNECT asked for, kept for the connection's end. */
interface ClientState {
  clientId: string;
  device: LiveDevice;
  will?: Will;
  /** Set by DISCONNECT: whether the will still goes out. */
  goodbye?: { publishWill: boolean };
}

/**
 * MQTT clients (3.1.1 and 5.0, over TCP and WebSocket) as relaymesh devices: CONNECT is
 * authenticated by the broker's authenticator (password = token) and admitted by the same
 * gateway, session and device actor as an SDK client. Also keep-alive, wills and retained messages.
 */
export class MqttGateway implements MqttLinkEvents, ConnectionOwner {
  private readonly connections = new Set<MqttConnection>();
  private readonly clients = new WeakMap<MqttConnection, ClientState>();
  private readonly wills: WillTimers;
  private readonly sweep: NodeJS.Timeout;
  private nextId = 1;
  private stopping = false;

  constructor(private readonly deps: MqttGatewayDeps) {
    this.wills = new WillTimers((clientId, will) => this.publishWill(clientId, will));
    this.sweep = setInterval(() => this.checkLiveness(Date.now()), 250);
    this.sweep.unref();
  }

  onOpen(link: MqttLink): MqttReceiver {
    const conn = new MqttConnection(`m${this.nextId++}`, link, this, this.deps.limits.maxPacketBytes, this.deps.tally);
    if (this.stopping || !this.deps.gateway.perAddress.admit(link.remoteAddress)) {
      conn.refuse(Reason.QUOTA_EXCEEDED, 'too many connections from this address');
      return { receive: () => undefined, linkClosed: () => undefined };
    }
    this.connections.add(conn);
    return conn;
  }

  connect(conn: MqttConnection, packet: IConnectPacket): void {
    this.admit(conn, packet).catch((err: unknown) => {
      this.deps.log.error({ err }, 'MQTT CONNECT failed');
      this.refuseConnect(conn, Reason.UNSPECIFIED_ERROR, 'internal error');
    });
  }

  carryOut(conn: MqttConnection, effect: Extract<ChannelEffect, { type: 'retain' | 'granted' | 'goodbye' }>): void {
    const live = conn.live;
    const client = this.clients.get(conn);
    if (!live || !client) return;
    switch (effect.type) {
      case 'retain':
        if (!mayPublish(live.device.auth.acl, effect.topic)) return;
        this.deps.retained.retain({
          topic: effect.topic,
          payload: effect.payload,
          qos: effect.qos,
          traceId: this.deps.newTraceId(),
          from: client.clientId,
          ...(effect.props ? { props: effect.props } : {}),
        });
        return;
      case 'granted':
        for (const granted of effect.filters) {
          for (const message of this.deps.retained.matching(granted.filter)) {
            conn.send(live.channel.retainedPacket(message, granted));
            conn.tally.messagesOut++;
          }
        }
        return;
      case 'goodbye':
        client.goodbye = { publishWill: effect.publishWill };
        if (effect.sessionExpirySeconds !== undefined) live.device.session.expiryMs = this.expiryMs(effect.sessionExpirySeconds);
        conn.end();
        return;
    }
  }

  closed(conn: MqttConnection): void {
    if (!this.connections.delete(conn)) return;
    this.deps.gateway.perAddress.release(conn.remoteAddress);
    const client = this.clients.get(conn);
    if (!client) return;
    const current = this.deps.devices.get(client.clientId);
    const takenOver = current !== undefined && current.conn !== conn;
    const expiryMs = client.device.session.expiryMs ?? 0;
    // Away with a stored session: still in its groups (the new connection of a takeover rejoins them itself).
    if (!takenOver && expiryMs > 0) {
      const expiresAt = Date.now() + expiryMs;
      for (const [group, filter] of client.device.session.sharedSubscriptions) this.deps.shared.park(client.clientId, group, filter, expiresAt);
    }
    this.deps.shared.leaveAll(conn);
    this.deps.gateway.retire(client.device);
    // A session that ends with its connection has nothing to redeliver later.
    if (!takenOver && expiryMs === 0) this.forgetSession(client.clientId);
    // A client replaced by a new connection of its own id is not gone: no will (spec 3.1.4-3).
    if (client.will && !this.stopping && !takenOver && (client.goodbye?.publishWill ?? true)) {
      this.wills.due(client.clientId, client.will, Math.min(client.will.delayMs, client.device.session.expiryMs ?? 0));
    }
  }

  joinGroup(conn: MqttConnection, group: string, filter: string, qos: 0 | 1): Reason | undefined {
    const live = conn.live;
    if (!live) return Reason.UNSPECIFIED_ERROR;
    if (topicFilterProblem(filter)) return Reason.TOPIC_FILTER_INVALID;
    if (!mayReceive(live.device.auth.acl, filter)) return Reason.NOT_AUTHORIZED;
    live.device.session.joinGroup(group, filter, qos);
    return undefined;
  }

  leaveGroup(conn: MqttConnection, group: string, filter: string): void {
    conn.live?.device.session.leaveGroup(group, filter);
  }

  roomFreed(conn: MqttConnection): void {
    this.deps.shared.roomFreed(conn);
  }

  failed(conn: MqttConnection, err: unknown): void {
    this.deps.log.error({ err, clientId: this.clients.get(conn)?.clientId }, 'MQTT connection failed; closing it');
  }

  /** Stops: no new clients, every open one told the server is shutting down. */
  close(): void {
    this.stopping = true;
    clearInterval(this.sweep);
    this.wills.clear();
    for (const conn of [...this.connections]) {
      conn.close(CloseCode.SHUTTING_DOWN, 'broker shutting down');
      // Now, not when the socket is gone: the broker's fan-out and store close right after this.
      this.closed(conn);
    }
  }

  get connectionCount(): number {
    return this.connections.size;
  }

  private async admit(conn: MqttConnection, packet: IConnectPacket): Promise<void> {
    const v5 = packet.protocolVersion === 5;
    if (packet.protocolVersion !== 4 && !v5) return this.refuseConnect(conn, Reason.UNSUPPORTED_PROTOCOL_VERSION, 'MQTT 3.1.1 and 5.0 are supported');
    let clientId = packet.clientId;
    const assigned = clientId === '';
    if (assigned) {
      // 3.1.1 assigns an id only to a clean session (spec 3.1.3-8).
      if (!v5 && !packet.clean) return this.refuseConnect(conn, Reason.CLIENT_IDENTIFIER_NOT_VALID, 'an empty client id needs a clean session');
      clientId = `mqtt-${randomUUID()}`;
    }
    const idProblem = deviceIdProblem(clientId);
    if (idProblem) return this.refuseConnect(conn, Reason.CLIENT_IDENTIFIER_NOT_VALID, idProblem);
    const willPacket = packet.will;
    if (willPacket) {
      if (willPacket.qos === 2 && v5) return this.refuseConnect(conn, Reason.QOS_NOT_SUPPORTED, 'QoS 2 is not supported');
      const problem = topicNameProblem(willPacket.topic);
      if (problem) return this.refuseConnect(conn, Reason.TOPIC_NAME_INVALID, `will topic: ${problem}`);
    }
    const password = packet.password?.toString('utf8');
    const auth = await this.deps.authenticate({ deviceId: clientId, remoteAddress: conn.remoteAddress, ...(password !== undefined ? { token: password } : {}) });
    if (conn.closed) return;
    if (!auth.ok) return this.refuseConnect(conn, password !== undefined ? Reason.BAD_USERNAME_OR_PASSWORD : Reason.NOT_AUTHORIZED, auth.reason ?? 'not authorized');
    if (willPacket && !mayPublish(auth.acl, willPacket.topic)) return this.refuseConnect(conn, Reason.NOT_AUTHORIZED, 'the will topic is not allowed');

    const clean = packet.clean !== false;
    const requestedExpiry = v5 ? (packet.properties?.sessionExpiryInterval ?? 0) : clean ? 0 : NEVER_EXPIRES;
    const sessionExpiryMs = this.expiryMs(requestedExpiry);
    const sessionPresent = !clean && this.deps.sessions.has(clientId);
    this.wills.cancel(clientId);
    const receiveMaximum = packet.properties?.receiveMaximum;
    // Loaded from the stored session once admit has let a connection it took over save it.
    const subscriptionOptions = new SubscriptionOptions();
    const device = this.deps.gateway.admit(
      conn,
      // The client's receive maximum is its QoS 1 inflight window (the broker's maxInflight caps it).
      {
        deviceId: clientId,
        resume: [],
        expiryMs: sessionExpiryMs,
        ...(receiveMaximum !== undefined ? { maxInflight: receiveMaximum } : {}),
        groups: { join: (group, filter, qos) => this.deps.shared.join(conn, group, filter, qos, clientId), leave: (group, filter) => this.deps.shared.leave(conn, group, filter) },
        flags: subscriptionOptions,
      },
      SUPPORTED_VERSIONS[SUPPORTED_VERSIONS.length - 1]!,
      auth,
    );
    // After admit: a connection it took over has saved its session by now, and clean start must win.
    if (clean) {
      this.deps.sessions.discard(clientId);
      this.forgetSession(clientId);
      this.deps.shared.unparkAll(clientId);
    }
    const stored = clean ? undefined : this.deps.sessions.stored(clientId);
    if (stored) subscriptionOptions.load(stored);

    const willProps = v5 ? fromMqttProperties(willPacket?.properties) : undefined;
    if ((willProps?.userProperties?.length ?? 0) > MAX_USER_PROPERTIES) {
      return this.refuseConnect(conn, Reason.IMPLEMENTATION_SPECIFIC_ERROR, `will: more than ${MAX_USER_PROPERTIES} user properties`);
    }
    const will: Will | undefined = willPacket && {
      topic: willPacket.topic,
      payload: typeof willPacket.payload === 'string' ? Buffer.from(willPacket.payload) : willPacket.payload,
      qos: willPacket.qos === 0 || willPacket.qos === undefined ? (0 as const) : (1 as const),
      retain: willPacket.retain === true,
      delayMs: (willPacket.properties?.willDelayInterval ?? 0) * 1000,
      ...(willProps ? { props: willProps } : {}),
    };
    this.clients.set(conn, { clientId, device, ...(will ? { will } : {}) });
    const connack: IConnackPacket = { cmd: 'connack', sessionPresent };
    if (v5) {
      connack.reasonCode = Reason.SUCCESS;
      connack.properties = {
        maximumQoS: 1,
        retainAvailable: true,
        sharedSubscriptionAvailable: true,
        wildcardSubscriptionAvailable: true,
        subscriptionIdentifiersAvailable: true,
        topicAliasMaximum: TOPIC_ALIAS_MAXIMUM,
        maximumPacketSize: this.deps.limits.maxPacketBytes,
        ...(assigned ? { assignedClientIdentifier: clientId } : {}),
        // The broker's cap, when it cut the client's wish short.
        ...(sessionExpiryMs < requestedExpiry * 1000 ? { sessionExpiryInterval: Math.floor(sessionExpiryMs / 1000) } : {}),
      };
    } else {
      connack.returnCode = 0;
    }
    conn.send(connack);
    conn.keepAliveMs = packet.keepalive ? packet.keepalive * 1500 : 0;
    device.actor.post({ type: 'start' });
    conn.goLive({
      channel: new MqttChannel(
        {
          clientId,
          protocolVersion: v5 ? 5 : 4,
          topicAliasMaximum: v5 ? TOPIC_ALIAS_MAXIMUM : 0,
          storedFilters: (stored?.subscriptions ?? []).map(([filter]) => filter),
          subscriptionOptions,
          shares: conn,
        },
        this.deps.sentHistory,
      ),
      device,
      limiter: new FrameRateLimiter(this.deps.limits),
      maxOutgoingBytes: packet.properties?.maximumPacketSize ?? Number.MAX_SAFE_INTEGER,
    });
  }

  private refuseConnect(conn: MqttConnection, reason: Reason, message: string): void {
    if (conn.closed) return;
    const v5 = conn.protocolVersion === 5;
    conn.send(
      v5
        ? { cmd: 'connack', sessionPresent: false, reasonCode: reason, properties: { reasonString: message.slice(0, 200) } }
        : { cmd: 'connack', sessionPresent: false, returnCode: connackV4(reason) },
    );
    conn.refuse(reason, message);
  }

  /** A stored session expired unseen (its client never came back): forget what memory holds of it. */
  sessionExpired(clientId: string): void {
    this.forgetSession(clientId);
  }

  /** What is kept in memory of a client id's session, when the session ends. */
  private forgetSession(clientId: string): void {
    this.deps.sentHistory.forget(clientId);
  }

  /** The broker's session expiry caps what a client asks for (seconds, 0xFFFFFFFF: never). */
  private expiryMs(seconds: number): number {
    return seconds === NEVER_EXPIRES ? this.deps.limits.sessionExpiryMs : Math.min(seconds * 1000, this.deps.limits.sessionExpiryMs);
  }

  private publishWill(clientId: string, will: Will): void {
    const publication = {
      topic: will.topic,
      payload: will.payload,
      qos: will.qos,
      traceId: this.deps.newTraceId(),
      from: clientId,
      ...(will.props ? { props: will.props } : {}),
      ...(will.retain ? { retain: true } : {}),
    };
    Promise.resolve()
      .then(() => this.deps.router.publish(publication))
      .catch((err: unknown) => this.deps.log.warn({ err, clientId }, 'will message not published'));
    if (will.retain) this.deps.retained.retain(publication);
  }

  private checkLiveness(now: number): void {
    for (const conn of this.connections) {
      if (conn.connecting) {
        if (now - conn.openedAt > this.deps.limits.handshakeTimeoutMs) conn.refuse(Reason.PROTOCOL_ERROR, 'no CONNECT in time');
        continue;
      }
      const expiresAt = conn.live?.device.auth.expiresAt;
      if (expiresAt !== undefined && now >= expiresAt) conn.close(CloseCode.TOKEN_EXPIRED, 'token expired');
      else if (conn.keepAliveMs > 0 && now - conn.lastSeenAt > conn.keepAliveMs) conn.close(CloseCode.HEARTBEAT_TIMEOUT, 'keep-alive timeout');
    }
  }
}

function mayPublish(acl: Parameters<typeof checkPublish>[0], topic: string): boolean {
  try {
    checkPublish(acl, topic);
    return true;
  } catch (err) {
    if (err instanceof ProtocolError) return false;
    throw err;
  }
}
