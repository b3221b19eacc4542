import type { Logger } from '../logger.js';
import type { RetrySchedule } from '../protocol/backoff.js';
import type { PeerAddress } from './discovery.js';

export interface PeerDialerDeps {
  /** Dials and authenticates; resolves once the link is handed over (or found duplicate). */
  dial(address: PeerAddress): Promise<void>;
  isLinked(nodeId: string): boolean;
  schedule: RetrySchedule;
  /** A link that lived this long resets the backoff when it drops; a flapping one keeps backing off. */
  stableMs: number;
  log: Logger;
}

/**
 * Keeps one peer address linked: dials when there is no link to that node (in either direction),
 * and after a failed dial or a lost link waits the backoff delay before trying again.
 */
export class PeerDialer {
  private timer: NodeJS.Timeout | undefined;
  private dialing = false;
  private stopped = false;
  private linkedAt = 0;

  constructor(
    readonly address: PeerAddress,
    private readonly deps: PeerDialerDeps,
  ) {}

  /** Dials now unless already linked, dialling, waiting out a backoff delay or stopped. */
  wake(): void {
    if (this.stopped || this.dialing || this.timer || this.deps.isLinked(this.address.nodeId)) return;
    this.dialing = true;
    this.deps.dial(this.address).then(
      () => {
        this.dialing = false;
        this.linkedAt = Date.now();
      },
      (err: Error) => {
        this.dialing = false;
        this.deps.log.debug({ peer: this.address.nodeId, err: err.message }, 'cluster dial failed');
        this.retryLater();
      },
    );
  }

  linkLost(): void {
    if (Date.now() - this.linkedAt > this.deps.stableMs) this.deps.schedule.reset();
    this.retryLater();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private retryLater(): void {
    if (this.stopped || this.timer) return;
    const { delayMs } = this.deps.schedule.next();
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.wake();
    }, delayMs);
  }
}
