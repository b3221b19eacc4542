/**
 * Reconnect delays. The policy is a plain function of the attempt number so callers can
 * plug in their own; `RetrySchedule` only counts attempts and restarts the count on success.
 */

/** Delay in ms before reconnect attempt `attempt` (1 for the first retry after a failure). */
export type ReconnectDelay = (attempt: number) => number;

export interface BackoffOptions {
  /** Delay before the first retry. Default 1000. */
  initialDelayMs?: number;
  /** Upper bound of any delay. Default 32000. */
  maxDelayMs?: number;
  /** Fraction (0–1) of each delay that is randomised away. Default 0.5. */
  jitter?: number;
}

export const DEFAULT_BACKOFF: Readonly<Required<BackoffOptions>> = { initialDelayMs: 1000, maxDelayMs: 32000, jitter: 0.5 };

/**
 * Exponential backoff: the initial delay doubles per attempt up to the cap, then a random part
 * of up to `jitter` of it is taken off. Jitter only shortens delays, so the cap holds; it spreads
 * the reconnects of a fleet that lost its broker at the same moment.
 */
export function exponentialBackoff(options: BackoffOptions = {}, random: () => number = Math.random): ReconnectDelay {
  const { initialDelayMs, maxDelayMs, jitter } = { ...DEFAULT_BACKOFF, ...definedOnly(options) };
  if (!(Number.isFinite(initialDelayMs) && initialDelayMs > 0)) {
    throw new RangeError(`reconnect.initialDelayMs must be a positive number, got ${initialDelayMs}`);
  }
  if (!(Number.isFinite(maxDelayMs) && maxDelayMs >= initialDelayMs)) {
    throw new RangeError(`reconnect.maxDelayMs must be a number >= initialDelayMs (${initialDelayMs}), got ${maxDelayMs}`);
  }
  if (!(jitter >= 0 && jitter <= 1)) throw new RangeError(`reconnect.jitter must be between 0 and 1, got ${jitter}`);

  return (attempt) => {
    const base = Math.min(maxDelayMs, initialDelayMs * 2 ** Math.max(0, attempt - 1));
    return base * (1 - jitter * random());
  };
}

/** Counts reconnect attempts since the last successful connection and asks the policy for each delay. */
export class RetrySchedule {
  private attempt = 0;

  constructor(private readonly delay: ReconnectDelay) {}

  next(): { attempt: number; delayMs: number } {
    this.attempt += 1;
    const delayMs = this.delay(this.attempt);
    // A custom policy returning NaN or a negative number means "now", not a timer that never fires.
    return { attempt: this.attempt, delayMs: Number.isFinite(delayMs) && delayMs > 0 ? delayMs : 0 };
  }

  /** Called after a successful handshake: the next failure starts again from the initial delay. */
  reset(): void {
    this.attempt = 0;
  }
}

/** So that `{ jitter: undefined }` keeps the default instead of overriding it. */
function definedOnly(options: BackoffOptions): BackoffOptions {
  return Object.fromEntries(Object.entries(options).filter(([, value]) => value !== undefined));
}
