import type { Qos } from '../protocol/frames.js';
import type { MessageProperties } from '../protocol/message-properties.js';

/**
 * The store contract: stream logs, per-subscriber cursors and device sessions. Only
 * interfaces and value types live here; each backend has its own file, and
 * test/store-contract.test.ts is the suite every backend must pass.
 *
 * Offsets start at 1 and grow by one per append, per stream. They are never reused: not
 * after pruning, not after a reset, not after a restart or a crash.
 */

/** What a caller hands to `append`; the store assigns the offset and the publish time. */
export interface NewEntry {
  payload: Uint8Array;
  traceId: string;
  /** Sender device id, when a device sent it. */
  from?: string;
  /** Cluster nodes the message crossed before it was stored, origin first. */
  hops?: string[];
  /** The publisher's message properties (MQTT 5), kept as they came. */
  props?: MessageProperties;
  /** The QoS it was published with, where a stream keeps it (retained messages); absent elsewhere. */
  qos?: Qos;
  /** Published with MQTT's RETAIN flag (absent: without). */
  retain?: boolean;
}

/** One stored message of a stream. */
export interface StoredEntry extends NewEntry {
  stream: string;
  offset: number;
  /** Milliseconds since the Unix epoch, taken when `append` was called. */
  publishedAt: number;
}

/** Where an appended entry landed. */
export interface Appended {
  offset: number;
  /** The stream's epoch when the entry was appended. */
  epoch: string;
}

/**
 * What a stream holds. Retained offsets are `firstOffset..lastOffset`; the stream is empty
 * when `firstOffset > lastOffset`. A stream never appended to or reset reads
 * `{ epoch: '', firstOffset: 1, lastOffset: 0 }`.
 */
export interface StreamHead {
  /** Random id, new when the stream is created or reset; '' before the stream exists. */
  epoch: string;
  /** Oldest retained offset. */
  firstOffset: number;
  /** Newest assigned offset (0 before the first append). */
  lastOffset: number;
}

/** Retention limits for one stream; an absent limit does not apply. */
export interface RetentionLimits {
  /** Keep at most this many newest entries. */
  maxEntries?: number;
  /** Drop entries published more than this many milliseconds ago. */
  maxAgeMs?: number;
}

/** One subscriber's cursor on one stream. */
export interface CursorPosition {
  subscriberId: string;
  stream: string;
  offset: number;
}

/** MQTT 5 options of a subscription that change how a message is forwarded to it; an absent one is not set. */
export interface SubscriptionFlags {
  /** No Local: not the messages its own client id published. */
  noLocal?: true;
  /** Retain As Published: the RETAIN flag a message was published with, not 0. */
  retainAsPublished?: true;
  /** Subscription Identifier of the SUBSCRIBE that made it (1 to 268,435,455). */
  subscriptionId?: number;
}

/** One subscription of a stored session (flags absent: none set, as in records written before they were kept). */
export type StoredSubscription = [filter: string, qos: Qos, flags?: SubscriptionFlags];

/** One MQTT `$share/<group>/<filter>` subscription of a stored session (flags as in StoredSubscription). */
export type StoredSharedSubscription = [group: string, filter: string, qos: Qos, flags?: SubscriptionFlags];

/** The durable part of a device's session. */
export interface SessionRecord {
  subscriptions: StoredSubscription[];
  /** MQTT `$share/<group>/<filter>` subscriptions (absent: none). */
  shared?: StoredSharedSubscription[];
  /** Milliseconds since the Unix epoch after which the session may be discarded. */
  expiresAt: number;
  updatedAt: number;
}

/**
 * Writes resolve only once committed (durability per backend options), in call order; many
 * writes issued in the same tick share one commit. Reads are synchronous and see committed
 * data, except cursors, which also see writes still in flight. Invalid arguments are a
 * TypeError or RangeError and any call after `close()` a StoreClosedError: thrown by sync
 * methods, rejected by async ones.
 */
export interface MessageStore {
  /**
   * Appends one entry. The offset is assigned synchronously, so per-stream order is call order;
   * the promise resolves after the entry is committed.
   */
  append(stream: string, entry: NewEntry): Promise<Appended>;
  /** Up to `limit` committed entries with offset > `afterOffset`, in offset order. */
  read(stream: string, afterOffset: number, limit: number): StoredEntry[];
  head(stream: string): StreamHead;
  /** Drops the stream's history and gives it a new epoch; offsets continue. Resolves to the new epoch. */
  resetStream(stream: string): Promise<string>;
  /** Deletes entries with offset <= `offset`. Resolves to how many were deleted. */
  pruneThrough(stream: string, offset: number): Promise<number>;
  /** Deletes the oldest entries beyond the limits. Resolves to how many were deleted. */
  enforceRetention(stream: string, limits: RetentionLimits, now?: number): Promise<number>;
  /** Every stream the store knows, empty or not: the list a retention sweep walks. */
  streamNames(): string[];

  /** Moves a subscriber's cursor forward to `offset`; a lower or equal offset is ignored. */
  setCursor(subscriberId: string, stream: string, offset: number): Promise<void>;
  cursor(subscriberId: string, stream: string): number | undefined;
  /** All cursors of one subscriber, by stream. */
  cursors(subscriberId: string): Map<string, number>;
  removeCursor(subscriberId: string, stream: string): Promise<void>;
  /** Every cursor of every subscriber (writes in flight included): for mirroring at start-up. */
  allCursors(): Iterable<CursorPosition>;

  /** Stores (replaces) a device's session. */
  saveSession(deviceId: string, record: SessionRecord): Promise<void>;
  loadSession(deviceId: string): SessionRecord | undefined;
  deleteSession(deviceId: string): Promise<void>;
  /** Every stored session, ordered by device id: for mirroring at start-up. Lazy; iterate promptly. */
  sessions(): Iterable<[deviceId: string, record: SessionRecord]>;
  /** Device ids whose session has `expiresAt <= now`, soonest first, at most `limit`. */
  expiredSessions(now: number, limit?: number): string[];

  /** Bytes of the data file in use. */
  sizeBytes(): number;
  /** Resolves once every write issued so far is durable on disk. */
  flush(): Promise<void>;
  /** Waits for outstanding writes, then closes. Idempotent. */
  close(): Promise<void>;
}
