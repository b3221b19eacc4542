/** One device worker's counters and histograms for the current phase, whatever kind of client it runs. */
import { nowUs } from '../fanout/clock.js';
import { LatencyHistogram } from '../fanout/histogram.js';
import type { DeviceCounters } from './messages.js';
import { PayloadKind, readStamp, samePhase } from './payload.js';

export type Counters = Omit<DeviceCounters, 'live'>;

const zero = (): Counters => ({
  telemetrySent: 0,
  telemetrySkipped: 0,
  commandsReceived: 0,
  broadcastsReceived: 0,
  stale: 0,
  unexpectedCloses: 0,
  reconnects: 0,
  reconnectAttempts: 0,
  pongs: 0,
});

export class DeviceStats {
  phaseId = 0;
  counters: Counters = zero();
  commandLatency = new LatencyHistogram();
  broadcastLatency = new LatencyHistogram();
  heartbeatRtt = new LatencyHistogram();
  sendSlip = new LatencyHistogram();
  reconnectTime = new LatencyHistogram();
  /** Deliveries since the last progress call, for the live p99. */
  window = new LatencyHistogram();

  reset(phaseId: number): void {
    this.phaseId = phaseId;
    this.counters = zero();
    this.commandLatency = new LatencyHistogram();
    this.broadcastLatency = new LatencyHistogram();
    this.heartbeatRtt = new LatencyHistogram();
    this.sendSlip = new LatencyHistogram();
    this.reconnectTime = new LatencyHistogram();
    this.window = new LatencyHistogram();
  }

  takeWindow(): LatencyHistogram {
    const w = this.window;
    this.window = new LatencyHistogram();
    return w;
  }

  /** A command or broadcast reached a device. */
  delivered(payload: Uint8Array, atUs: number = nowUs()): void {
    const stamp = readStamp(payload);
    if (!stamp || !samePhase(stamp.phase, this.phaseId)) {
      this.counters.stale++;
      return;
    }
    const us = atUs - stamp.sentUs;
    if (stamp.kind === PayloadKind.COMMAND) {
      this.counters.commandsReceived++;
      this.commandLatency.record(us);
    } else if (stamp.kind === PayloadKind.BROADCAST) {
      this.counters.broadcastsReceived++;
      this.broadcastLatency.record(us);
    } else {
      this.counters.stale++;
      return;
    }
    this.window.record(us);
  }

  pong(sentUs: number): void {
    this.counters.pongs++;
    this.heartbeatRtt.record(nowUs() - sentUs);
  }
}
