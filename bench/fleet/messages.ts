/** What the coordinator and the fleet bench's child processes say to each other over IPC. */
import type { SparseCounts } from '../fanout/histogram.js';
import type { NetworkModel } from '../harness/network-model.js';
import type { Accounted, SentLog } from './session-log.js';
import type { WorkloadName } from './workloads.js';

/** Wire protocol of the broker under test: relaymesh's own, or MQTT 3.1.1 over WebSocket (mqtt.js). */
export type Protocol = 'relaymesh' | 'mqtt';

/** How a worker simulates devices: lean `ws` sockets with the relaymesh codec, the SDK, or mqtt.js clients. */
export type DeviceKind = 'raw' | 'sdk' | 'mqtt';

/** A latency histogram in µs as sent over IPC (see LatencyHistogram.toSparse). */
export interface SparseHistogram {
  counts: SparseCounts;
  max: number;
  sum: number;
}

/** The fleet workload's topic names, shared by every broker, so that the scenarios are the same on each. */
export const TOPICS = {
  /** Devices publish to telemetry/s<partition>/dev-<i>; backend b subscribes telemetry/s<b>/#. */
  telemetry: (partition: number, index: number): string => `telemetry/s${partition}/${deviceId(index)}`,
  telemetryFilter: (partition: number): string => `telemetry/s${partition}/#`,
  broadcast: 'fleet/broadcast',
  /** MQTT has no point-to-point: each MQTT device subscribes to its own command topic. */
  mqttCommand: (index: number): string => `cmd/${deviceId(index)}`,
} as const;

export function deviceId(index: number): string {
  return `dev-${index}`;
}

export function backendId(partition: number): string {
  return `backend-${partition}`;
}

export interface WorkerSetup {
  protocol: Protocol;
  /** Topics and payload format (workloads.ts). */
  workload: WorkloadName;
  kind: DeviceKind;
  url: string;
  /** Source addresses in 127.0.0.0/8 this worker spreads its sockets over. */
  localAddresses: string[];
  /** Backend partitions: device i publishes to partition i % partitions. */
  partitions: number;
  payloadBytes: number;
  qos: 0 | 1;
  /** PING (relaymesh) / keepalive (MQTT) interval. */
  heartbeatMs: number;
  /** Seconds a device holds its session before it closes it and starts a new drive; 0: held. */
  driveS: number;
  /** Raw and MQTT devices dial again after an unplanned close (the SDK always does). */
  redial: boolean;
  /** The emulated network between the devices and the broker (a delay relay per worker). */
  network: NetworkModel;
}

export interface ConnectPlan {
  /** Global device indices [first, first + count). */
  first: number;
  count: number;
  /** Handshakes in flight at once in this worker. */
  concurrency: number;
  timeoutMs: number;
}

export interface ConnectReport {
  connected: number;
  failed: number;
  firstError?: string;
  /** Wall time of this worker's share, first dial to last handshake. */
  ms: number;
  /** Socket open to subscribed (WELCOME + OK, or CONNACK + SUBACK), per device. */
  handshake: SparseHistogram;
}

/** One traffic phase. Counters reset when a phase starts; payloads carry the phase id so stragglers are not counted. */
export interface DevicePhase {
  phaseId: number;
  /** Telemetry messages per second per device; 0 = none (heartbeats only). */
  rate: number;
}

export interface DeviceCounters {
  /** Devices with a live session now. */
  live: number;
  telemetrySent: number;
  /** Publishes skipped because the device was offline (reconnecting). */
  telemetrySkipped: number;
  commandsReceived: number;
  broadcastsReceived: number;
  stale: number;
  /** Sessions that ended without the bench asking. */
  unexpectedCloses: number;
  /** Sessions back after an unplanned end (outage, reset, drop). */
  reconnects: number;
  reconnectAttempts: number;
  /** Sessions closed at the end of a drive and opened again. */
  drives: number;
  pongs: number;
}

export interface DeviceProgress extends DeviceCounters {
  /** Deliveries to devices since the previous progress call (commands + broadcasts). */
  window: SparseHistogram;
  /** Event-loop delay p99 of this worker since the previous call (ms). */
  lagP99Ms: number;
}

export interface DeviceReport extends DeviceCounters {
  commandLatency: SparseHistogram;
  broadcastLatency: SparseHistogram;
  heartbeatRtt: SparseHistogram;
  /** How late publishes left against their schedule: the simulator's own slip. */
  sendSlip: SparseHistogram;
  /** Device back in session after an unplanned end: time from the end. */
  reconnectTime: SparseHistogram;
  /** Commands and broadcasts counted against what was sent while each device was in session. */
  accounted: Accounted;
  /** Connections the worker's delay relay cut for an emulated outage. */
  outages: number;
  lagP99Ms: number;
  lagMaxMs: number;
}

export type DeviceWorkerCommands = {
  setup: { args: WorkerSetup; reply: { ok: true } };
  connect: { args: ConnectPlan; reply: ConnectReport };
  /** Arms a phase: resets the counters under a new phase id. Nothing is sent until `go`. */
  phase: { args: DevicePhase; reply: { ok: true } };
  /** Starts publishing at the armed phase's rate. Every receiver is armed before any sender goes, so no message crosses a reset. */
  go: { args: Record<string, never>; reply: { ok: true } };
  /** Stops publishing; the phase's counters stay readable. */
  quiet: { args: Record<string, never>; reply: { ok: true } };
  progress: { args: Record<string, never>; reply: DeviceProgress };
  /** The phase's figures; `sent` is the backend's log, to count what each device should have received. */
  report: { args: { sent: SentLog }; reply: DeviceReport };
  /** Resets the TCP connection of this share of devices at once (the reconnect storm). */
  drop: { args: { fraction: number }; reply: { dropped: number } };
  /** Closes and forgets devices with index >= `keep` (all when 0): graceful close, then terminate after the timeout. */
  shrink: { args: { keep: number; timeoutMs: number }; reply: { closed: number } };
};

export interface BackendPhase {
  phaseId: number;
  /** Devices 0..fleetSize-1 are the command targets. */
  fleetSize: number;
  /** Commands per device per second, sent point-to-point by the device's partition backend. */
  commandRate: number;
  /** Broadcasts per second to every device, published by backend 0. */
  broadcastHz: number;
}

export interface BackendCounters {
  telemetryReceived: number;
  /** Devices' answers to commands (workloads whose devices answer). */
  acksReceived: number;
  /** Telemetry seen twice (sequence number not above the device's last). */
  duplicates: number;
  /** Sequence numbers skipped: telemetry lost before the backend. */
  gaps: number;
  commandsSent: number;
  broadcastsSent: number;
  stale: number;
  unexpectedCloses: number;
}

export interface BackendProgress extends BackendCounters {
  window: SparseHistogram;
}

export interface BackendReport extends BackendCounters {
  telemetryLatency: SparseHistogram;
  /** Command sent to its answer received: the round trip through the broker and both links. */
  ackLatency: SparseHistogram;
  sent: SentLog;
  lagP99Ms: number;
}

export type BackendCommands = {
  /** Opens one backend connection per partition and subscribes each to its telemetry partition. */
  setup: { args: WorkerSetup & { timeoutMs: number }; reply: { connected: number } };
  phase: { args: BackendPhase; reply: { ok: true } };
  go: { args: Record<string, never>; reply: { ok: true } };
  quiet: { args: Record<string, never>; reply: { ok: true } };
  progress: { args: Record<string, never>; reply: BackendProgress };
  report: { args: Record<string, never>; reply: BackendReport };
  close: { args: { timeoutMs: number }; reply: { ok: true } };
};

/** Event-loop delay of a broker hosted in a Node process (relaymesh, Aedes), since the last reset. */
export interface HostLag {
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

export type BrokerHostCommands = {
  /** `port`: MQTT over WebSocket (and relaymesh's protocol); `mqttTcpPort`: MQTT over TCP. */
  start: { args: { host: string; dataDir: string; heartbeatMs: number }; reply: { port: number; mqttTcpPort: number; pid: number } };
  /** `window`: lag since the previous sample. `phase`: since the previous sample with newPhase, which starts a new one. */
  sample: { args: { newPhase: boolean }; reply: { window: HostLag; phase: HostLag; connections: number } };
  /** Replies, then exits: the kernel closes every socket from the broker's side. */
  stop: { args: Record<string, never>; reply: { ok: true } };
};
