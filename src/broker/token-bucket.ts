/** A token bucket: `ratePerSecond` refill, up to one second's worth of burst. */
export class TokenBucket {
  private tokens: number;
  private last = Date.now();

  constructor(private readonly ratePerSecond: number) {
    this.tokens = ratePerSecond;
  }

  /** Takes `amount` tokens if there are enough (`now`: the caller's clock reading, ms); returns whether it could. */
  take(amount = 1, now = Date.now()): boolean {
    this.tokens = Math.min(this.ratePerSecond, this.tokens + ((now - this.last) / 1000) * this.ratePerSecond);
    this.last = now;
    if (this.tokens < amount) return false;
    this.tokens -= amount;
    return true;
  }
}
