import type { Database, RootDatabase } from 'lmdb';
import type { Settle } from './lmdb-streams.js';
import type { SessionRecord, SubscriptionFlags } from './types.js';

export type ExpiryKey = [expiresAt: number, deviceId: string];

/**
 * Device sessions keyed by device id, with an index keyed [expiresAt, deviceId] so that an
 * expiry sweep reads only what expired. Record and index change in one transaction.
 */
export class SessionTable {
  constructor(
    private readonly root: RootDatabase,
    private readonly sessions: Database<SessionRecord, string>,
    private readonly byExpiry: Database<true, ExpiryKey>,
    private readonly settle: Settle,
  ) {}

  save(deviceId: string, record: SessionRecord): Promise<void> {
    // Copy the known fields only: callers' objects may carry more.
    const stored: SessionRecord = {
      subscriptions: record.subscriptions.map(([filter, qos, flags]) => (flags ? [filter, qos, copyFlags(flags)] : [filter, qos])),
      ...(record.shared?.length ? { shared: record.shared.map(([group, filter, qos, flags]) => (flags ? [group, filter, qos, copyFlags(flags)] : [group, filter, qos])) } : {}),
      expiresAt: record.expiresAt,
      updatedAt: record.updatedAt,
    };
    return this.write(() => {
      this.unindex(deviceId);
      void this.sessions.put(deviceId, stored);
      void this.byExpiry.put([stored.expiresAt, deviceId], true);
    });
  }

  load(deviceId: string): SessionRecord | undefined {
    return this.sessions.get(deviceId);
  }

  *all(): Iterable<[deviceId: string, record: SessionRecord]> {
    for (const { key, value } of this.sessions.getRange()) yield [key, value];
  }

  delete(deviceId: string): Promise<void> {
    return this.write(() => {
      this.unindex(deviceId);
      void this.sessions.remove(deviceId);
    });
  }

  expired(now: number, limit: number): string[] {
    const out: string[] = [];
    if (limit === 0) return out;
    for (const [expiresAt, deviceId] of this.byExpiry.getKeys()) {
      if (expiresAt > now) break;
      out.push(deviceId);
      if (out.length >= limit) break;
    }
    return out;
  }

  /** Runs inside the transaction, so it sees every earlier save and delete. */
  private unindex(deviceId: string): void {
    const old = this.sessions.get(deviceId);
    if (old) void this.byExpiry.remove([old.expiresAt, deviceId]);
  }

  private write(body: () => void): Promise<void> {
    return this.settle(this.root.transaction(body)).then(() => undefined);
  }
}

function copyFlags({ noLocal, retainAsPublished, subscriptionId }: SubscriptionFlags): SubscriptionFlags {
  return { ...(noLocal ? { noLocal } : {}), ...(retainAsPublished ? { retainAsPublished } : {}), ...(subscriptionId !== undefined ? { subscriptionId } : {}) };
}
