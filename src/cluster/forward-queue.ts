import { performance } from 'node:perf_hooks';
import type { ReconnectDelay } from '../protocol/backoff.js';
import { ClusterError } from './errors.js';
import { AckStatus } from './wire.js';

/** A reliable payload this node originated, waiting to be accepted by its next hop. */
export interface QueuedPayload {
  /** Push order: retried payloads go back in their original place. */
  seq: number;
  id: string;
  dest: string;
  channel: number;
  payload: Uint8Array;
  /** When it was pushed (performance.now()); a retry keeps it, so age counts the whole wait. */
  since: number;
}

/** What the queue holds for one destination: for monitoring, read when scraped. */
export interface DestinationBacklog {
  dest: string;
  /** Payloads waiting or in flight. */
  held: number;
  /** Milliseconds since the oldest of them was pushed. */
  oldestMs: number;
}

export interface TransferResult {
  status: AckStatus;
  reason: string;
}

export interface ForwardQueueDeps {
  /** One attempt to hand the payload to the next hop (resolves, never rejects). */
  transfer(item: QueuedPayload): Promise<TransferResult>;
  hasRoute(dest: string): boolean;
  forwarded(item: QueuedPayload): void;
  maxQueued: number;
  maxInflightPerDest: number;
  /** Delay before retrying a destination after its `failures`-th failure in a row. */
  retryDelay: ReconnectDelay;
}

interface Waiter {
  item: QueuedPayload;
  /** Withdrawn (UNREACHABLE) instead of waiting while its destination is unreachable. */
  giveUpIfUnreachable: boolean;
  resolve(): void;
  reject(err: Error): void;
}

/**
 * The waiting payloads of one destination in push order: fresh ones in an array read from a
 * moving head (Array#shift is O(n) on long arrays), retried ones (always older than every fresh
 * one, having left before them) in a small sorted list served first.
 */
class WaitingList {
  private retried: Waiter[] = [];
  private fresh: Waiter[] = [];
  private head = 0;

  get length(): number {
    return this.retried.length + this.fresh.length - this.head;
  }

  push(w: Waiter): void {
    this.fresh.push(w);
  }

  /** Puts a payload whose transfer failed back in its place. */
  requeue(w: Waiter): void {
    const at = this.retried.findIndex((r) => r.item.seq > w.item.seq);
    this.retried.splice(at === -1 ? this.retried.length : at, 0, w);
  }

  shift(): Waiter | undefined {
    if (this.retried.length > 0) return this.retried.shift();
    const w = this.fresh[this.head];
    if (w === undefined) return undefined;
    this.fresh[this.head++] = undefined as never;
    if (this.head > 1024 && this.head * 2 > this.fresh.length) {
      this.fresh = this.fresh.slice(this.head);
      this.head = 0;
    }
    return w;
  }

  /** The longest-waiting payload: retried ones left before every fresh one. */
  oldest(): Waiter | undefined {
    return this.retried[0] ?? this.fresh[this.head];
  }

  all(): Waiter[] {
    return [...this.retried, ...this.fresh.slice(this.head)];
  }

  /** Takes out the waiters `leave` selects, keeping the order of the others. */
  remove(leave: (w: Waiter) => boolean): Waiter[] {
    const all = this.all();
    const left = all.filter(leave);
    if (left.length === 0) return left;
    this.retried = this.retried.filter((w) => !leave(w));
    this.fresh = this.fresh.slice(this.head).filter((w) => !leave(w));
    this.head = 0;
    return left;
  }
}

interface DestQueue {
  waiting: WaitingList;
  inflight: number;
  failures: number;
  timer: NodeJS.Timeout | undefined;
}

/**
 * Store-and-forward for reliable payloads, per destination: up to `maxInflightPerDest` transfers
 * in flight; a payload whose transfer failed (no route, next hop died, timeout) goes back to its
 * place in the queue and is retried after a backoff delay, or at once when the routes change.
 * A payload pushed with `giveUpIfUnreachable` does not wait for an unreachable destination: it
 * is rejected with UNREACHABLE (at once, or when the routes change or its transfer fails), so a
 * caller that can pick another destination does so instead of waiting for a node that died.
 * Memory only: the broker keeps the durable copy and re-sends after a restart.
 */
export class ForwardQueue {
  private readonly dests = new Map<string, DestQueue>();
  private readonly inflight = new Set<Waiter>();
  /** Every destination ever pushed to (node ids, so few): monitoring keeps a series for each. */
  private readonly known = new Set<string>();
  private total = 0;
  private nextSeq = 1;
  private closed = false;

  constructor(private readonly deps: ForwardQueueDeps) {}

  /** Payloads held (waiting or in flight), for one destination or all. */
  size(dest?: string): number {
    if (dest === undefined) return this.total;
    const q = this.dests.get(dest);
    return q ? q.waiting.length + q.inflight : 0;
  }

  /** Per destination ever pushed to: payloads held now, and how long the oldest has waited. */
  backlog(): DestinationBacklog[] {
    const since = new Map<string, number>();
    for (const [dest, q] of this.dests) since.set(dest, q.waiting.oldest()?.item.since ?? Infinity);
    for (const { item } of this.inflight) since.set(item.dest, Math.min(item.since, since.get(item.dest) ?? Infinity));
    const now = performance.now();
    return [...this.known].map((dest) => {
      const oldest = since.get(dest) ?? Infinity;
      return { dest, held: this.size(dest), oldestMs: oldest === Infinity ? 0 : now - oldest };
    });
  }

  push(dest: string, id: string, channel: number, payload: Uint8Array, giveUpIfUnreachable = false): Promise<void> {
    if (this.closed) return Promise.reject(new ClusterError('CLOSED', 'cluster node closed'));
    if (this.total >= this.deps.maxQueued) {
      return Promise.reject(new ClusterError('QUEUE_FULL', `forward queue full (${this.deps.maxQueued} payloads)`));
    }
    if (giveUpIfUnreachable && !this.deps.hasRoute(dest)) return Promise.reject(unreachable(dest, id));
    return new Promise((resolve, reject) => {
      let q = this.dests.get(dest);
      if (!q) this.dests.set(dest, (q = { waiting: new WaitingList(), inflight: 0, failures: 0, timer: undefined }));
      this.known.add(dest);
      q.waiting.push({ item: { seq: this.nextSeq++, id, dest, channel, payload, since: performance.now() }, giveUpIfUnreachable, resolve, reject });
      this.total++;
      this.drain(dest);
    });
  }

  /**
   * Routes changed: withdraw the payloads that give up on destinations now unreachable, and retry
   * every destination that has a route now, without waiting out its backoff.
   */
  routesChanged(): void {
    for (const [dest, q] of this.dests) {
      if (this.deps.hasRoute(dest)) continue;
      for (const w of q.waiting.remove((x) => x.giveUpIfUnreachable)) {
        this.total--;
        w.reject(unreachable(dest, w.item.id));
      }
      this.forgetIfIdle(q, dest);
    }
    for (const [dest, q] of this.dests) {
      if (!q.timer || !this.deps.hasRoute(dest)) continue;
      clearTimeout(q.timer);
      q.timer = undefined;
      this.drain(dest);
    }
    for (const dest of this.dests.keys()) this.drain(dest);
  }

  close(): void {
    this.closed = true;
    const err = new ClusterError('CLOSED', 'cluster node closed before the payload was forwarded');
    for (const q of this.dests.values()) {
      clearTimeout(q.timer);
      for (const w of q.waiting.all()) w.reject(err);
    }
    for (const w of this.inflight) w.reject(err);
    this.dests.clear();
    this.inflight.clear();
    this.total = 0;
  }

  private drain(dest: string): void {
    const q = this.dests.get(dest);
    if (!q || q.timer || this.closed) return;
    while (q.inflight < this.deps.maxInflightPerDest && q.waiting.length > 0 && this.deps.hasRoute(dest)) {
      const waiter = q.waiting.shift()!;
      q.inflight++;
      this.inflight.add(waiter);
      void this.deps.transfer(waiter.item).then((result) => this.settle(q, waiter, result));
    }
  }

  private settle(q: DestQueue, waiter: Waiter, { status, reason }: TransferResult): void {
    if (this.closed) return;
    q.inflight--;
    this.inflight.delete(waiter);
    const { item } = waiter;
    if (status === AckStatus.RETRY && !(waiter.giveUpIfUnreachable && !this.deps.hasRoute(item.dest))) {
      q.waiting.requeue(waiter);
      q.failures++;
      if (!q.timer) {
        q.timer = setTimeout(() => {
          q.timer = undefined;
          this.drain(item.dest);
        }, this.deps.retryDelay(q.failures));
      }
      return;
    }
    this.total--;
    if (status === AckStatus.OK) {
      q.failures = 0;
      waiter.resolve();
      this.deps.forwarded(item);
    } else if (status === AckStatus.RETRY) {
      waiter.reject(unreachable(item.dest, item.id));
    } else {
      waiter.reject(new ClusterError('REJECTED', `${item.dest} refused payload ${item.id}: ${reason}`));
    }
    if (!this.forgetIfIdle(q, item.dest)) this.drain(item.dest);
  }

  private forgetIfIdle(q: DestQueue, dest: string): boolean {
    if (q.waiting.length > 0 || q.inflight > 0 || q.timer) return false;
    this.dests.delete(dest);
    return true;
  }
}

function unreachable(dest: string, id: string): ClusterError {
  return new ClusterError('UNREACHABLE', `${dest} left the graph before payload ${id} was handed on`);
}
