/** Where the SDK stands on its streams' gaps; StreamCursors answers these. */
export interface GapView {
  /** The highest delivered offset of `stream` while later offsets were seen but held back. */
  gapOf(stream: string): number | undefined;
  gaps(): { stream: string; offset: number }[];
}

export interface ResyncTiming {
  /** How long a RESYNC may go unanswered (no progress on its stream) before it is sent again. */
  retryMs: number;
  /** RESYNCs per round; after that the gap waits for the next reconciliation. */
  maxAttempts: number;
  /** Interval of the reconciliation that restarts repair of every gap still open; 0: never. */
  reconcileMs: number;
}

/** The timer functions the scheduler runs on: the global ones, or a test's own clock. */
export interface SchedulerTimers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
  setInterval(fn: () => void, ms: number): unknown;
  clearInterval(handle: unknown): void;
}

const GLOBAL_TIMERS: SchedulerTimers = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
  setInterval: (fn, ms) => setInterval(fn, ms),
  clearInterval: (handle) => clearInterval(handle as ReturnType<typeof setInterval>),
};

export const DEFAULT_RESYNC_RETRY_MS = 1_000;
export const DEFAULT_RESYNC_ATTEMPTS = 5;
export const DEFAULT_RECONCILE_MS = 60_000;

interface Repair {
  /** The offset the last RESYNC asked to continue after. */
  sentFor: number;
  /** The delivered offset at the last check, to tell a flowing resend from a lost one. */
  checkedAt: number;
  attempts: number;
  timer: unknown;
}

/**
 * Decides when to send RESYNC for a gapped stream. One RESYNC is outstanding per stream until
 * the offset it asked for arrives; while nothing arrives it is repeated every `retryMs`, at most
 * `maxAttempts` times. Then the periodic reconciliation starts a new round for every gap still
 * open, so a gap is never left unrepaired yet never spammed.
 */
export class ResyncScheduler {
  private readonly repairs = new Map<string, Repair>();
  private reconcileTimer: unknown;

  constructor(
    private readonly view: GapView,
    private readonly sendResync: (stream: string, offset: number) => void,
    private readonly timing: ResyncTiming,
    private readonly timers: SchedulerTimers = GLOBAL_TIMERS,
  ) {}

  /** A message of `stream` was held back as a gap. */
  gapSeen(stream: string): void {
    const delivered = this.view.gapOf(stream);
    if (delivered === undefined) return;
    const repair = this.repairs.get(stream);
    // Still waiting for the offset the last RESYNC asked for: the resend is on its way.
    if (repair && repair.sentFor === delivered) return;
    this.resync(stream, delivered, true);
  }

  /** A new connection replays from the resume positions, which repairs gaps by itself. */
  connected(): void {
    this.stop();
    if (this.timing.reconcileMs > 0) this.reconcileTimer = this.timers.setInterval(() => this.reconcile(), this.timing.reconcileMs);
  }

  /** Starts a round of repair for every gap not being repaired now; returns how many. */
  reconcile(): number {
    let started = 0;
    for (const { stream, offset } of this.view.gaps()) {
      if (this.repairs.get(stream)?.timer !== undefined) continue;
      this.resync(stream, offset, true);
      started += 1;
    }
    return started;
  }

  /** RESET moved the stream: whatever was being repaired is settled or gone. */
  forget(stream: string): void {
    this.timers.clearTimeout(this.repairs.get(stream)?.timer);
    this.repairs.delete(stream);
  }

  /** Connection lost or client closed: no timer survives. */
  stop(): void {
    this.timers.clearInterval(this.reconcileTimer);
    this.reconcileTimer = undefined;
    for (const stream of [...this.repairs.keys()]) this.forget(stream);
  }

  private resync(stream: string, offset: number, newRound: boolean): void {
    let repair = this.repairs.get(stream);
    if (!repair) this.repairs.set(stream, (repair = { sentFor: offset, checkedAt: offset, attempts: 0, timer: undefined }));
    if (newRound) repair.attempts = 0;
    repair.sentFor = repair.checkedAt = offset;
    repair.attempts += 1;
    repair.timer ??= this.timers.setTimeout(() => this.check(stream), this.timing.retryMs);
    this.sendResync(stream, offset);
  }

  private check(stream: string): void {
    const repair = this.repairs.get(stream);
    if (!repair) return;
    repair.timer = undefined;
    const delivered = this.view.gapOf(stream);
    if (delivered === undefined) {
      this.repairs.delete(stream);
    } else if (delivered > repair.checkedAt) {
      // The resend is flowing: keep watching without asking again.
      repair.checkedAt = delivered;
      repair.attempts = 0;
      repair.timer = this.timers.setTimeout(() => this.check(stream), this.timing.retryMs);
    } else if (repair.attempts < this.timing.maxAttempts) {
      this.resync(stream, delivered, false);
    }
    // Otherwise the round is over; the record stays so gapSeen keeps quiet until reconcile().
  }
}
