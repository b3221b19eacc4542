import type { DeviceActor } from '../../actors/device-actor.js';
import type { ConnectionStatus, Outbound } from '../protocol/index.js';

import type { Acl } from './auth/index.js';
import type { DurableOutbox } from './durable/outbox.js';
import type { DeviceSession } from './session/device-session.js';

/** The connection of a live device: a WebSocket of relaymesh's protocol, or an MQTT connection. */
export interface DeviceConnection extends Outbound {
  /** Unique among this broker's open connections (names the device actor). */
  readonly id: number | string;
  readonly remoteAddress: string;
  readonly framesDropped: number;
}

/** A device with a live, authenticated connection on this node. */
export interface LiveDevice {
  session: DeviceSession;
  /** Where its connection is in its life (shared with its device actor). */
  status: ConnectionStatus;
  conn: DeviceConnection;
  /**
   * `session.outbox` (readonly there and here, so the two never differ), held on the device
   * because the fan-out leaves reach a member's outbox in one property read.
   */
  readonly outbox: DurableOutbox;
  actor: DeviceActor;
  actorName: string;
  /** What the credentials allow, and until when; replaced by a token refresh. */
  auth: { acl?: Acl; expiresAt?: number };
}

/** Which device is connected where: at most one live connection per device id. */
export class DeviceRegistry {
  private readonly byDeviceId = new Map<string, LiveDevice>();
  private readonly byActorName = new Map<string, LiveDevice>();

  get(deviceId: string): LiveDevice | undefined {
    return this.byDeviceId.get(deviceId);
  }

  byActor(actorName: string): LiveDevice | undefined {
    return this.byActorName.get(actorName);
  }

  /** Registers `device`, returning the connection it replaces (session takeover), if any. */
  add(device: LiveDevice): LiveDevice | undefined {
    const previous = this.byDeviceId.get(device.session.deviceId);
    this.byDeviceId.set(device.session.deviceId, device);
    this.byActorName.set(device.actorName, device);
    return previous;
  }

  /** Removes `device`; returns false when it was already removed. */
  remove(device: LiveDevice): boolean {
    if (!this.byActorName.delete(device.actorName)) return false;
    if (this.byDeviceId.get(device.session.deviceId) === device) this.byDeviceId.delete(device.session.deviceId);
    return true;
  }

  get size(): number {
    return this.byDeviceId.size;
  }

  values(): IterableIterator<LiveDevice> {
    return this.byDeviceId.values();
  }
}
