import { Packr } from 'msgpackr';
import type { DirectMessage } from '../protocol/index.js';
import type { MessageStore } from '../store/index.js';
import type { DurableIndex } from './durable/durable-index.js';

/** The stream of QoS 1 SENDs this node accepted for devices elsewhere and has not handed on yet. */
export const FORWARD_JOURNAL = '$cluster/forward';
/**
 * The journal's cursor (everything through it was handed on) lives beside the devices' cursors,
 * so the store sweep prunes exactly what was handed on. Device ids cannot hold control
 * characters, so no device's cursors are ever mistaken for it.
 */
const READER = '\u0001cluster-forward';
const BATCH = 100;

/** A journalled SEND: its cluster payload id (kept, so a destination can drop a repeat) and the message. */
export interface JournalledSend {
  id: string;
  message: DirectMessage;
}

const packr = new Packr({ useRecords: false });

/**
 * The origin's durable copy of QoS 1 SENDs on their way to another node: recorded when the SEND
 * is accepted, completed when a node stored it (or refused it for good). After a restart the
 * entries past the cursor are handed on again (at least once: one that was stored just before
 * the crash may arrive twice). Sends complete out of order; the cursor moves over the completed
 * prefix and the completed offsets beyond it wait in memory.
 */
export class ForwardJournal {
  private cursor: number;
  private readonly completed = new Set<number>();
  /** The last entry written before this start: `pending` ends there (newer ones are being handed on). */
  private readonly recoveredThrough: number;

  constructor(
    private readonly store: MessageStore,
    private readonly index: DurableIndex,
  ) {
    const head = store.head(FORWARD_JOURNAL);
    this.cursor = index.cursor(READER, FORWARD_JOURNAL) ?? head.firstOffset - 1;
    this.recoveredThrough = head.lastOffset;
    // A cursor must exist before the first entry, or the sweep would prune entries nobody holds.
    index.advance(READER, FORWARD_JOURNAL, this.cursor);
  }

  /** Resolves with the entry's offset once committed. */
  async record(send: JournalledSend): Promise<number> {
    const { message } = send;
    const entry = { payload: packr.pack(send), traceId: message.traceId, ...(message.from !== undefined ? { from: message.from } : {}) };
    return (await this.store.append(FORWARD_JOURNAL, entry)).offset;
  }

  complete(offset: number): void {
    if (offset <= this.cursor) return;
    this.completed.add(offset);
    // Entries retention dropped past the cursor will never complete: step over them.
    let next = Math.max(this.cursor, this.store.head(FORWARD_JOURNAL).firstOffset - 1);
    while (this.completed.delete(next + 1)) next++;
    for (const o of this.completed) if (o <= next) this.completed.delete(o);
    if (next === this.cursor) return;
    this.cursor = next;
    this.index.advance(READER, FORWARD_JOURNAL, next);
  }

  /** Whether entries from before this start wait to be handed on. */
  hasRecovered(): boolean {
    return this.cursor < this.recoveredThrough;
  }

  /** The entries left over from before this start, oldest first, in batches (read lazily). */
  *recovered(): Generator<{ offset: number; send: JournalledSend | undefined }[]> {
    let after = this.cursor;
    while (after < this.recoveredThrough) {
      const entries = this.store.read(FORWARD_JOURNAL, after, BATCH).filter((e) => e.offset <= this.recoveredThrough);
      if (entries.length === 0) return;
      after = entries.at(-1)!.offset;
      yield entries.map((e) => ({ offset: e.offset, send: decode(e.payload) }));
    }
  }
}

/** A stored entry as written by `record`; undefined when it is not one (never trusted blindly). */
function decode(bytes: Uint8Array): JournalledSend | undefined {
  let value: unknown;
  try {
    value = packr.unpack(bytes);
  } catch {
    return undefined;
  }
  const v = value as { id?: unknown; message?: Partial<Record<keyof DirectMessage, unknown>> } | null;
  const m = v?.message;
  if (typeof v?.id !== 'string' || typeof m !== 'object' || m === null) return undefined;
  if (typeof m.target !== 'string' || !(m.payload instanceof Uint8Array) || m.qos !== 1 || typeof m.traceId !== 'string') return undefined;
  if (m.from !== undefined && typeof m.from !== 'string') return undefined;
  return { id: v.id, message: { target: m.target, payload: m.payload, qos: 1, traceId: m.traceId, ...(m.from !== undefined ? { from: m.from } : {}) } };
}
