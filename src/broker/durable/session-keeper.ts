import { inboxStream, type Qos } from '../../protocol/index.js';
import type { MessageStore, SessionRecord } from '../../store/index.js';
import type { DurableIndex } from './durable-index.js';

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

  /** Starts the expiry clock of a device that went away (`expiryMs`: the client's own choice, e.g. MQTT's). */
  saveDisconnected(deviceId: string, subscriptions: ReadonlyMap<string, Qos>, expiryMs = this.expiryMs): void {
    const now = Date.now();
    void this.store.saveSession(deviceId, { subscriptions: [...subscriptions], expiresAt: now + expiryMs, updatedAt: now });
  }

  /**
   * Ends a device's session now (MQTT clean start, or a session that ends with its connection):
   * subscriptions, cursors and what waited in its inbox are gone; a later connection starts afresh.
   */
  discard(deviceId: string, index: DurableIndex): void {
    index.forgetDevice(deviceId);
    const inbox = inboxStream(deviceId);
    index.advance(deviceId, inbox, this.store.head(inbox).lastOffset);
    void this.store.deleteSession(deviceId);
  }
}
