/**
 * The backend process of the fleet bench: the application side of the fleet. One connection
 * per telemetry partition consumes telemetry/s<b>/# and sends commands to that partition's
 * devices; connection 0 also broadcasts to every device. Counts telemetry by sequence number
 * per device, so loss and duplicates are exact.
 */
import { nowUs } from '../fanout/clock.js';
import { LatencyHistogram } from '../fanout/histogram.js';
import { serveCommands } from '../fanout/ipc.js';
import { openBackend, type BackendLink } from './backend-links.js';
import { LoopLag } from './loop-lag.js';
import type { BackendCommands, BackendCounters, BackendPhase, WorkerSetup } from './messages.js';
import { PayloadKind, samePhase } from './payload.js';
import type { SentLog } from './session-log.js';
import { WORKLOADS, type Workload } from './workloads.js';

const TICK_MS = 5;

let setup: WorkerSetup | undefined;
let links: BackendLink[] = [];
let phase: BackendPhase = { phaseId: 0, fleetSize: 0, commandRate: 0, broadcastHz: 0 };
let counters: BackendCounters = zero();
let latency = new LatencyHistogram();
let ackLatency = new LatencyHistogram();
let sent: SentLog = { commands: [], broadcasts: [] };
let workload: Workload = WORKLOADS.fleet;
let window = new LatencyHistogram();
/** Highest telemetry sequence number seen per device in this phase (-1: none yet). */
let lastSeq = new Int32Array(0);
const lag = new LoopLag();
let pacer: NodeJS.Timeout | undefined;

function zero(): BackendCounters {
  return { telemetryReceived: 0, acksReceived: 0, duplicates: 0, gaps: 0, commandsSent: 0, broadcastsSent: 0, stale: 0, unexpectedCloses: 0 };
}

/** Telemetry, or a device's answer to a command (both arrive on the backend's subscriptions). */
function onTelemetry(payload: Uint8Array, atUs: number): void {
  const stamp = workload.read(payload);
  if (stamp?.kind === PayloadKind.COMMAND_ACK && samePhase(stamp.phase, phase.phaseId)) {
    counters.acksReceived++;
    ackLatency.record(atUs - stamp.sentUs);
    return;
  }
  if (!stamp || stamp.kind !== PayloadKind.TELEMETRY || !samePhase(stamp.phase, phase.phaseId) || stamp.device >= lastSeq.length) {
    counters.stale++;
    return;
  }
  const last = lastSeq[stamp.device]!;
  if (stamp.seq <= last) {
    counters.duplicates++;
    return;
  }
  if (stamp.seq > last + 1) counters.gaps += stamp.seq - last - 1;
  lastSeq[stamp.device] = stamp.seq;
  counters.telemetryReceived++;
  const us = atUs - stamp.sentUs;
  latency.record(us);
  window.record(us);
}

/**
 * Commands go round-robin over the fleet at commandRate per device per second, each from the
 * backend of the device's partition; broadcasts at broadcastHz from backend 0.
 */
function startPacer(p: BackendPhase): void {
  stopPacer();
  const s = setup;
  if (!s || links.length === 0) return;
  const commandsPerSecond = p.commandRate * p.fleetSize;
  const t0 = nowUs();
  let commandCursor = 0;
  let broadcastCursor = 0;
  const seqs = new Uint32Array(p.fleetSize);
  const tick = (): void => {
    const elapsedS = (nowUs() - t0) / 1e6;
    if (commandsPerSecond > 0) {
      const due = Math.min(Math.floor(elapsedS * commandsPerSecond), commandCursor + 2 * p.fleetSize);
      for (; commandCursor < due; commandCursor++) {
        const device = commandCursor % p.fleetSize;
        const link = links[device % links.length]!;
        const payload = workload.payload(PayloadKind.COMMAND, p.phaseId, device, seqs[device]!, s.payloadBytes);
        link.command(device, payload);
        sent.commands.push([device, seqs[device]!++, workload.read(payload)!.sentUs]);
        counters.commandsSent++;
      }
    }
    if (p.broadcastHz > 0) {
      const due = Math.floor(elapsedS * p.broadcastHz);
      for (; broadcastCursor < due; broadcastCursor++) {
        const payload = workload.payload(PayloadKind.BROADCAST, p.phaseId, 0, broadcastCursor, s.payloadBytes);
        links[0]!.broadcast(payload);
        sent.broadcasts.push([broadcastCursor, workload.read(payload)!.sentUs]);
        counters.broadcastsSent++;
      }
    }
    pacer = setTimeout(tick, TICK_MS);
  };
  pacer = setTimeout(tick, TICK_MS);
}

function stopPacer(): void {
  clearTimeout(pacer);
  pacer = undefined;
}

serveCommands<BackendCommands>({
  async setup({ timeoutMs, ...s }) {
    stopPacer();
    // Connections left from an earlier broker (a run that failed half-way) are closed first.
    await Promise.all(links.map((l) => l.close(1_000)));
    links = [];
    setup = s;
    workload = WORKLOADS[s.workload];
    const events = { telemetry: onTelemetry, lost: () => void counters.unexpectedCloses++ };
    links = await Promise.all(Array.from({ length: s.partitions }, (_, b) => openBackend(s, b, timeoutMs, events)));
    return { connected: links.length };
  },
  phase(p) {
    stopPacer();
    phase = p;
    counters = zero();
    latency = new LatencyHistogram();
    ackLatency = new LatencyHistogram();
    sent = { commands: [], broadcasts: [] };
    window = new LatencyHistogram();
    lastSeq = new Int32Array(p.fleetSize).fill(-1);
    lag.take();
    return { ok: true };
  },
  go() {
    startPacer(phase);
    return { ok: true };
  },
  quiet() {
    stopPacer();
    return { ok: true };
  },
  progress() {
    const w = window;
    window = new LatencyHistogram();
    return { ...counters, window: w.toSparse() };
  },
  report() {
    return { ...counters, telemetryLatency: latency.toSparse(), ackLatency: ackLatency.toSparse(), sent, lagP99Ms: lag.take().p99Ms };
  },
  async close({ timeoutMs }) {
    stopPacer();
    await Promise.all(links.map((l) => l.close(timeoutMs)));
    links = [];
    return { ok: true };
  },
});
