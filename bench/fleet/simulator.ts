/**
 * The coordinator's handle on the simulated fleet: device worker processes and the backend
 * process, attached to one broker at a time. Grows and shrinks the fleet, runs traffic phases
 * and turns the children's counters into results.
 */
import { setPriority } from 'node:os';
import { forkChild, type ChildLink } from '../fanout/ipc.js';
import { LatencyHistogram } from '../fanout/histogram.js';
import type {
  BackendCommands,
  BackendReport,
  ConnectReport,
  DeviceKind,
  DeviceReport,
  DeviceWorkerCommands,
  WorkerSetup,
} from './messages.js';
import { MACHINE_CORES, coresBetween, machineBusyBetween, machineCpu, sampleTree, type ProcSample } from './proc-stats.js';
import { internalsBetween, scrapeMetrics } from './broker-metrics.js';
import { ProgressLine } from './progress.js';
import { mergeSparse, percentilesMs, type ConnectResult, type Flow, type PhaseResult } from './results.js';
import type { BrokerTarget, LagSample } from './targets.js';
import { NO_NETWORK, type NetworkModel } from '../harness/network-model.js';
import type { WorkloadName } from './workloads.js';

/** How devices reach the broker: through an emulated network or not, holding sessions or driving. */
export interface DeviceLink {
  network: NetworkModel;
  /** Seconds per drive (0: sessions are held for the whole attach). */
  driveS: number;
  /** Raw and MQTT devices dial again after an unplanned close. */
  redial: boolean;
}

export const DIRECT_LINK: DeviceLink = { network: NO_NETWORK, driveS: 0, redial: false };

export interface SimulatorOptions {
  workload: WorkloadName;
  workers: number;
  partitions: number;
  payloadBytes: number;
  qos: 0 | 1;
  heartbeatMs: number;
  connectConcurrency: number;
  connectTimeoutMs: number;
}

export interface PhaseSpec {
  scenario: string;
  seconds: number;
  warmupS: number;
  rate: number;
  commandRate: number;
  broadcastHz: number;
  /** Called about once a second with the seconds since the phase started; may end the phase early by returning 'stop'. */
  during?: (elapsedS: number, progress: FleetProgress) => Promise<void | 'stop'> | void | 'stop';
  /** Soak: record broker RSS every this many seconds and p99 per window of this length. */
  seriesEveryS?: number;
}

export interface FleetProgress {
  live: number;
  reconnects: number;
  reconnectAttempts: number;
  drives: number;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const sum = (xs: number[]): number => xs.reduce((a, b) => a + b, 0);
const IPC_MS = 30_000;
/** Nice value of the device worker processes (the broker and the backend stay at 0). */
export const DEVICE_WORKER_NICE = 5;
/** Deliveries stop counting as in flight after this long without progress. */
const DRAIN_STALL_MS = 2_000;
const DRAIN_MAX_MS = 15_000;

export class Simulator {
  /** Devices 0..size-1 are connected (or were asked to be). */
  size = 0;
  private target: BrokerTarget | undefined;
  private attachNo = 0;
  private phaseNo = 0;

  private constructor(
    private readonly options: SimulatorOptions,
    private readonly workers: ChildLink<DeviceWorkerCommands>[],
    private readonly backend: ChildLink<BackendCommands>,
    private readonly log: ProgressLine,
  ) {}

  static start(options: SimulatorOptions, log: ProgressLine): Simulator {
    const workers = Array.from({ length: options.workers }, (_, i) =>
      forkChild<DeviceWorkerCommands>(`device-worker-${i}`, new URL('./device-worker.ts', import.meta.url)),
    );
    const backend = forkChild<BackendCommands>('backend', new URL('./backend-worker.ts', import.meta.url));
    // On a shared 2-core machine the load generator must not starve the broker it measures:
    // the device workers yield the CPU to it (and fall behind their schedule, which 'slip' shows).
    for (const w of workers) {
      try {
        if (w.pid !== undefined) setPriority(w.pid, DEVICE_WORKER_NICE);
      } catch {
        log.line(`warning: could not lower the priority of ${w.name}`);
      }
    }
    return new Simulator(options, workers, backend, log);
  }

  get pids(): number[] {
    return [...this.workers, this.backend].map((c) => c.pid).filter((p): p is number => p !== undefined);
  }

  /** Points the workers and the backend at `target`, with devices of `kind` reaching it over `link`; opens the backend connections. */
  async attach(target: BrokerTarget, kind: DeviceKind, link: DeviceLink = DIRECT_LINK): Promise<void> {
    this.target = target;
    this.attachNo++;
    const base: Omit<WorkerSetup, 'localAddresses'> = {
      ...link,
      workload: this.options.workload,
      protocol: target.protocol,
      kind,
      url: target.url,
      partitions: this.options.partitions,
      payloadBytes: this.options.payloadBytes,
      qos: this.options.qos,
      heartbeatMs: this.options.heartbeatMs,
    };
    await Promise.all(this.workers.map((w, i) => w.request('setup', { ...base, localAddresses: this.sourceAddresses(i) }, IPC_MS)));
    // The application side sits in the data centre: no emulated network, no drives.
    await this.backend.request('setup', { ...base, ...DIRECT_LINK, kind: 'raw', localAddresses: [], timeoutMs: this.options.connectTimeoutMs }, IPC_MS);
  }

  /**
   * Fresh source addresses per worker and per attach (127.<20+attach>.<worker>.<1..4>): each
   * address has its own 28k ephemeral ports, and no port of an earlier broker's TIME_WAIT is reused.
   */
  private sourceAddresses(worker: number): string[] {
    return Array.from({ length: 4 }, (_, k) => `127.${20 + (this.attachNo % 200)}.${worker + 1}.${k + 1}`);
  }

  /** Connects devices size..to-1, as fast as the broker accepts them, and measures it. */
  async grow(to: number): Promise<ConnectResult> {
    const target = this.requireTarget();
    const from = this.size;
    const count = Math.max(0, to - from);
    const before = sampleTree(target.pid);
    const shares = splitRange(from, count, this.workers.length);
    const started = Date.now();
    const reports: ConnectReport[] = await Promise.all(
      this.workers.map((w, i) => {
        const share = shares[i]!;
        const timeout = 60_000 + share.count * 50;
        return w.request('connect', { ...share, concurrency: this.options.connectConcurrency, timeoutMs: this.options.connectTimeoutMs }, timeout);
      }),
    );
    const seconds = (Date.now() - started) / 1000;
    const duringConnect = sampleTree(target.pid);
    this.size = to;
    // Let the broker finish what the handshakes started before reading its memory.
    await sleep(500);
    const after = sampleTree(target.pid);
    const connected = sum(reports.map((r) => r.connected));
    const failed = sum(reports.map((r) => r.failed));
    const firstError = reports.find((r) => r.firstError)?.firstError;
    return {
      broker: target.name,
      devices: count,
      connected,
      failed,
      ...(firstError ? { firstError } : {}),
      seconds,
      connectsPerSecond: seconds > 0 ? connected / seconds : 0,
      handshakeMs: percentilesMs(mergeSparse(reports.map((r) => r.handshake))),
      brokerCpuCores: coresBetween(before, duringConnect),
      rssBeforeBytes: before.rssBytes,
      rssAfterBytes: after.rssBytes,
      rssPerConnectionBytes: connected > 0 ? (after.rssBytes - before.rssBytes) / connected : 0,
    };
  }

  async shrinkTo(keep: number): Promise<void> {
    const timeoutMs = 10_000;
    await Promise.all(this.workers.map((w) => w.request('shrink', { keep, timeoutMs }, timeoutMs + IPC_MS)));
    this.size = Math.min(this.size, keep);
  }

  /** Closes every device and backend connection; the broker stays up (the caller stops it next). */
  async detach(): Promise<void> {
    await this.shrinkTo(0).catch((err: Error) => this.log.line(`warning: closing the fleet: ${err.message}`));
    await this.backend.request('close', { timeoutMs: 5_000 }, IPC_MS).catch((err: Error) => this.log.line(`warning: closing the backends: ${err.message}`));
    this.size = 0;
    this.target = undefined;
  }

  async stop(): Promise<void> {
    await Promise.all([...this.workers, this.backend].map((c) => c.waitExit(0)));
  }

  /** Tells every device worker to reset `fraction` of its live devices (the reconnect storm). */
  async drop(fraction: number): Promise<number> {
    const replies = await Promise.all(this.workers.map((w) => w.request('drop', { fraction }, IPC_MS)));
    return sum(replies.map((r) => r.dropped));
  }

  async runPhase(spec: PhaseSpec): Promise<PhaseResult> {
    const target = this.requireTarget();
    if (spec.warmupS > 0) {
      await this.arm({ ...spec, scenario: `${spec.scenario} (warm-up)` });
      await this.go();
      await sleep(spec.warmupS * 1000);
      await this.quiet();
      await sleep(300);
    }
    await this.arm(spec);
    await safeLag(target, true);
    const metrics0 = target.metricsUrl ? await scrapeMetrics(target.metricsUrl) : undefined;
    const b0 = sampleTree(target.pid);
    const s0 = this.simulatorCpuMs();
    const m0 = machineCpu();
    const rssSeries: { tS: number; rssBytes: number }[] = [];
    const windowP99Ms: number[] = [];
    let windowHist = new LatencyHistogram();
    let windowStart = Date.now();
    await this.go();
    this.log.resetRate();
    const t0 = Date.now();
    let lastPrint = 0;
    let lastLive = this.size;
    for (let tick = 1; Date.now() - t0 < spec.seconds * 1000 && tick <= spec.seconds * 4 + 10; tick++) {
      await sleep(Math.max(0, t0 + tick * 1000 - Date.now()));
      const elapsedS = (Date.now() - t0) / 1000;
      const p = await this.progress();
      lastLive = p.live;
      windowHist.merge(p.window.toSparse());
      if (spec.seriesEveryS && Date.now() - windowStart >= spec.seriesEveryS * 1000) {
        rssSeries.push({ tS: elapsedS, rssBytes: sampleTree(target.pid).rssBytes });
        windowP99Ms.push(windowHist.percentile(99) / 1000);
        windowHist = new LatencyHistogram();
        windowStart = Date.now();
      }
      const b = sampleTree(target.pid);
      if (b.processes === 0) break;
      if (elapsedS - lastPrint >= 2 || elapsedS >= spec.seconds) {
        lastPrint = elapsedS;
        const lag = await safeLag(target, false);
        this.log.progress(spec.scenario, elapsedS, spec.seconds, p, b, coresBetween(b0, b), lag?.window.p99Ms);
      }
      const verdict = await spec.during?.(elapsedS, p);
      if (verdict === 'stop') break;
    }
    const sendSeconds = (Date.now() - t0) / 1000;
    await this.quiet();
    const b1 = sampleTree(target.pid);
    const s1 = this.simulatorCpuMs();
    const m1 = machineCpu();
    await this.drain();
    const b2 = sampleTree(target.pid);
    if (b2.processes === 0) throw new Error(`${target.name} exited during ${spec.scenario} (its own output above says why)`);
    const lag = await safeLag(target, true);
    const metrics1 = target.metricsUrl ? await scrapeMetrics(target.metricsUrl) : undefined;
    // The backend's log of what it sent tells each worker what its devices should have received.
    const backend = await this.backend.request('report', {}, IPC_MS);
    const devices = await Promise.all(this.workers.map((w) => w.request('report', { sent: backend.sent }, IPC_MS)));
    const result = summarize(spec, target.name, this.size, sendSeconds, devices, backend, { b0, b1, b2 }, lag?.phase);
    result.simulator.cpuCores = (s1 - s0) / Math.max(1, b1.atMs - b0.atMs);
    result.machineBusy = machineBusyBetween(m0, m1);
    result.otherCores = Math.max(0, result.machineBusy * MACHINE_CORES - result.brokerUse.cpuCores - result.simulator.cpuCores);
    const internals = internalsBetween(metrics0, metrics1);
    if (internals) result.brokerInternals = internals;
    if (lastLive < this.size && result.held === this.size) result.held = lastLive;
    if (spec.seriesEveryS) {
      result.rssSeries = rssSeries;
      result.windowP99Ms = windowP99Ms;
      result.rssGrowthMbPerMin = slopePerMinute(rssSeries);
    }
    return result;
  }

  /** CPU time of the device workers and the backend process, from /proc like the broker's. */
  private simulatorCpuMs(): number {
    return sum(this.pids.map((pid) => sampleTree(pid).cpuMs));
  }

  private async arm(spec: PhaseSpec): Promise<void> {
    const phaseId = ++this.phaseNo;
    // Every receiver is armed before any sender goes: no message is stamped with a phase its receiver has not reached.
    await this.backend.request('phase', { phaseId, fleetSize: this.size, commandRate: spec.commandRate, broadcastHz: spec.broadcastHz }, IPC_MS);
    await Promise.all(this.workers.map((w) => w.request('phase', { phaseId, rate: spec.rate }, IPC_MS)));
  }

  private async go(): Promise<void> {
    await Promise.all([...this.workers.map((w) => w.request('go', {}, IPC_MS)), this.backend.request('go', {}, IPC_MS)]);
  }

  private async quiet(): Promise<void> {
    await Promise.all([...this.workers.map((w) => w.request('quiet', {}, IPC_MS)), this.backend.request('quiet', {}, IPC_MS)]);
  }

  private async progress(): Promise<FleetProgress & { window: LatencyHistogram; delivered: number; expected: number }> {
    const [devices, backend] = await Promise.all([
      Promise.all(this.workers.map((w) => w.request('progress', {}, IPC_MS))),
      this.backend.request('progress', {}, IPC_MS),
    ]);
    const window = mergeSparse([...devices.map((d) => d.window), backend.window]);
    const live = sum(devices.map((d) => d.live));
    return {
      live,
      reconnects: sum(devices.map((d) => d.reconnects)),
      reconnectAttempts: sum(devices.map((d) => d.reconnectAttempts)),
      drives: sum(devices.map((d) => d.drives)),
      window,
      // Command answers count once their commands arrived (workloads without answers have no acks and expect none).
      delivered: backend.telemetryReceived + backend.duplicates + backend.acksReceived + sum(devices.map((d) => d.commandsReceived + d.broadcastsReceived)),
      expected:
        sum(devices.map((d) => d.telemetrySent)) + backend.commandsSent + backend.broadcastsSent * live + (backend.acksReceived > 0 ? sum(devices.map((d) => d.commandsReceived)) : 0),
    };
  }

  /**
   * Waits for what is still in flight: until everything expected arrived, or deliveries stopped
   * growing for DRAIN_STALL_MS, and never longer than DRAIN_MAX_MS. What is missing then counts as lost.
   */
  private async drain(): Promise<void> {
    const deadline = Date.now() + DRAIN_MAX_MS;
    let last = -1;
    let stableSince = Date.now();
    while (Date.now() < deadline) {
      const p = await this.progress();
      if (p.delivered >= p.expected) return;
      if (p.delivered !== last) {
        last = p.delivered;
        stableSince = Date.now();
      } else if (Date.now() - stableSince >= DRAIN_STALL_MS) {
        return;
      }
      await sleep(100);
    }
  }

  private requireTarget(): BrokerTarget {
    if (!this.target) throw new Error('attach the simulator to a broker first');
    return this.target;
  }
}

/** The broker's event-loop delay, or undefined when it cannot answer in time (its loop is blocked: the other figures say so). */
async function safeLag(target: BrokerTarget, newPhase: boolean): Promise<LagSample | undefined> {
  try {
    return await target.lag(newPhase);
  } catch {
    return undefined;
  }
}

/** [first, count) ranges for each worker, contiguous, differing in size by at most one. */
function splitRange(first: number, count: number, parts: number): { first: number; count: number }[] {
  const out: { first: number; count: number }[] = [];
  let at = first;
  for (let i = 0; i < parts; i++) {
    const n = Math.floor(count / parts) + (i < count % parts ? 1 : 0);
    out.push({ first: at, count: n });
    at += n;
  }
  return out;
}

function flow(sent: number, expected: number, received: number, duplicates: number, seconds: number, latency: LatencyHistogram): Flow {
  const lost = Math.max(0, expected - received);
  return {
    sent,
    expected,
    received,
    lost,
    lossPct: expected > 0 ? (100 * lost) / expected : 0,
    duplicates,
    perSecond: seconds > 0 ? received / seconds : 0,
    latencyMs: percentilesMs(latency),
  };
}

function summarize(
  spec: PhaseSpec,
  broker: string,
  size: number,
  seconds: number,
  devices: DeviceReport[],
  backend: BackendReport,
  samples: { b0: ProcSample; b1: ProcSample; b2: ProcSample },
  lag: PhaseResult['brokerUse']['lagMs'],
): PhaseResult {
  const held = sum(devices.map((d) => d.live));
  const telemetrySent = sum(devices.map((d) => d.telemetrySent));
  const commandsReceived = sum(devices.map((d) => d.commandsReceived));
  const broadcastsReceived = sum(devices.map((d) => d.broadcastsReceived));
  const accounted = (key: keyof DeviceReport['accounted']): number => sum(devices.map((d) => d.accounted[key]));
  const telemetryLatency = mergeSparse([backend.telemetryLatency]);
  const commandLatency = mergeSparse(devices.map((d) => d.commandLatency));
  const broadcastLatency = mergeSparse(devices.map((d) => d.broadcastLatency));
  const all = mergeSparse([backend.telemetryLatency, ...devices.map((d) => d.commandLatency), ...devices.map((d) => d.broadcastLatency)]);
  const messagesIn = telemetrySent + backend.commandsSent + backend.broadcastsSent;
  const messagesOut = backend.telemetryReceived + commandsReceived + broadcastsReceived;
  const { b0, b1, b2 } = samples;
  const brokerCpuMs = b2.cpuMs - b0.cpuMs;
  return {
    scenario: spec.scenario,
    broker,
    devices: size,
    held,
    seconds,
    ratePerDevice: spec.rate,
    telemetry: flow(telemetrySent, telemetrySent, backend.telemetryReceived, backend.duplicates, seconds, telemetryLatency),
    // Commands and broadcasts count against what was sent while each receiver was in session (session-log.ts).
    commands: flow(backend.commandsSent, accounted('commandsExpected'), accounted('commandsMatched'), 0, seconds, commandLatency),
    broadcast: flow(backend.broadcastsSent, accounted('broadcastsExpected'), accounted('broadcastsMatched'), 0, seconds, broadcastLatency),
    commandAcks: flow(commandsReceived, commandsReceived, backend.acksReceived, 0, seconds, mergeSparse([backend.ackLatency])),
    excusedDeliveries: accounted('excused'),
    messagesInPerSecond: seconds > 0 ? messagesIn / seconds : 0,
    messagesOutPerSecond: seconds > 0 ? messagesOut / seconds : 0,
    latencyMs: percentilesMs(all),
    heartbeatRttMs: percentilesMs(mergeSparse(devices.map((d) => d.heartbeatRtt))),
    unexpectedCloses: sum(devices.map((d) => d.unexpectedCloses)) + backend.unexpectedCloses,
    staleDeliveries: sum(devices.map((d) => d.stale)) + backend.stale,
    reconnects: {
      drives: sum(devices.map((d) => d.drives)),
      outages: sum(devices.map((d) => d.outages)),
      count: sum(devices.map((d) => d.reconnects)),
      attempts: sum(devices.map((d) => d.reconnectAttempts)),
      timeMs: percentilesMs(mergeSparse(devices.map((d) => d.reconnectTime))),
    },
    brokerUse: {
      cpuCores: coresBetween(b0, b1),
      cpuUsPerMessage: messagesIn + messagesOut > 0 ? (brokerCpuMs * 1000) / (messagesIn + messagesOut) : 0,
      rssBytes: b2.rssBytes,
      rssPerConnectionBytes: 0,
      openFds: b2.openFds,
      lagMs: lag,
    },
    simulator: {
      cpuCores: 0,
      lagP99Ms: Math.max(0, ...devices.map((d) => d.lagP99Ms)),
      sendSlipP99Ms: mergeSparse(devices.map((d) => d.sendSlip)).percentile(99) / 1000 || 0,
    },
    machineBusy: 0,
    otherCores: 0,
  };
}

/** Least-squares slope of RSS over time, in MB per minute. */
function slopePerMinute(series: { tS: number; rssBytes: number }[]): number {
  if (series.length < 2) return 0;
  const n = series.length;
  const mx = sum(series.map((s) => s.tS)) / n;
  const my = sum(series.map((s) => s.rssBytes)) / n;
  const num = sum(series.map((s) => (s.tS - mx) * (s.rssBytes - my)));
  const den = sum(series.map((s) => (s.tS - mx) ** 2));
  return den > 0 ? ((num / den) * 60) / (1024 * 1024) : 0;
}
