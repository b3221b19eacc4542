/**
 * The capacity model: from what one broker process cost here per message and per connection,
 * what a fleet of 100k or 1M vehicles would need, and how well the same arithmetic predicts the
 * fleets measured on this machine. Assumptions are returned with the numbers, in words.
 */
import { readFileSync } from 'node:fs';
import type { PhaseResult } from '../fleet/results.js';

/** Open files one process may hold here (hard limit), less its own and a margin. */
export const OPEN_FILES_PER_PROCESS = 20_000;
const OWN_FILES = 300;
/** A process is planned to run at most this busy: p99 latency grows fast as an event loop nears 100%. */
const TARGET_UTILISATION = 0.6;
/** Share of a node's cores given to broker processes (the rest: kernel networking, OS, monitoring). */
const NODE_CORE_SHARE = 0.75;

export interface CostInputs {
  /** What a broker process costs with no vehicle at all (timers, metrics, GC): cores. */
  fixedCoresPerProcess: number;
  /** Broker CPU per connected vehicle per second with heartbeats only, fixed cost taken off (µs/s). */
  usPerConnectionSecond: number;
  /** Broker CPU per message handled (in + out), traffic only: connection cost taken off (µs). */
  usPerMessage: number;
  /** Messages the broker handles per second per vehicle, per telemetry record per second (in + out, commands, acks, broadcasts). */
  messagesPerRecord: number;
  /** Broker memory per connected vehicle (bytes). */
  rssPerVehicleBytes: number;
  /** One cluster hop's cost per forwarded message (µs), from bench:cluster's 1-hop QoS 0 throughput. */
  usPerForward: number;
  forwardSource: string;
}

export interface PlanRow {
  vehicles: number;
  ratePerVehicle: number;
  messagesPerSecond: number;
  brokerCores: number;
  processesByCpu: number;
  processesByFiles: number;
  processes: number;
  nodes: number;
  memoryGiB: number;
  /** Cluster forwards per second with consumers on every node (commands and broadcasts only). */
  forwardsPerSecond: number;
  /** Extra cores if telemetry had to cross to consumers on one node instead. */
  extraCoresIfTelemetryCrosses: number;
}

export interface ModelCheck {
  label: string;
  vehicles: number;
  pass: boolean;
  messagesPerSecond: number;
  measuredCores: number;
  predictedCores: number;
  errorPct: number;
}

export interface CapacityPlan {
  inputs: CostInputs;
  nodeCores: number;
  rows: PlanRow[];
  checks: ModelCheck[];
  assumptions: string[];
}

/**
 * Fixed cost from the broker alone, per-connection cost from the idle phase less that,
 * per-message cost from the loaded phase less both: with one rate, connections and messages grow
 * together and cannot be told apart otherwise.
 */
export function costInputs(loaded: PhaseResult, alone: PhaseResult | undefined, idle: PhaseResult | undefined, clusterFile: string): CostInputs {
  const vehicles = Math.max(1, loaded.devices);
  const fixed = alone?.brokerUse.cpuCores ?? 0;
  const idleCoresPerVehicle = idle && idle.held > 0 ? Math.max(0, idle.brokerUse.cpuCores - fixed) / idle.held : 0;
  const messages = loaded.messagesInPerSecond + loaded.messagesOutPerSecond;
  const recordsPerSecond = loaded.telemetry.sent / Math.max(1e-9, loaded.seconds);
  const trafficCores = Math.max(0, loaded.brokerUse.cpuCores - fixed - idleCoresPerVehicle * vehicles);
  const { usPerForward, source } = forwardCost(clusterFile);
  return {
    fixedCoresPerProcess: fixed,
    usPerConnectionSecond: idleCoresPerVehicle * 1e6,
    usPerMessage: messages > 0 ? (trafficCores * 1e6) / messages : 0,
    messagesPerRecord: recordsPerSecond > 0 ? messages / recordsPerSecond : 0,
    rssPerVehicleBytes: Math.max(0, loaded.brokerUse.rssPerConnectionBytes),
    usPerForward,
    forwardSource: source,
  };
}

/** Cores `processes` broker processes are predicted to use for `vehicles` at `rate` records/s each. */
export function predictCores(c: CostInputs, vehicles: number, rate: number, processes = 1): number {
  return processes * c.fixedCoresPerProcess + (vehicles * c.usPerConnectionSecond + vehicles * rate * c.messagesPerRecord * c.usPerMessage) / 1e6;
}

export function plan(c: CostInputs, sizes: number[], rate: number, nodeCores: number, commandsPerVehicleS: number, broadcastHz: number): PlanRow[] {
  return sizes.map((vehicles) => {
    // Every process is a cluster node: commands cross to the vehicle's process, broadcasts reach every process once.
    const forwards = (p: number): number => (vehicles * commandsPerVehicleS * (p - 1)) / p + broadcastHz * (p - 1);
    const forwardCores = (f: number): number => (2 * f * c.usPerForward) / 1e6;
    const coresFor = (p: number): number => predictCores(c, vehicles, rate, p) + forwardCores(forwards(p));
    // Processes add their own fixed cost and forwards: a few rounds settle the count (bounded).
    let processesByCpu = Math.ceil(coresFor(1) / TARGET_UTILISATION);
    for (let i = 0; i < 5; i++) processesByCpu = Math.max(processesByCpu, Math.ceil(coresFor(processesByCpu) / TARGET_UTILISATION));
    const processesByFiles = Math.ceil(vehicles / (OPEN_FILES_PER_PROCESS - OWN_FILES));
    const processes = Math.max(processesByCpu, processesByFiles);
    const brokerCores = coresFor(processes);
    const forwardsPerSecond = forwards(processes);
    const perNode = Math.max(1, Math.floor(nodeCores * NODE_CORE_SHARE));
    const telemetryCrossing = (vehicles * rate * (processes - 1)) / processes;
    return {
      vehicles,
      ratePerVehicle: rate,
      messagesPerSecond: vehicles * rate * c.messagesPerRecord,
      brokerCores,
      processesByCpu,
      processesByFiles,
      processes,
      nodes: Math.ceil(processes / perNode),
      memoryGiB: (vehicles * c.rssPerVehicleBytes) / 2 ** 30,
      forwardsPerSecond,
      extraCoresIfTelemetryCrosses: forwardCores(telemetryCrossing),
    };
  });
}

/** The model against fleets measured here: predicted broker cores beside measured ones. */
export function checks(c: CostInputs, measured: { label: string; pass: boolean; phase: PhaseResult }[]): ModelCheck[] {
  return measured
    .filter((m) => m.phase.devices > 0 && m.phase.telemetry.sent > 0)
    .map(({ label, pass, phase }) => {
      // The records actually offered: a simulator that fell behind offered fewer than asked.
      const predicted = predictCores(c, phase.devices, phase.telemetry.sent / Math.max(1e-9, phase.seconds) / phase.devices);
      const measured = phase.brokerUse.cpuCores;
      return {
        label,
        vehicles: phase.devices,
        pass,
        messagesPerSecond: phase.messagesInPerSecond + phase.messagesOutPerSecond,
        measuredCores: measured,
        predictedCores: predicted,
        errorPct: measured > 0 ? (100 * (predicted - measured)) / measured : NaN,
      };
    })
    .filter((x) => Number.isFinite(x.predictedCores));
}

export function assumptions(c: CostInputs, nodeCores: number): string[] {
  return [
    `broker CPU = processes × ${c.fixedCoresPerProcess.toFixed(3)} cores (a broker alone, measured) + vehicles × ${c.usPerConnectionSecond.toFixed(2)} µs/s per connection (heartbeats only, sessions held: measured idle) + messages × ${c.usPerMessage.toFixed(2)} µs ` +
      `(measured under the vehicle workload with drives, connection cost taken off: drive churn is in the message cost); ` +
      `${c.messagesPerRecord.toFixed(2)} messages handled per telemetry record (in and out, plus commands, answers, broadcasts)`,
    `one broker process uses at most one core and is planned at ${TARGET_UTILISATION * 100}% busy; one process holds at most ${OPEN_FILES_PER_PROCESS - OWN_FILES} vehicles (open-files limit ${OPEN_FILES_PER_PROCESS}, hard)`,
    `nodes of ${nodeCores} cores give ${NODE_CORE_SHARE * 100}% of them to broker processes (kernel networking and the OS take the rest)`,
    `every broker process is a cluster node; backends consume fleet/+/telemetry on every node, so telemetry never crosses the cluster; commands cross once ((P−1)/P of them), ` +
      `broadcasts reach every process once; a forward costs ${c.usPerForward.toFixed(1)} µs on the sender and again on the receiver (${c.forwardSource})`,
    `memory = vehicles × ${(c.rssPerVehicleBytes / 1024).toFixed(1)} KB RSS per vehicle measured under load (kernel socket buffers not included)`,
    'costs measured on a loaded, shared 2-core machine with the load generator on the same cores: a dedicated node does better per core',
  ];
}

/** µs per forwarded message: the inverse of bench:cluster's 1-hop QoS 0 throughput (the pipeline's slowest process, an upper bound). */
function forwardCost(file: string): { usPerForward: number; source: string } {
  try {
    const json = JSON.parse(readFileSync(file, 'utf8')) as { startedAt?: string; pointToPoint?: { hops: number; name: string; qos0?: { throughput?: { perSec?: number } } }[] };
    const hop = json.pointToPoint?.find((p) => p.hops === 1 && /cluster/.test(p.name));
    const perSec = hop?.qos0?.throughput?.perSec;
    if (perSec && perSec > 0) return { usPerForward: 1e6 / perSec, source: `${file} of ${json.startedAt ?? '?'}: 1 hop at ${Math.round(perSec)} msg/s` };
  } catch {
    // Fall through to the stated default.
  }
  return { usPerForward: 10, source: `no ${file}: assumed 10 µs (run npm run bench:cluster)` };
}
