import { realpathSync } from 'node:fs';
import { resolve } from 'node:path';
import type { RootDatabase } from 'lmdb';
import { checkCount, checkName, checkNewEntry, checkSessionRecord, checkTime } from './arguments.js';
import { StoreClosedError, StoreOpenError } from './errors.js';
import { CursorTable, type CursorKey } from './lmdb-cursors.js';
import { openEnvironment } from './lmdb-environment.js';
import { SessionTable, type ExpiryKey } from './lmdb-sessions.js';
import { StreamLog, type EntryKey, type EntryValue, type Settle, type StreamRecord } from './lmdb-streams.js';
import type { Appended, CursorPosition, MessageStore, NewEntry, RetentionLimits, SessionRecord, StoredEntry, StreamHead } from './types.js';

export interface LmdbStoreOptions {
  /**
   * When a write's promise resolves. 'flush' (default): the commit is synced to disk and
   * survives power loss. 'commit': the commit is visible and survives a crash of this process,
   * not of the machine (lmdb's overlapping sync flushes it a moment later).
   */
  durability?: 'flush' | 'commit';
}

/** Directories with a store open in this process: two stores on one directory would hand out the same offsets. */
const openDirs = new Set<string>();

/**
 * Opens the store kept in `dir` (created if missing; the data file is `dir/store.mdb`).
 * One store per directory: a second open in this process is refused, and other processes must
 * not use the directory at the same time. Throws StoreOpenError when the directory cannot be
 * used; it never deletes or rewrites anything to make it usable.
 */
export async function openLmdbStore(dir: string, options: LmdbStoreOptions = {}): Promise<MessageStore> {
  if (typeof dir !== 'string' || dir === '') throw new TypeError('store directory must be a non-empty path');
  const durability = options.durability ?? 'flush';
  if (durability !== 'flush' && durability !== 'commit') {
    throw new RangeError(`durability must be 'flush' or 'commit', got ${String(durability)}`);
  }
  const key = canonical(dir);
  if (openDirs.has(key)) throw new StoreOpenError(dir, 'a store on this directory is already open in this process');
  openDirs.add(key);
  try {
    const root = await openEnvironment(dir, { separateFlushed: true });
    const settle = durability === 'flush' ? settleOnFlush(root) : <T>(write: Promise<T>) => write;
    return new LmdbStore(root, settle, () => openDirs.delete(key));
  } catch (err) {
    openDirs.delete(key);
    throw err;
  }
}

function canonical(dir: string): string {
  try {
    return realpathSync(dir);
  } catch {
    return resolve(dir);
  }
}

/**
 * Puts carry their own commit's flush promise (separateFlushed); transactions wait for the
 * latest flush. lmdb can report flushes of consecutive commits out of order, and a later
 * commit's flush covers the earlier ones, so writes resolve strictly in call order.
 * Writes of one batch share lmdb's promise, and so share one settled promise too.
 */
function settleOnFlush(root: RootDatabase): Settle {
  let previous: Promise<unknown> = Promise.resolve();
  let lastWrite: Promise<unknown> | undefined;
  let lastSettled: Promise<unknown> = previous;
  return <T>(write: Promise<T>): Promise<T> => {
    if (write === lastWrite) return lastSettled as Promise<T>;
    const flushed = write.then(() => (write as { flushed?: PromiseLike<unknown> }).flushed ?? root.flushed);
    const settled = Promise.all([write, flushed, previous]).then(([value]) => value);
    previous = settled.catch(() => undefined);
    lastWrite = write;
    lastSettled = settled;
    return settled;
  };
}

class LmdbStore implements MessageStore {
  private readonly streamLog: StreamLog;
  private readonly cursorTable: CursorTable;
  private readonly sessionTable: SessionTable;
  private closing: Promise<void> | undefined;

  constructor(
    private readonly root: RootDatabase,
    settle: Settle,
    private readonly released: () => void,
  ) {
    this.streamLog = new StreamLog(
      root,
      root.openDB<EntryValue, EntryKey>({ name: 'entries' }),
      root.openDB<StreamRecord, string>({ name: 'streams' }),
      settle,
    );
    this.cursorTable = new CursorTable(root.openDB<number, CursorKey>({ name: 'cursors' }), settle);
    this.sessionTable = new SessionTable(
      root,
      root.openDB<SessionRecord, string>({ name: 'sessions' }),
      root.openDB<true, ExpiryKey>({ name: 'sessionsByExpiry' }),
      settle,
    );
  }

  append(stream: string, entry: NewEntry): Promise<Appended> {
    // Not async, to save a promise per message on the hot path; bad arguments still reject.
    try {
      this.live('append');
      checkName('stream', stream);
      checkNewEntry(entry);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.streamLog.append(stream, entry);
  }

  read(stream: string, afterOffset: number, limit: number): StoredEntry[] {
    this.live('read');
    checkName('stream', stream);
    checkCount('afterOffset', afterOffset);
    checkCount('limit', limit);
    return this.streamLog.read(stream, afterOffset, limit);
  }

  head(stream: string): StreamHead {
    this.live('head');
    checkName('stream', stream);
    return this.streamLog.head(stream);
  }

  async resetStream(stream: string): Promise<string> {
    this.live('resetStream');
    checkName('stream', stream);
    return this.streamLog.resetStream(stream);
  }

  async pruneThrough(stream: string, offset: number): Promise<number> {
    this.live('pruneThrough');
    checkName('stream', stream);
    checkCount('offset', offset);
    return this.streamLog.pruneThrough(stream, offset);
  }

  async enforceRetention(stream: string, limits: RetentionLimits, now = Date.now()): Promise<number> {
    this.live('enforceRetention');
    checkName('stream', stream);
    if (limits.maxEntries !== undefined) checkCount('maxEntries', limits.maxEntries);
    if (limits.maxAgeMs !== undefined) checkCount('maxAgeMs', limits.maxAgeMs);
    checkTime('now', now);
    return this.streamLog.enforceRetention(stream, limits, now);
  }

  streamNames(): string[] {
    this.live('streamNames');
    return this.streamLog.streamNames();
  }

  async setCursor(subscriberId: string, stream: string, offset: number): Promise<void> {
    this.live('setCursor');
    checkName('subscriberId', subscriberId);
    checkName('stream', stream);
    checkCount('offset', offset);
    return this.cursorTable.set(subscriberId, stream, offset);
  }

  cursor(subscriberId: string, stream: string): number | undefined {
    this.live('cursor');
    checkName('subscriberId', subscriberId);
    checkName('stream', stream);
    return this.cursorTable.get(subscriberId, stream);
  }

  cursors(subscriberId: string): Map<string, number> {
    this.live('cursors');
    checkName('subscriberId', subscriberId);
    return this.cursorTable.all(subscriberId);
  }

  async removeCursor(subscriberId: string, stream: string): Promise<void> {
    this.live('removeCursor');
    checkName('subscriberId', subscriberId);
    checkName('stream', stream);
    return this.cursorTable.remove(subscriberId, stream);
  }

  allCursors(): Iterable<CursorPosition> {
    this.live('allCursors');
    return this.cursorTable.everyCursor();
  }

  async saveSession(deviceId: string, record: SessionRecord): Promise<void> {
    this.live('saveSession');
    checkName('deviceId', deviceId);
    checkSessionRecord(record);
    return this.sessionTable.save(deviceId, record);
  }

  loadSession(deviceId: string): SessionRecord | undefined {
    this.live('loadSession');
    checkName('deviceId', deviceId);
    return this.sessionTable.load(deviceId);
  }

  async deleteSession(deviceId: string): Promise<void> {
    this.live('deleteSession');
    checkName('deviceId', deviceId);
    return this.sessionTable.delete(deviceId);
  }

  sessions(): Iterable<[deviceId: string, record: SessionRecord]> {
    this.live('sessions');
    return this.sessionTable.all();
  }

  expiredSessions(now: number, limit = Number.MAX_SAFE_INTEGER): string[] {
    this.live('expiredSessions');
    checkTime('now', now);
    checkCount('limit', limit);
    return this.sessionTable.expired(now, limit);
  }

  sizeBytes(): number {
    this.live('sizeBytes');
    const stats = this.root.getStats() as { pageSize: number; lastPageNumber: number };
    return (stats.lastPageNumber + 1) * stats.pageSize;
  }

  async flush(): Promise<void> {
    this.live('flush');
    await this.root.flushed;
  }

  close(): Promise<void> {
    // lmdb waits for queued writes before it closes.
    this.closing ??= this.root.close().finally(this.released);
    return this.closing;
  }

  /**
   * lmdb throws from a timer (crashing the process) on writes after close, so refuse them here.
   * Methods returning a promise are async so that bad arguments reject rather than throw.
   */
  private live(operation: string): void {
    if (this.closing) throw new StoreClosedError(operation);
  }
}
