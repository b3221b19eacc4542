import { inboxStream, type Qos } from '../../protocol/index.js';
import type { MessageStore, SessionRecord, StoredSharedSubscription, StoredSubscription, SubscriptionFlags } from '../../store/index.js';
import { detachWrite, type StoreWriteFailed } from './detached-writes.js';
import type { DurableIndex } from './durable-index.js';

/** What a session holds: topic filters and MQTT `$share` groups (`[group, filter, qos]`), with their MQTT 5 options. */
export interface HeldSubscriptions {
  filters: ReadonlyMap<string, Qos>;
  shared: Iterable<[group: string, filter: string, qos: Qos]>;
  flags?: SubscriptionFlagsSource;
}

/** The MQTT 5 options of a connection's subscriptions, when they have any set. */
export interface SubscriptionFlagsSource {
  flagsOf(filter: string): SubscriptionFlags | undefined;
  sharedFlagsOf(group: string, filter: string): SubscriptionFlags | undefined;
}

/** While a device is connected its session does not expire. */
const WHILE_CONNECTED = Number.MAX_SAFE_INTEGER;

/** Durable sessions: a device's subscriptions survive disconnects and restarts until expiry. */
export class SessionKeeper {
  /**
   * Writes not yet committed (null: a delete), newest per device: the store's reads see only
   * committed data, and a session discarded a moment ago must not be restored.
   */
  private readonly uncommitted = new Map<string, SessionRecord | null>();

  constructor(
    private readonly store: MessageStore,
    private readonly expiryMs: number,
    private readonly writeFailed: StoreWriteFailed,
  ) {}

  load(deviceId: string): SessionRecord | undefined {
    const pending = this.uncommitted.get(deviceId);
    const record = pending === undefined ? this.store.loadSession(deviceId) : (pending ?? undefined);
    return record && record.expiresAt > Date.now() ? record : undefined;
  }

  /** Saves the subscriptions of a connected device. */
  saveConnected(deviceId: string, held: HeldSubscriptions): void {
    this.save(deviceId, recordOf(held, WHILE_CONNECTED, Date.now()));
  }

  /** Starts the expiry clock of a device that went away (`expiryMs`: the client's own choice, e.g. MQTT's). */
  saveDisconnected(deviceId: string, held: HeldSubscriptions, expiryMs = this.expiryMs): void {
    const now = Date.now();
    this.save(deviceId, recordOf(held, now + expiryMs, now));
  }

  /**
   * Ends a device's session now (MQTT clean start, or a session that ends with its connection):
   * subscriptions, cursors and what waited in its inbox are gone; a later connection starts afresh.
   */
  discard(deviceId: string, index: DurableIndex): void {
    index.forgetDevice(deviceId);
    const inbox = inboxStream(deviceId);
    // What waited in the inbox is passed over. An inbox that never held anything needs no
    // cursor: one per client id ever seen would pile up in memory and in the store.
    const { lastOffset } = this.store.head(inbox);
    if (lastOffset > 0) index.advance(deviceId, inbox, lastOffset);
    this.save(deviceId, null);
  }

  private save(deviceId: string, record: SessionRecord | null): void {
    this.uncommitted.set(deviceId, record);
    const written = record ? this.store.saveSession(deviceId, record) : this.store.deleteSession(deviceId);
    const settled = written.finally(() => {
      if (this.uncommitted.get(deviceId) === record) this.uncommitted.delete(deviceId);
    });
    detachWrite(settled, record ? 'saveSession' : 'deleteSession', this.writeFailed);
  }
}

function recordOf({ filters, shared, flags }: HeldSubscriptions, expiresAt: number, updatedAt: number): SessionRecord {
  const subscriptions = [...filters].map(([filter, qos]): StoredSubscription => {
    const set = flags?.flagsOf(filter);
    return set ? [filter, qos, set] : [filter, qos];
  });
  const groups = [...shared].map(([group, filter, qos]): StoredSharedSubscription => {
    const set = flags?.sharedFlagsOf(group, filter);
    return set ? [group, filter, qos, set] : [group, filter, qos];
  });
  return { subscriptions, ...(groups.length > 0 ? { shared: groups } : {}), expiresAt, updatedAt };
}
