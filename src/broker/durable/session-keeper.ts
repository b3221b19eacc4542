import type { Qos } from '../../protocol/index.js';
import type { MessageStore, SessionRecord } from '../../store/index.js';

/** While a device is connected its session does not expire. */
const WHILE_CONNECTED = Number.MAX_SAFE_INTEGER;

/** Durable sessions: a device's subscriptions survive disconnects and restarts until expiry. */
export class SessionKeeper {
  constructor(
    private readonly store: MessageStore,
    private readonly expiryMs: number,
  ) {}

  load(deviceId: string): SessionRecord | undefined {
    const record = this.store.loadSession(deviceId);
    return record && record.expiresAt > Date.now() ? record : undefined;
  }

  /** Saves the subscriptions of a connected device. */
  saveConnected(deviceId: string, subscriptions: ReadonlyMap<string, Qos>): void {
    void this.store.saveSession(deviceId, { subscriptions: [...subscriptions], expiresAt: WHILE_CONNECTED, updatedAt: Date.now() });
  }

  /** Starts the expiry clock of a device that went away. */
  saveDisconnected(deviceId: string, subscriptions: ReadonlyMap<string, Qos>): void {
    const now = Date.now();
    void this.store.saveSession(deviceId, { subscriptions: [...subscriptions], expiresAt: now + this.expiryMs, updatedAt: now });
  }
}
