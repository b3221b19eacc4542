import { randomBytes } from 'node:crypto';
import type { Database, RootDatabase } from 'lmdb';
import type { Qos } from '../protocol/frames.js';
import type { MessageProperties } from '../protocol/message-properties.js';
import type { Appended, NewEntry, RetentionLimits, StoredEntry, StreamHead } from './types.js';

/**
 * An entry on disk, keyed [stream, offset]: one write per message. Optional fields trail and
 * are left out when absent (null when only a later field is present).
 */
export type EntryValue = [
  publishedAt: number,
  traceId: string,
  payload: Uint8Array,
  from?: string | null,
  hops?: string[] | null,
  props?: MessageProperties | null,
  qos?: Qos | null,
  retain?: true,
];
export type EntryKey = [stream: string, offset: number];

/**
 * A stream's record, written when the stream is created, pruned or reset (never per append).
 * Offsets below `firstOffset` were dropped, so the next offset is at least `firstOffset`.
 */
export interface StreamRecord {
  epoch: string;
  firstOffset: number;
}

/** Makes a write's promise resolve only once the write is as durable as the store promises. */
export type Settle = <T>(write: Promise<T>) => Promise<T>;

interface StreamState {
  epoch: string;
  /** Oldest retained offset. */
  first: number;
  /** Offset the next append gets. */
  next: number;
}

const LAST_OFFSET = Number.MAX_SAFE_INTEGER;

function newEpoch(): string {
  return randomBytes(8).toString('base64url');
}

/**
 * Stream logs on LMDB. Offsets are assigned in memory at call time; after a restart the next
 * offset is derived from the newest committed entry (and the record's floor), never from a
 * counter that could lag. Deletions cover only offsets assigned before the call, so appends
 * issued in the same tick as a prune or reset are never caught by it.
 */
export class StreamLog {
  private readonly states = new Map<string, StreamState>();

  constructor(
    private readonly root: RootDatabase,
    private readonly entries: Database<EntryValue, EntryKey>,
    private readonly records: Database<StreamRecord, string>,
    private readonly settle: Settle,
  ) {}

  append(stream: string, entry: NewEntry): Promise<Appended> {
    const state = this.state(stream) ?? this.create(stream).state;
    const offset = state.next++;
    const epoch = state.epoch;
    const value: EntryValue = [Date.now(), entry.traceId, entry.payload];
    if (entry.retain) value.push(entry.from ?? null, entry.hops ?? null, entry.props ?? null, entry.qos ?? null, true);
    else if (entry.qos !== undefined) value.push(entry.from ?? null, entry.hops ?? null, entry.props ?? null, entry.qos);
    else if (entry.props !== undefined) value.push(entry.from ?? null, entry.hops ?? null, entry.props);
    else if (entry.hops !== undefined) value.push(entry.from ?? null, entry.hops);
    else if (entry.from !== undefined) value.push(entry.from);
    return this.settle(this.entries.put([stream, offset], value)).then(() => ({ offset, epoch }));
  }

  read(stream: string, afterOffset: number, limit: number): StoredEntry[] {
    const state = this.state(stream);
    if (!state || limit === 0) return [];
    const start = Math.max(afterOffset + 1, state.first);
    const out: StoredEntry[] = [];
    for (const { key, value } of this.entries.getRange({ start: [stream, start], end: [stream, LAST_OFFSET], limit })) {
      const [publishedAt, traceId, payload, from, hops, props, qos, retain] = value;
      const entry: StoredEntry = { stream, offset: key[1], payload, traceId, publishedAt };
      if (from !== undefined && from !== null) entry.from = from;
      if (hops !== undefined && hops !== null) entry.hops = hops;
      if (props !== undefined && props !== null) entry.props = props;
      if (qos !== undefined && qos !== null) entry.qos = qos;
      if (retain) entry.retain = true;
      out.push(entry);
    }
    return out;
  }

  head(stream: string): StreamHead {
    const state = this.state(stream);
    if (!state) return { epoch: '', firstOffset: 1, lastOffset: 0 };
    return { epoch: state.epoch, firstOffset: state.first, lastOffset: state.next - 1 };
  }

  resetStream(stream: string): Promise<string> {
    const state = this.state(stream);
    if (!state) {
      const created = this.create(stream);
      return this.settle(created.written).then(() => created.state.epoch);
    }
    const last = state.next - 1;
    state.epoch = newEpoch();
    state.first = state.next;
    return this.rewrite(stream, last, { epoch: state.epoch, firstOffset: state.first }).then(() => state.epoch);
  }

  pruneThrough(stream: string, offset: number): Promise<number> {
    const state = this.state(stream);
    if (!state) return Promise.resolve(0);
    const through = Math.min(offset, state.next - 1);
    if (through < state.first) return Promise.resolve(0);
    state.first = through + 1;
    return this.rewrite(stream, through, { epoch: state.epoch, firstOffset: state.first });
  }

  enforceRetention(stream: string, limits: RetentionLimits, now: number): Promise<number> {
    const state = this.state(stream);
    if (!state || state.first >= state.next) return Promise.resolve(0);
    let through = 0;
    if (limits.maxEntries !== undefined) through = state.next - 1 - limits.maxEntries;
    if (limits.maxAgeMs !== undefined) {
      through = Math.max(through, this.newestPublishedBefore(stream, state.first, now - limits.maxAgeMs));
    }
    return through >= state.first ? this.pruneThrough(stream, through) : Promise.resolve(0);
  }

  streamNames(): string[] {
    const names = new Set(this.states.keys());
    for (const name of this.records.getKeys()) names.add(name);
    return [...names];
  }

  /** Deletes offsets <= `through` and writes the stream's record, in one transaction. */
  private rewrite(stream: string, through: number, record: StreamRecord): Promise<number> {
    return this.settle(
      this.root.transaction(() => {
        // Collect first: deleting under an open cursor is not something to rely on.
        const keys = Array.from(this.entries.getKeys({ start: [stream, 0], end: [stream, through + 1] }));
        for (const key of keys) void this.entries.remove(key);
        void this.records.put(stream, record);
        return keys.length;
      }),
    );
  }

  /** Offset of the newest entry published before `cutoff`, or 0; scans from the oldest and stops early. */
  private newestPublishedBefore(stream: string, from: number, cutoff: number): number {
    let found = 0;
    for (const { key, value } of this.entries.getRange({ start: [stream, from], end: [stream, LAST_OFFSET] })) {
      if (value[0] >= cutoff) break;
      found = key[1];
    }
    return found;
  }

  private create(stream: string): { state: StreamState; written: Promise<boolean> } {
    const state: StreamState = { epoch: newEpoch(), first: 1, next: 1 };
    this.states.set(stream, state);
    // Queued before the stream's first entry, so it commits with it or earlier.
    return { state, written: this.records.put(stream, { epoch: state.epoch, firstOffset: 1 }) };
  }

  /** The stream's state, loaded from disk on first use; undefined if the stream does not exist. */
  private state(stream: string): StreamState | undefined {
    const known = this.states.get(stream);
    if (known) return known;
    const record = this.records.get(stream);
    if (!record) return undefined;
    const oldest = this.edgeOffset(stream, 'oldest');
    const newest = this.edgeOffset(stream, 'newest');
    const next = Math.max(record.firstOffset, (newest ?? 0) + 1);
    const state: StreamState = { epoch: record.epoch, first: oldest ?? next, next };
    this.states.set(stream, state);
    return state;
  }

  private edgeOffset(stream: string, edge: 'oldest' | 'newest'): number | undefined {
    const range =
      edge === 'oldest'
        ? { start: [stream, 0], end: [stream, LAST_OFFSET], limit: 1 }
        : { start: [stream, LAST_OFFSET], end: [stream, 0], reverse: true, limit: 1 };
    for (const key of this.entries.getKeys(range)) return key[1];
    return undefined;
  }
}
