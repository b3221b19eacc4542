/** One device worker's counters and histograms for the current phase, whatever kind of client it runs. */
import { nowUs } from '../fanout/clock.js';
import { LatencyHistogram } from '../fanout/histogram.js';
import type { DeviceCounters } from './messages.js';
import { PayloadKind, samePhase, type Stamp } from './payload.js';
import { SessionLog } from './session-log.js';
import { WORKLOADS, type Workload } from './workloads.js';

export type Counters = Omit<DeviceCounters, 'live' | 'reconnects' | 'drives'>;

const zero = (): Counters => ({
  telemetrySent: 0,
  telemetrySkipped: 0,
  commandsReceived: 0,
  broadcastsReceived: 0,
  stale: 0,
  unexpectedCloses: 0,
  reconnectAttempts: 0,
  pongs: 0,
});

export class DeviceStats {
  phaseId = 0;
  counters: Counters = zero();
  workload: Workload = WORKLOADS.fleet;
  sessions = new SessionLog(0);
  commandLatency = new LatencyHistogram();
  broadcastLatency = new LatencyHistogram();
  heartbeatRtt = new LatencyHistogram();
  sendSlip = new LatencyHistogram();
  /** Deliveries since the last progress call, for the live p99. */
  window = new LatencyHistogram();

  /** A new broker: its workload, and drives of `driveMs` (0: sessions are held). */
  configure(workload: Workload, driveMs: number): void {
    this.workload = workload;
    this.sessions = new SessionLog(driveMs);
  }

  reset(phaseId: number): void {
    this.phaseId = phaseId;
    this.counters = zero();
    this.sessions.reset(nowUs());
    this.commandLatency = new LatencyHistogram();
    this.broadcastLatency = new LatencyHistogram();
    this.heartbeatRtt = new LatencyHistogram();
    this.sendSlip = new LatencyHistogram();
    this.window = new LatencyHistogram();
  }

  takeWindow(): LatencyHistogram {
    const w = this.window;
    this.window = new LatencyHistogram();
    return w;
  }

  /** A command or broadcast reached device `index`; returns its stamp when it counted. */
  delivered(index: number, payload: Uint8Array, atUs: number = nowUs()): Stamp | undefined {
    const stamp = this.workload.read(payload);
    if (!stamp || !samePhase(stamp.phase, this.phaseId)) {
      this.counters.stale++;
      return undefined;
    }
    const us = atUs - stamp.sentUs;
    if (stamp.kind === PayloadKind.COMMAND) {
      this.counters.commandsReceived++;
      this.commandLatency.record(us);
      this.sessions.receivedCommand(index, stamp.seq);
    } else if (stamp.kind === PayloadKind.BROADCAST) {
      this.counters.broadcastsReceived++;
      this.broadcastLatency.record(us);
      this.sessions.receivedBroadcast(index, stamp.seq);
    } else {
      this.counters.stale++;
      return undefined;
    }
    this.window.record(us);
    return stamp;
  }

  pong(sentUs: number): void {
    this.counters.pongs++;
    this.heartbeatRtt.record(nowUs() - sentUs);
  }
}
