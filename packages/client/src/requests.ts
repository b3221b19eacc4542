import { TimeoutError } from './errors.js';

/** What the broker's OK said: the stored offset for a QoS 1 PUB/SEND, nothing otherwise. */
export interface Reply {
  offset?: number;
}

interface Pending {
  resolve(reply: Reply): void;
  reject(error: Error): void;
  timer: ReturnType<typeof setTimeout>;
}

/** Requests waiting for their OK or ERROR, keyed by seq, each with its own deadline. */
export class PendingRequests {
  private readonly pending = new Map<number, Pending>();
  private lastSeq = 0;
  private whenEmpty: (() => void)[] = [];

  /** seq 0 is reserved for server pushes, so numbering starts at 1 and never restarts. */
  nextSeq(): number {
    this.lastSeq += 1;
    return this.lastSeq;
  }

  track(seq: number, what: string, timeoutMs: number): Promise<Reply> {
    return new Promise<Reply>((resolve, reject) => {
      const timer = setTimeout(() => this.reject(seq, new TimeoutError(`${what} got no reply within ${timeoutMs} ms`, timeoutMs)), timeoutMs);
      this.pending.set(seq, { resolve, reject, timer });
    });
  }

  /** Returns false when nothing waits for `seq` (already settled, timed out, or never sent). */
  resolve(seq: number, reply: Reply): boolean {
    const entry = this.take(seq);
    entry?.resolve(reply);
    return entry !== undefined;
  }

  reject(seq: number, error: Error): boolean {
    const entry = this.take(seq);
    entry?.reject(error);
    return entry !== undefined;
  }

  rejectAll(error: Error): void {
    for (const seq of [...this.pending.keys()]) this.reject(seq, error);
  }

  /** Resolves once nothing waits for a reply; each request has its deadline, so this comes. */
  settled(): Promise<void> {
    if (this.pending.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.whenEmpty.push(resolve));
  }

  private take(seq: number): Pending | undefined {
    const entry = this.pending.get(seq);
    if (!entry) return undefined;
    clearTimeout(entry.timer);
    this.pending.delete(seq);
    if (this.pending.size === 0) {
      const waiters = this.whenEmpty;
      this.whenEmpty = [];
      for (const resolve of waiters) resolve();
    }
    return entry;
  }
}
