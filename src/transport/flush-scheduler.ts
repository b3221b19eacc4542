/** Something holding queued writes that can send them in one go. */
export interface Flushable {
  flush(): void;
}

/**
 * Coalesces a tick's writes: connections that got frames during this turn of the event
 * loop are flushed once, each under one cork, in the next check phase. One socket write
 * per connection per tick instead of one per frame is what makes fan-out cheap.
 */
export class FlushScheduler {
  private dirty: Flushable[] = [];
  private scheduled = false;

  markDirty(target: Flushable): void {
    this.dirty.push(target);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.flushAll);
    }
  }

  readonly flushAll = (): void => {
    this.scheduled = false;
    const batch = this.dirty;
    this.dirty = [];
    for (const target of batch) target.flush();
  };
}
