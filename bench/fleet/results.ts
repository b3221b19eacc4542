/** What the fleet bench measures and writes to bench/results/fleet-latest.json. Latencies in ms. */
import { LatencyHistogram } from '../fanout/histogram.js';
import type { BrokerInternals } from './broker-metrics.js';
import type { HostLag, SparseHistogram } from './messages.js';

export interface Percentiles {
  count: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

/** Percentiles in ms of a µs histogram (NaN when empty). */
export function percentilesMs(h: LatencyHistogram): Percentiles {
  const ms = (us: number): number => us / 1000;
  return { count: h.count, p50: ms(h.percentile(50)), p95: ms(h.percentile(95)), p99: ms(h.percentile(99)), max: h.count ? ms(h.max) : NaN };
}

export function mergeSparse(parts: SparseHistogram[]): LatencyHistogram {
  const h = new LatencyHistogram();
  for (const p of parts) h.merge(p);
  return h;
}

/** One message flow: telemetry (devices → backends), commands (backend → one device), broadcast (backend → every device). */
export interface Flow {
  sent: number;
  /** Expected deliveries: sent for telemetry and commands, sent × devices for broadcast. */
  expected: number;
  received: number;
  lost: number;
  lossPct: number;
  duplicates: number;
  perSecond: number;
  latencyMs: Percentiles;
}

export interface BrokerUse {
  /** Cores of broker CPU over the phase (1.0 = one core busy throughout). */
  cpuCores: number;
  /** Broker CPU per message handled (in + out), µs. */
  cpuUsPerMessage: number;
  rssBytes: number;
  rssPerConnectionBytes: number;
  openFds: number;
  /** Event-loop delay over the phase; undefined for brokers that are not Node processes. */
  lagMs: HostLag | undefined;
}

export interface SimulatorUse {
  /** Cores used by the device workers and the backend process together. */
  cpuCores: number;
  /** Worst device worker's event-loop delay p99. */
  lagP99Ms: number;
  /** How late telemetry left against its schedule (p99): high means the simulator, not the broker, fell behind. */
  sendSlipP99Ms: number;
}

export interface PhaseResult {
  scenario: string;
  broker: string;
  devices: number;
  /** Devices in session at the end of the phase. */
  held: number;
  seconds: number;
  ratePerDevice: number;
  telemetry: Flow;
  commands: Flow;
  broadcast: Flow;
  /** Command to its answer back at the backend (workloads whose devices answer); expected = commands received. */
  commandAcks: Flow;
  /** Commands and broadcasts not expected: sent while their receiver was out of session (between drives, in an outage). */
  excusedDeliveries: number;
  messagesInPerSecond: number;
  messagesOutPerSecond: number;
  /** All deliveries (telemetry, commands, broadcast) together. */
  latencyMs: Percentiles;
  heartbeatRttMs: Percentiles;
  unexpectedCloses: number;
  /** Deliveries stamped with an earlier phase (the warm-up): a broker still working through a backlog. */
  staleDeliveries: number;
  /**
   * Sessions re-established after an unplanned end (reconnect storm, emulated outage), with time from the end
   * to the new session; drives = sessions closed at the end of a drive and opened again; outages = connections the
   * emulated network cut.
   */
  reconnects: { count: number; attempts: number; drives: number; outages: number; timeMs: Percentiles };
  brokerUse: BrokerUse;
  simulator: SimulatorUse;
  /** relaymesh's own metrics of the phase (its /metrics endpoint); absent for the peers. */
  brokerInternals?: BrokerInternals;
  /** Share of the whole machine busy (1.0 = every core). */
  machineBusy: number;
  /** Cores taken by processes that are neither the broker nor the simulator: above ~0.2 the figures are skewed. */
  otherCores: number;
  /** Broker RSS every few seconds (soak). */
  rssSeries?: { tS: number; rssBytes: number }[];
  /** RSS growth over the phase (soak), MB per minute, least squares. */
  rssGrowthMbPerMin?: number;
  /** p99 per window of the phase (soak), ms. */
  windowP99Ms?: number[];
}

export interface ConnectResult {
  broker: string;
  devices: number;
  connected: number;
  failed: number;
  firstError?: string;
  seconds: number;
  connectsPerSecond: number;
  handshakeMs: Percentiles;
  brokerCpuCores: number;
  rssBeforeBytes: number;
  rssAfterBytes: number;
  rssPerConnectionBytes: number;
}

export interface ReconnectResult {
  devices: number;
  dropped: number;
  reconnected: number;
  /** Dropped devices not back by the end. */
  notBack: number;
  attempts: number;
  secondsUntilAllBack: number;
  reconnectMs: Percentiles;
  peakReconnectsPerSecond: number;
  backoff: string;
  phase: PhaseResult;
}

export interface Probe {
  devices: number;
  pass: boolean;
  reasons: string[];
  phase?: PhaseResult;
  connect?: ConnectResult;
}

export interface CapacityResult {
  criterion: string;
  ratePerDevice: number;
  probes: Probe[];
  largestPassing: number;
  smallestFailing: number | undefined;
  /** The search's upper bound: the broker's open-files limit less what it needs for itself. */
  ceiling: number;
  limitedBy: string;
}

export interface PeerRow {
  broker: string;
  available: boolean;
  skipped?: string;
  /** The peer failed part-way (e.g. crashed); what it completed is kept. */
  error?: string;
  how?: string;
  connect?: ConnectResult;
  steady?: PhaseResult;
  broadcast?: PhaseResult;
}

export interface FleetResult {
  startedAt: string;
  durationS: number;
  machine: { node: string; cpus: number; cpuModel: string; memoryGiB: number; loadAverage: { atStart: number; atEnd: number } };
  source: { commit: string; uncommitted: string[] } | undefined;
  options: Record<string, unknown>;
  relaymesh: {
    how?: string;
    connect?: ConnectResult;
    steady?: PhaseResult;
    broadcast?: PhaseResult;
    soak?: PhaseResult;
    reconnect?: ReconnectResult;
    capacity?: CapacityResult;
    idle?: CapacityResult;
    /** The idle search continued past one process's limit with `relaymesh start --workers <cores>`. */
    idleWorkers?: CapacityResult;
  };
  peers: PeerRow[];
  notes: string[];
  errors: string[];
}
