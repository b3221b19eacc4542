import type { TurnScheduler, TurnTask } from './turn-scheduler.js';

/**
 * A device's queue of messages, handled in arrival order and one at a time: the next message
 * starts only when the previous one's handler (and the promise it returned) is done. The
 * scheduler runs the mailbox in the turn its first message arrived; messages that arrive while a
 * handler awaits something are handled as soon as it is done.
 *
 * A handler that throws (or rejects) faults the mailbox: that message is dropped, the rest
 * wait until the supervisor restarts the actor (`resume`) or gives up on it (`stop`).
 */
export class DeviceMailbox<M> implements TurnTask {
  private queue: (M | undefined)[] = [];
  private head = 0;
  private state: 'idle' | 'queued' | 'running' | 'faulted' | 'stopped' = 'idle';
  /** Runs once the queue is empty, then the mailbox stops (see `finish`). */
  private last: (() => void) | undefined;

  constructor(
    private readonly scheduler: TurnScheduler,
    private readonly handle: (msg: M) => void | Promise<void>,
    private readonly onFault: (err: unknown) => void,
  ) {}

  post(msg: M): void {
    if (this.state === 'stopped' || this.last) return;
    this.queue.push(msg);
    if (this.state === 'idle') {
      this.state = 'queued';
      this.scheduler.handle(this);
    }
  }

  run(): void {
    if (this.state !== 'queued') return;
    this.state = 'running';
    this.handleNext();
  }

  /** The actor was restarted after a fault: go on with the next message. */
  resume(): void {
    if (this.state !== 'faulted') return;
    this.state = 'queued';
    this.scheduler.handle(this);
  }

  /**
   * Handles what is already queued, then runs `last` and stops; later posts are ignored. A
   * faulted mailbox does not wait for its restart: `last` runs at once.
   */
  finish(last: () => void): void {
    if (this.state === 'stopped' || this.last) return;
    this.last = last;
    if (this.state === 'idle' || this.state === 'faulted') this.runLast();
  }

  /** Drops every queued message; later posts are ignored. */
  stop(): void {
    this.last = undefined;
    this.state = 'stopped';
    this.queue = [];
    this.head = 0;
  }

  /** Handles queued messages synchronously until one returns a promise, then continues when it settles. */
  private handleNext(): void {
    while (this.state === 'running') {
      if (this.head === this.queue.length) {
        this.queue.length = 0;
        this.head = 0;
        this.state = 'idle';
        if (this.last) this.runLast();
        return;
      }
      const msg = this.queue[this.head]!;
      this.queue[this.head++] = undefined;
      let pending: void | Promise<void>;
      try {
        pending = this.handle(msg);
      } catch (err) {
        this.fault(err);
        return;
      }
      if (pending) {
        pending.then(this.continue, this.fault);
        return;
      }
    }
  }

  private readonly continue = (): void => {
    if (this.state === 'running') this.handleNext();
  };

  private readonly fault = (err: unknown): void => {
    if (this.state !== 'running') return;
    this.state = 'faulted';
    this.onFault(err);
    if (this.last) this.runLast();
  };

  private runLast(): void {
    const last = this.last!;
    this.stop();
    last();
  }
}
