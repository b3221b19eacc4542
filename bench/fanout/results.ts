import type { PatternName, PublisherKind, TopologyKind } from './messages.js';

/** One (topology, fleet size, pattern) measurement. Times in µs unless named otherwise. */
export interface Measurement {
  topology: string;
  kind: TopologyKind;
  fleetSize: number;
  pattern: PatternName;
  publisher: PublisherKind;
  messages: number;
  published: number;
  subscribers: number;
  expected: number;
  /** Messages received, counted once per connection (see `duplicates`). */
  received: number;
  /** expected − received: QoS 0 drops under backpressure, closed sockets, or still in flight at the timeout. */
  dropped: number;
  complete: boolean;
  durationMs: number;
  deliveriesPerSec: number;
  latencyUs: { p50: number; p95: number; p99: number; max: number; mean: number };
  serverCpuUsPerDelivery: number;
  /** Server CPU time over the measurement's wall time: 1.0 is one core busy throughout. */
  serverCoreShare: number;
  serverCpuSystemShare: number;
  clientCpuUsPerDelivery: number;
  /** Frames per TCP read at the subscribers: ~1 means one socket write per delivery. */
  framesPerRead: number;
  /** Frames per socket write at the server (its own counters): 1 means one syscall per delivery. NaN where unknown (uws-native). */
  framesPerWrite: number;
  staleDeliveries: number;
  /** Deliveries of a message a connection had already received (QoS 1 redelivery, or a server sending twice); not in `received`. */
  duplicates: number;
  closedSockets: number;
  /** QoS 1 runs (--qos 1): the publisher's OKs, redeliveries and what the store wrote. */
  durable?: DurableFigures;
  /** Filled in once the whole run is done, from the baselines of the same size and pattern. */
  ratioToUwsNative?: number;
  ratioToCorkCeiling?: number;
  cpuRatioToUwsNative?: number;
}

export interface DurableFigures {
  /** PUBs the broker confirmed (OK after the commit). */
  confirmed: number;
  /** First PUB sent → last OK received, at the publisher. */
  allConfirmedMs: number;
  /** PUB → OK at the publisher. */
  confirmLatencyUs: Measurement['latencyUs'];
  /** Deliveries the broker sent again (ack timeout) during the measurement. */
  redelivered: number;
  /** Growth of the data directory's disk space during the measurement, per message published (LMDB reuses freed pages: a lower bound). */
  storeGrowthBytesPerMessage: number;
  /** Bytes the broker process wrote to storage during the measurement, per message published (the stream entry, cursors, sessions, LMDB pages). */
  storageWrittenBytesPerMessage: number;
}

/** One topology started on one fleet: connection and memory figures, and its measurements. */
export interface Cell {
  topology: string;
  kind: TopologyKind;
  fleetSize: number;
  /** Where the fleet connected. */
  url: string;
  fanout?: { branching: number; leafSize: number; leaves: number; height: number };
  subscribed: number;
  connectFailed: number;
  connectMs: number;
  firstConnectError?: string;
  serverRssIdleBytes: number;
  serverRssLoadedBytes: number;
  rssPerConnectionBytes: number;
  serverOpenFds: number;
  serverFdLimit: number;
  measurements: Measurement[];
  error?: string;
  /** Why a peer broker was not measured (not installed here). */
  skipped?: string;
}

export interface BenchResult {
  startedAt: string;
  durationS: number;
  /** loadAverage: 1-minute load; above the core count, other work on the machine skewed the figures. */
  machine: { node: string; cpus: number; cpuModel: string; platform: string; loadAverage: { atStart: number; atEnd: number } };
  source: { commit: string; uncommitted: string[] } | undefined;
  options: Record<string, unknown>;
  /** Largest fleet fully subscribed to one server process in this run, and the server's file limit. */
  largestFleet: { subscribed: number; serverOpenFds: number; serverFdLimit: number } | undefined;
  cells: Cell[];
}

/** Ratios against the baselines of the same fleet size and pattern, measured in the same run. */
export function fillRatios(cells: Cell[]): void {
  const all = cells.flatMap((c) => c.measurements);
  const find = (kind: TopologyKind, m: Measurement): Measurement | undefined =>
    all.find((b) => b.kind === kind && b.fleetSize === m.fleetSize && b.pattern === m.pattern);
  for (const m of all) {
    const native = find('uws-native', m);
    const ceiling = find('cork-ceiling', m);
    if (native && native.deliveriesPerSec > 0) m.ratioToUwsNative = m.deliveriesPerSec / native.deliveriesPerSec;
    if (ceiling && ceiling.deliveriesPerSec > 0) m.ratioToCorkCeiling = m.deliveriesPerSec / ceiling.deliveriesPerSec;
    if (native && native.serverCpuUsPerDelivery > 0) m.cpuRatioToUwsNative = m.serverCpuUsPerDelivery / native.serverCpuUsPerDelivery;
  }
}

export function largestFleet(cells: Cell[]): BenchResult['largestFleet'] {
  const full = cells.filter((c) => !c.error && c.subscribed === c.fleetSize).sort((a, b) => b.subscribed - a.subscribed)[0];
  return full ? { subscribed: full.subscribed, serverOpenFds: full.serverOpenFds, serverFdLimit: full.serverFdLimit } : undefined;
}
