import type { Qos } from '../../protocol/index.js';
import type { MessageStore, SessionRecord } from '../../store/index.js';
import { detachWrite, type StoreWriteFailed } from './detached-writes.js';

/** While a device is connected its session does not expire. */
const WHILE_CONNECTED = Number.MAX_SAFE_INTEGER;

/** Durable sessions: a device's subscriptions survive disconnects and restarts until expiry. */
export class SessionKeeper {
  constructor(
    private readonly store: MessageStore,
    private readonly expiryMs: number,
    private readonly writeFailed: StoreWriteFailed,
  ) {}

  load(deviceId: string): SessionRecord | undefined {
    const record = this.store.loadSession(deviceId);
    return record && record.expiresAt > Date.now() ? record : undefined;
  }

  /** Saves the subscriptions of a connected device. */
  saveConnected(deviceId: string, subscriptions: ReadonlyMap<string, Qos>): void {
    this.save(deviceId, { subscriptions: [...subscriptions], expiresAt: WHILE_CONNECTED, updatedAt: Date.now() });
  }

  /** Starts the expiry clock of a device that went away. */
  saveDisconnected(deviceId: string, subscriptions: ReadonlyMap<string, Qos>): void {
    const now = Date.now();
    this.save(deviceId, { subscriptions: [...subscriptions], expiresAt: now + this.expiryMs, updatedAt: now });
  }

  private save(deviceId: string, record: SessionRecord): void {
    detachWrite(this.store.saveSession(deviceId, record), 'saveSession', this.writeFailed);
  }
}
