import { TokenBucket } from './token-bucket.js';

export interface RateLimits {
  messagesPerSecond: number;
  bytesPerSecond: number;
  /** Violations within ABUSE_WINDOW_MS after which the connection is closed. */
  abuseThreshold: number;
}

const ABUSE_WINDOW_MS = 10_000;

export type RateVerdict = 'ok' | 'limited' | 'abusive';

/** Per-connection frame and byte rates, with a memory of recent violations. */
export class FrameRateLimiter {
  private readonly messages: TokenBucket;
  private readonly bytes: TokenBucket;
  private violations: number[] = [];

  constructor(private readonly limits: RateLimits) {
    this.messages = new TokenBucket(limits.messagesPerSecond);
    this.bytes = new TokenBucket(limits.bytesPerSecond);
  }

  /** `now`: the caller's clock reading (ms), read once per chunk of frames rather than per bucket. */
  check(frameBytes: number, now = Date.now()): RateVerdict {
    if (this.messages.take(1, now) && this.bytes.take(frameBytes, now)) return 'ok';
    this.violations = this.violations.filter((t) => now - t < ABUSE_WINDOW_MS);
    this.violations.push(now);
    return this.violations.length >= this.limits.abuseThreshold ? 'abusive' : 'limited';
  }
}

/** Open connections per source address, to cap what one address may hold. */
export class AddressCounter {
  private readonly counts = new Map<string, number>();

  constructor(private readonly max: number) {}

  /** Counts a new connection; false when the address is at its limit (then nothing is counted). */
  admit(address: string): boolean {
    const n = this.counts.get(address) ?? 0;
    if (n >= this.max) return false;
    this.counts.set(address, n + 1);
    return true;
  }

  release(address: string): void {
    const n = (this.counts.get(address) ?? 1) - 1;
    if (n <= 0) this.counts.delete(address);
    else this.counts.set(address, n);
  }
}
