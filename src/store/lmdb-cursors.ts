import type { Database } from 'lmdb';
import type { Settle } from './lmdb-streams.js';
import type { CursorPosition } from './types.js';

export type CursorKey = [subscriberId: string, stream: string];

/** Sorts after every string in an ordered-binary key, so [id, AFTER_ALL] ends id's range. */
const AFTER_ALL = new Uint8Array([0xff]);

/** One write in flight; `offset` is undefined for a removal. Compared by identity. */
interface PendingWrite {
  offset: number | undefined;
}

/**
 * Per-subscriber cursors keyed [subscriberId, stream]: one write per advance. Writes still in
 * flight are kept in memory so that reads, and the never-move-back check, see them at once.
 */
export class CursorTable {
  /** subscriberId → stream → the latest write not yet committed. */
  private readonly inFlight = new Map<string, Map<string, PendingWrite>>();

  constructor(
    private readonly db: Database<number, CursorKey>,
    private readonly settle: Settle,
  ) {}

  set(subscriberId: string, stream: string, offset: number): Promise<void> {
    const current = this.get(subscriberId, stream);
    if (current !== undefined && offset <= current) return Promise.resolve();
    return this.track(subscriberId, stream, { offset }, this.db.put([subscriberId, stream], offset));
  }

  get(subscriberId: string, stream: string): number | undefined {
    const pending = this.inFlight.get(subscriberId)?.get(stream);
    if (pending) return pending.offset;
    return this.db.get([subscriberId, stream]);
  }

  all(subscriberId: string): Map<string, number> {
    const out = new Map<string, number>();
    for (const { key, value } of this.db.getRange({ start: [subscriberId], end: [subscriberId, AFTER_ALL] })) {
      out.set(key[1], value);
    }
    for (const [stream, pending] of this.inFlight.get(subscriberId) ?? []) {
      if (pending.offset === undefined) out.delete(stream);
      else out.set(stream, pending.offset);
    }
    return out;
  }

  /** Every cursor, in key order for committed ones; in-flight writes override them and come last when new. */
  *everyCursor(): Iterable<CursorPosition> {
    const overridden = new Set<PendingWrite>();
    for (const { key, value } of this.db.getRange()) {
      const [subscriberId, stream] = key;
      const pending = this.inFlight.get(subscriberId)?.get(stream);
      if (pending) overridden.add(pending);
      const offset = pending ? pending.offset : value;
      if (offset !== undefined) yield { subscriberId, stream, offset };
    }
    for (const [subscriberId, streams] of this.inFlight) {
      for (const [stream, pending] of streams) {
        if (!overridden.has(pending) && pending.offset !== undefined) yield { subscriberId, stream, offset: pending.offset };
      }
    }
  }

  remove(subscriberId: string, stream: string): Promise<void> {
    return this.track(subscriberId, stream, { offset: undefined }, this.db.remove([subscriberId, stream]));
  }

  private track(subscriberId: string, stream: string, pending: PendingWrite, write: Promise<boolean>): Promise<void> {
    let streams = this.inFlight.get(subscriberId);
    if (!streams) this.inFlight.set(subscriberId, (streams = new Map()));
    streams.set(stream, pending);
    const settled = (): void => {
      // A later write to the same cursor owns the entry now.
      if (streams.get(stream) !== pending) return;
      streams.delete(stream);
      if (streams.size === 0 && this.inFlight.get(subscriberId) === streams) this.inFlight.delete(subscriberId);
    };
    return this.settle(write).then(settled, (err: unknown) => {
      settled();
      throw err;
    });
  }
}
