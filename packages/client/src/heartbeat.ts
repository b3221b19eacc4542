/**
 * Keeps a live connection honest in both directions: sends a PING every interval (so the
 * broker sees us) and declares the peer dead when nothing at all arrived for `deadAfterMs`.
 */
export class Heartbeat {
  private pingTimer: ReturnType<typeof setInterval> | undefined;
  private deadTimer: ReturnType<typeof setTimeout> | undefined;
  private lastInboundAt = 0;
  private deadAfterMs = 0;

  constructor(private readonly actions: { ping(): void; peerDead(idleMs: number): void }) {}

  start(intervalMs: number, deadAfterMs: number): void {
    this.stop();
    this.deadAfterMs = deadAfterMs;
    this.lastInboundAt = Date.now();
    this.pingTimer = setInterval(() => this.actions.ping(), intervalMs);
    this.armDeadTimer(deadAfterMs);
  }

  /** Any inbound frame proves the peer alive; called per frame, so it only stores a time. */
  noteInbound(): void {
    this.lastInboundAt = Date.now();
  }

  stop(): void {
    clearInterval(this.pingTimer);
    clearTimeout(this.deadTimer);
    this.pingTimer = undefined;
    this.deadTimer = undefined;
  }

  // Re-armed lazily when it fires rather than reset on every frame: one timer per idle period.
  private armDeadTimer(delayMs: number): void {
    this.deadTimer = setTimeout(() => {
      const idleMs = Date.now() - this.lastInboundAt;
      if (idleMs >= this.deadAfterMs) {
        this.stop();
        this.actions.peerDead(idleMs);
      } else {
        this.armDeadTimer(this.deadAfterMs - idleMs);
      }
    }, delayMs);
  }
}
