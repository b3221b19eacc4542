import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import type { HostLag } from './messages.js';

const RESOLUTION_MS = 10;

/**
 * This process's event-loop delay, read and reset in windows (ms). The histogram records the
 * time between its timer's ticks, so the resolution is taken off: 0 means no delay.
 */
export class LoopLag {
  private readonly histogram: IntervalHistogram = monitorEventLoopDelay({ resolution: RESOLUTION_MS });

  constructor() {
    this.histogram.enable();
  }

  /** Delay since the previous take(); starts a new window. */
  take(): HostLag {
    const lag = this.peek();
    this.histogram.reset();
    return lag;
  }

  /** Delay since the previous take(), without starting a new window. */
  peek(): HostLag {
    const h = this.histogram;
    const ms = (ns: number): number => Math.max(0, ns / 1e6 - RESOLUTION_MS);
    return h.count === 0 ? { p50Ms: 0, p99Ms: 0, maxMs: 0 } : { p50Ms: ms(h.percentile(50)), p99Ms: ms(h.percentile(99)), maxMs: ms(h.max) };
  }
}
