import { inboxStream, type Outbound, type StreamPosition } from '../../protocol/index.js';
import type { MessageStore, SessionRecord } from '../../store/index.js';
import { DurableOutbox, type OutboxLimits, type OutboxObserver } from '../durable/outbox.js';
import type { SubscriptionFlagsSource } from '../durable/session-keeper.js';
import { DeviceSession, type GroupMembership, type SessionServices } from './device-session.js';

export interface DeviceSessionsDeps extends SessionServices {
  store: MessageStore;
  outbox: OutboxLimits;
  outboxObserver?: OutboxObserver;
}

/** What a connection asks for when its device is admitted. */
export interface SessionRequest {
  deviceId: string;
  sessionId: string;
  version: number;
  resume: readonly StreamPosition[];
  /** The client's own session expiry (MQTT). */
  expiryMs?: number;
  /** The client's own, smaller QoS 1 window (MQTT receive maximum). */
  maxInflight?: number;
  /** The connection's `$share` groups (MQTT). */
  groups?: GroupMembership;
  /** The options of the connection's subscriptions (MQTT 5), kept in the stored session. */
  flags?: SubscriptionFlagsSource;
}

/** Opens device sessions, and answers for stored sessions of devices that are not connected. */
export class DeviceSessions {
  constructor(private readonly deps: DeviceSessionsDeps) {}

  open(request: SessionRequest, conn: Outbound): DeviceSession {
    const { deviceId } = request;
    const { store, index } = this.deps;
    const inbox = inboxStream(deviceId);
    const outbox = new DurableOutbox(
      store,
      conn,
      { ackTimeoutMs: this.deps.outbox.ackTimeoutMs, maxInflight: Math.min(request.maxInflight ?? this.deps.outbox.maxInflight, this.deps.outbox.maxInflight) },
      (stream) => index.cursor(deviceId, stream) ?? (stream === inbox ? 0 : undefined),
      (stream, offset) => index.acked(deviceId, stream, offset),
      this.deps.outboxObserver,
    );
    return new DeviceSession(deviceId, request.sessionId, request.version, outbox, this.deps, request.resume, request.expiryMs, request.groups, request.flags);
  }

  /** Whether the broker holds a stored session of the device. */
  has(deviceId: string): boolean {
    return this.deps.keeper.load(deviceId) !== undefined;
  }

  /** The device's stored session, if it has one. */
  stored(deviceId: string): SessionRecord | undefined {
    return this.deps.keeper.load(deviceId);
  }

  /** Ends the stored session of a device now (MQTT clean start). */
  discard(deviceId: string): void {
    this.deps.keeper.discard(deviceId, this.deps.index);
  }
}
