/** Redelivery waits double per attempt up to this many ack timeouts (1, 2, 4, 8, 8, …). */
const MAX_BACKOFF_FACTOR = 8;

/** The sweep lists of a window with nothing queued: shared, never written to. */
const NOTHING_QUEUED: Inflight[] = [];

/** One QoS 1 delivery written to a device and not yet acknowledged. */
export interface Inflight {
  readonly stream: string;
  readonly offset: number;
  /** 1 for the first write, +1 per redelivery. */
  delivery: number;
  /** When it was last handed to the connection (for the delivery-to-ack latency). */
  queuedAt: number;
  /** When its ack clock started: set by a sweep once the write has certainly happened. */
  clockFrom: number | undefined;
}

/**
 * A device's unacknowledged deliveries, kept so that every operation costs what it touches:
 * an ACK walks only the deliveries it frees (per stream, in offset order), a sweep stops at the
 * first delivery too young to be due (all, in write order).
 *
 * The ack clock of a delivery starts at the write, not at queueing: the transport flushes what
 * was queued within a loop turn or the next, so a delivery queued before one sweep has been
 * written by the following one, which starts its clock. An overloaded loop thus delays the
 * clock along with the write instead of counting its own lag against the device.
 */
export class InflightWindow {
  // Allocated at the first delivery and dropped when the window empties: most connected
  // devices have nothing in flight most of the time, and each empty Map or Set costs ~200 B.
  /** stream → its deliveries in ascending offset order (offsets are sent in order). */
  private byStream: Map<string, OffsetQueue> | undefined;
  /** Every delivery, in the order of its last write. */
  private order: Set<Inflight> | undefined;
  /** Written since the last sweep; their clocks start at the sweep after next. */
  private queuedSinceSweep: Inflight[] = NOTHING_QUEUED;
  /** Written before the last sweep: certainly flushed by the next one. */
  private queuedBeforeSweep: Inflight[] = NOTHING_QUEUED;

  constructor(private readonly ackTimeoutMs: number) {}

  get size(): number {
    return this.order?.size ?? 0;
  }

  add(stream: string, offset: number, now: number): void {
    const item: Inflight = { stream, offset, delivery: 1, queuedAt: now, clockFrom: undefined };
    this.byStream ??= new Map();
    let offsets = this.byStream.get(stream);
    if (!offsets) this.byStream.set(stream, (offsets = new OffsetQueue()));
    offsets.push(item);
    this.queue(item);
  }

  /** Frees the deliveries of `stream` up to `through`; `freed` sees each. */
  ackThrough(stream: string, through: number, freed: (item: Inflight) => void): void {
    const offsets = this.byStream?.get(stream);
    if (!offsets) return;
    for (let item = offsets.first(); item && item.offset <= through; item = offsets.first()) {
      offsets.shift();
      this.order!.delete(item);
      freed(item);
    }
    this.forgetIfEmpty(stream, offsets);
  }

  /** Forgets the deliveries of `stream` after `offset` (they will be sent again). */
  dropAfter(stream: string, offset: number): void {
    const offsets = this.byStream?.get(stream);
    if (!offsets) return;
    for (let item = offsets.last(); item && item.offset > offset; item = offsets.last()) {
      offsets.pop();
      this.order!.delete(item);
    }
    this.forgetIfEmpty(stream, offsets);
  }

  remove(item: Inflight): void {
    const offsets = this.byStream?.get(item.stream);
    if (!offsets?.remove(item)) return;
    this.order!.delete(item);
    this.forgetIfEmpty(item.stream, offsets);
  }

  /**
   * Starts the clocks of what was certainly written, then takes out the deliveries whose wait
   * (the ack timeout, doubled per earlier redelivery, capped) has passed: each comes back with
   * its next delivery count, queued for writing again. Called from the periodic sweep.
   */
  dueForRedelivery(now: number): readonly Inflight[] {
    if (!this.order) return NOTHING_QUEUED;
    for (const item of this.queuedBeforeSweep) item.clockFrom = now;
    this.queuedBeforeSweep = this.queuedSinceSweep;
    this.queuedSinceSweep = NOTHING_QUEUED;
    const due: Inflight[] = [];
    for (const item of this.order) {
      // Later deliveries were written later and wait at least one ack timeout: none is due.
      if (item.clockFrom === undefined || now - item.clockFrom < this.ackTimeoutMs) break;
      if (now - item.clockFrom >= this.waitBefore(item.delivery + 1)) due.push(item);
    }
    for (const item of due) {
      this.order.delete(item);
      item.delivery++;
      item.queuedAt = now;
      this.queue(item);
    }
    return due;
  }

  clear(): void {
    this.byStream = undefined;
    this.order = undefined;
    this.queuedSinceSweep = this.queuedBeforeSweep = NOTHING_QUEUED;
  }

  /** How long after the previous write delivery number `delivery` is sent. */
  private waitBefore(delivery: number): number {
    return this.ackTimeoutMs * Math.min(2 ** (delivery - 2), MAX_BACKOFF_FACTOR);
  }

  private queue(item: Inflight): void {
    item.clockFrom = undefined;
    (this.order ??= new Set()).add(item);
    if (this.queuedSinceSweep === NOTHING_QUEUED) this.queuedSinceSweep = [];
    this.queuedSinceSweep.push(item);
  }

  private forgetIfEmpty(stream: string, offsets: OffsetQueue): void {
    if (offsets.size > 0) return;
    this.byStream!.delete(stream);
    // Nothing left to clock: drop the window's structures and the references the sweep lists hold.
    if (this.order!.size === 0) this.clear();
  }
}

/**
 * One stream's deliveries in offset order. ACKs free from the front, resyncs drop from the back:
 * both O(freed), where a Map walked from its front skips every entry deleted before (V8 keeps
 * them as holes until it rehashes), which made a window acked one message at a time quadratic.
 */
class OffsetQueue {
  private items: (Inflight | undefined)[] = [];
  private head = 0;

  get size(): number {
    return this.items.length - this.head;
  }

  first(): Inflight | undefined {
    return this.items[this.head];
  }

  last(): Inflight | undefined {
    return this.size > 0 ? this.items[this.items.length - 1] : undefined;
  }

  push(item: Inflight): void {
    this.items.push(item);
  }

  shift(): void {
    this.items[this.head++] = undefined;
    // Compact once the freed front outweighs what is left: amortized O(1) per delivery.
    if (this.head >= 32 && this.head * 2 >= this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
  }

  pop(): void {
    this.items.pop();
  }

  /** Takes out `item` wherever it is (a delivery whose entry left the store); false if absent. */
  remove(item: Inflight): boolean {
    const at = this.items.indexOf(item, this.head);
    if (at < 0) return false;
    this.items.splice(at, 1);
    return true;
  }
}
