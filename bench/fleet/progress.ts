/** Progress lines on stdout while the fleet bench runs, stamped with seconds since it began. */
import type { LatencyHistogram } from '../fanout/histogram.js';
import type { ProcSample } from './proc-stats.js';

export class ProgressLine {
  private readonly t0 = Date.now();
  private lastDelivered = 0;
  private lastAt = Date.now();

  line(text: string): void {
    process.stdout.write(`[${String(Math.round((Date.now() - this.t0) / 1000)).padStart(4)}s] ${text}\n`);
  }

  /** One line per couple of seconds of a traffic phase: fleet held, delivery rate, live p99, broker load. */
  progress(
    scenario: string,
    elapsedS: number,
    totalS: number,
    p: { live: number; delivered: number; window: LatencyHistogram },
    broker: ProcSample,
    brokerCores: number,
    brokerLagP99Ms: number | undefined,
  ): void {
    const now = Date.now();
    const rate = now > this.lastAt && p.delivered >= this.lastDelivered ? ((p.delivered - this.lastDelivered) * 1000) / (now - this.lastAt) : 0;
    this.lastDelivered = p.delivered;
    this.lastAt = now;
    const p99 = p.window.count > 0 ? `${(p.window.percentile(99) / 1000).toFixed(1)} ms` : '-';
    const lag = brokerLagP99Ms === undefined ? '' : `, lag p99 ${brokerLagP99Ms.toFixed(1)} ms`;
    this.line(
      `  ${scenario.padEnd(22)} ${elapsedS.toFixed(0).padStart(3)}/${totalS}s  held ${p.live}  delivered ${fmtRate(rate)}/s  p99 ${p99}  ` +
        `broker ${brokerCores.toFixed(2)} cores, ${(broker.rssBytes / 2 ** 20).toFixed(0)} MB${lag}`,
    );
  }

  /** Starts the delivery-rate count afresh (a new phase's counters start at zero). */
  resetRate(): void {
    this.lastDelivered = 0;
    this.lastAt = Date.now();
  }
}

export function fmtRate(n: number): string {
  if (!Number.isFinite(n)) return '-';
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)}M`;
  if (n >= 1e4) return `${(n / 1e3).toFixed(1)}k`;
  return n.toFixed(0);
}
