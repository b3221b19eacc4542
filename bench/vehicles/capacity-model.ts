/**
 * The capacity model: broker CPU = fixed + per vehicle × vehicles + per message × messages/s,
 * fitted by least squares over fleets of several sizes measured on one broker; each measured size
 * checked against a fit that left it out; then what 100k and 1M vehicles would need. Assumptions
 * are returned with the numbers, in words.
 */
import { readFileSync } from 'node:fs';
import type { PhaseResult } from '../fleet/results.js';
import { nonNegativeLeastSquares } from './least-squares.js';

/** Open files one process may hold here (hard limit, /work/shared/DESIGN.md), less its own and a margin. */
export const OPEN_FILES_PER_PROCESS = 20_000;
const OWN_FILES = 300;
/** A process is planned to run at most this busy: p99 latency grows fast as an event loop nears 100%. */
const TARGET_UTILISATION = 0.6;
/** Share of a node's cores given to broker processes (the rest: kernel networking, OS, monitoring). */
const NODE_CORE_SHARE = 0.75;
/** Fewer distinct fleet sizes than this cannot separate fixed, per-vehicle and per-message cost. */
export const MIN_SIZES = 3;

/** One measured fleet on one broker process. */
export interface CostSample {
  label: string;
  vehicles: number;
  /** Messages the broker handled per second, in + out. */
  messagesPerSecond: number;
  /** Telemetry records the vehicles sent per second. */
  recordsPerSecond: number;
  cores: number;
  rssBytes: number;
  /** The fleet met the latency and loss criteria (capacity probes). */
  pass: boolean;
}

export function sampleOf(label: string, phase: PhaseResult, pass = true): CostSample {
  return {
    label,
    vehicles: phase.devices,
    messagesPerSecond: phase.messagesInPerSecond + phase.messagesOutPerSecond,
    recordsPerSecond: phase.telemetry.sent / Math.max(1e-9, phase.seconds),
    cores: phase.brokerUse.cpuCores,
    rssBytes: phase.brokerUse.rssBytes,
    pass,
  };
}

export interface CostFit {
  /** Broker process with no vehicle, plus the per-turn overhead that load amortises (the intercept): cores. */
  fixedCores: number;
  /** Broker CPU per connected vehicle per second, beyond its messages (heartbeats, timers, session upkeep): µs/s. */
  usPerVehicleSecond: number;
  /** Broker CPU per message handled (in or out): µs. */
  usPerMessage: number;
  baseRssBytes: number;
  rssPerVehicleBytes: number;
  /** Messages handled per telemetry record (in and out, plus commands, answers, broadcasts), from the loaded samples. */
  messagesPerRecord: number;
  samples: number;
  sizes: number[];
  /** The busiest measured broker: a plan that runs processes busier than this extrapolates. */
  largestMeasuredCores: number;
}

/** Least squares over the samples (non-negative costs); undefined below MIN_SIZES distinct fleet sizes. */
export function fitCosts(samples: CostSample[]): CostFit | undefined {
  const sizes = distinctSizes(samples);
  if (sizes.length < MIN_SIZES) return undefined;
  const cpu = nonNegativeLeastSquares(
    samples.map((s) => [1, s.vehicles, s.messagesPerSecond]),
    samples.map((s) => s.cores),
  );
  const rss = nonNegativeLeastSquares(
    samples.map((s) => [1, s.vehicles]),
    samples.map((s) => s.rssBytes),
  );
  if (!cpu || !rss) return undefined;
  const loaded = samples.filter((s) => s.recordsPerSecond > 0);
  const records = loaded.reduce((sum, s) => sum + s.recordsPerSecond, 0);
  return {
    fixedCores: cpu[0]!,
    usPerVehicleSecond: cpu[1]! * 1e6,
    usPerMessage: cpu[2]! * 1e6,
    baseRssBytes: rss[0]!,
    rssPerVehicleBytes: rss[1]!,
    messagesPerRecord: records > 0 ? loaded.reduce((sum, s) => sum + s.messagesPerSecond, 0) / records : 0,
    samples: samples.length,
    sizes,
    largestMeasuredCores: Math.max(...samples.map((s) => s.cores)),
  };
}

/** Cores `processes` broker processes are predicted to use for `vehicles` handling `messagesPerSecond` together. */
export function predictCores(f: CostFit, vehicles: number, messagesPerSecond: number, processes = 1): number {
  return processes * f.fixedCores + (vehicles * f.usPerVehicleSecond + messagesPerSecond * f.usPerMessage) / 1e6;
}

export interface ModelCheck {
  label: string;
  vehicles: number;
  pass: boolean;
  /** In the fit: predictedCores comes from a fit without this fleet size (leave one size out). */
  inFit: boolean;
  messagesPerSecond: number;
  measuredCores: number;
  /** From the fit over every sample (for samples in the fit, how well the curve passes through them). */
  fittedCores: number;
  /** The honest prediction: without this size's samples (in the fit), or the full fit (phases outside it). */
  predictedCores: number;
  errorPct: number;
}

/**
 * Predicted beside measured for every sample: the fit's own samples with their fleet size left out
 * of the fit (NaN when what remains has fewer than MIN_SIZES sizes), other phases from the full fit.
 */
export function checkModel(fitSamples: CostSample[], otherSamples: CostSample[]): ModelCheck[] {
  const full = fitCosts(fitSamples);
  if (!full) return [];
  const row = (s: CostSample, inFit: boolean, predicted: number): ModelCheck => ({
    label: s.label,
    vehicles: s.vehicles,
    pass: s.pass,
    inFit,
    messagesPerSecond: s.messagesPerSecond,
    measuredCores: s.cores,
    fittedCores: predictCores(full, s.vehicles, s.messagesPerSecond),
    predictedCores: predicted,
    errorPct: s.cores > 0 && Number.isFinite(predicted) ? (100 * (predicted - s.cores)) / s.cores : NaN,
  });
  return [
    ...fitSamples.map((s) => {
      const without = fitCosts(fitSamples.filter((o) => o.vehicles !== s.vehicles));
      return row(s, true, without ? predictCores(without, s.vehicles, s.messagesPerSecond) : NaN);
    }),
    ...otherSamples.map((s) => row(s, false, predictCores(full, s.vehicles, s.messagesPerSecond))),
  ];
}

/**
 * Mean absolute error of the held-out predictions at loaded fleets, %: the plan runs loaded
 * processes, and an idle broker's few hundredths of a core make any relative error huge.
 */
export function heldOutErrorPct(checks: ModelCheck[]): number {
  const errors = checks.filter((c) => c.inFit && c.messagesPerSecond > 0 && Number.isFinite(c.errorPct)).map((c) => Math.abs(c.errorPct));
  return errors.length > 0 ? errors.reduce((a, b) => a + b, 0) / errors.length : NaN;
}

export interface ForwardCost {
  /** One cluster hop's cost per forwarded message (µs). */
  usPerForward: number;
  source: string;
}

export interface Workload {
  ratePerVehicle: number;
  commandsPerVehicleS: number;
  broadcastHz: number;
}

export interface PlanRow {
  vehicles: number;
  ratePerVehicle: number;
  messagesPerSecond: number;
  brokerCores: number;
  processesByCpu: number;
  processesByFiles: number;
  processes: number;
  vehiclesPerProcess: number;
  nodes: number;
  memoryGiB: number;
  /** Cluster forwards per second with consumers on every node (commands and broadcasts only). */
  forwardsPerSecond: number;
  /** Extra cores if telemetry had to cross to consumers on one node instead. */
  extraCoresIfTelemetryCrosses: number;
}

export function plan(f: CostFit, forward: ForwardCost, sizes: number[], w: Workload, nodeCores: number): PlanRow[] {
  return sizes.map((vehicles) => {
    const messagesPerSecond = vehicles * w.ratePerVehicle * f.messagesPerRecord;
    // Every process is a cluster node: commands cross to the vehicle's process, broadcasts reach every process once.
    const forwards = (p: number): number => (vehicles * w.commandsPerVehicleS * (p - 1)) / p + w.broadcastHz * (p - 1);
    const forwardCores = (n: number): number => (2 * n * forward.usPerForward) / 1e6;
    const coresFor = (p: number): number => predictCores(f, vehicles, messagesPerSecond, p) + forwardCores(forwards(p));
    // More processes add their own fixed cost and forwards: a few rounds settle the count (bounded).
    let processesByCpu = Math.ceil(coresFor(1) / TARGET_UTILISATION);
    for (let i = 0; i < 5; i++) processesByCpu = Math.max(processesByCpu, Math.ceil(coresFor(processesByCpu) / TARGET_UTILISATION));
    const processesByFiles = Math.ceil(vehicles / (OPEN_FILES_PER_PROCESS - OWN_FILES));
    const processes = Math.max(processesByCpu, processesByFiles);
    return {
      vehicles,
      ratePerVehicle: w.ratePerVehicle,
      messagesPerSecond,
      brokerCores: coresFor(processes),
      processesByCpu,
      processesByFiles,
      processes,
      vehiclesPerProcess: Math.ceil(vehicles / processes),
      nodes: Math.ceil(processes / processesPerNode(nodeCores)),
      memoryGiB: (processes * f.baseRssBytes + vehicles * f.rssPerVehicleBytes) / 2 ** 30,
      forwardsPerSecond: forwards(processes),
      extraCoresIfTelemetryCrosses: forwardCores((vehicles * w.ratePerVehicle * (processes - 1)) / processes),
    };
  });
}

export interface CapacityPlan {
  fit: CostFit;
  forward: ForwardCost;
  nodeCores: number;
  rows: PlanRow[];
  checks: ModelCheck[];
  assumptions: string[];
}

/** The whole model: fit, checks, plan and assumptions; undefined below MIN_SIZES measured fleet sizes. */
export function capacityPlan(fitSamples: CostSample[], otherSamples: CostSample[], forward: ForwardCost, sizes: number[], w: Workload, nodeCores: number): CapacityPlan | undefined {
  const fit = fitCosts(fitSamples);
  if (!fit) return undefined;
  const checks = checkModel(fitSamples, otherSamples);
  return { fit, forward, nodeCores, rows: plan(fit, forward, sizes, w, nodeCores), checks, assumptions: assumptions(fit, forward, nodeCores, checks) };
}

export function assumptions(f: CostFit, forward: ForwardCost, nodeCores: number, checks: ModelCheck[]): string[] {
  const heldOut = heldOutErrorPct(checks);
  const busiestPlanned = TARGET_UTILISATION;
  return [
    `broker CPU per process = ${f.fixedCores.toFixed(3)} cores + vehicles × ${f.usPerVehicleSecond.toFixed(2)} µs/s + messages handled × ${f.usPerMessage.toFixed(2)} µs, ` +
      `least squares (costs ≥ 0) over ${f.samples} measurements at ${f.sizes.length} fleet sizes (${f.sizes.join(', ')} vehicles) on one broker, sessions held; ` +
      'the fixed term is more than an idle broker costs: it carries the per-loop-turn overhead that a loaded broker amortises over many messages',
    `held-out check: each measured size predicted by a fit without it, mean error ${Number.isFinite(heldOut) ? heldOut.toFixed(0) : '?'} % over the loaded fleets (table above; the idle ones sit below the fixed term)`,
    `${f.messagesPerRecord.toFixed(2)} messages handled per telemetry record (in and out, plus commands, answers, broadcasts), as measured`,
    `one broker process uses at most one core and is planned at ${busiestPlanned * 100}% busy ` +
      (f.largestMeasuredCores >= busiestPlanned
        ? `(inside the measured range: the busiest measured broker used ${f.largestMeasuredCores.toFixed(2)} cores)`
        : `(past the measured range: the busiest measured broker used ${f.largestMeasuredCores.toFixed(2)} cores, so the per-message cost there is extrapolated)`),
    `one process holds at most ${OPEN_FILES_PER_PROCESS - OWN_FILES} vehicles (open-files limit ${OPEN_FILES_PER_PROCESS} per process, hard on these machines, less ${OWN_FILES} for its own files)`,
    `nodes of ${nodeCores} cores run one broker process per core on ${NODE_CORE_SHARE * 100}% of them (${processesPerNode(nodeCores)} processes; kernel networking and the OS take the rest)`,
    'every broker process is a cluster node; backends consume fleet/+/telemetry on every node, so telemetry never crosses the cluster; commands cross once ((P−1)/P of them), ' +
      `broadcasts reach every process once; a forward costs ${forward.usPerForward.toFixed(1)} µs on the sender and again on the receiver (${forward.source})`,
    `memory = processes × ${(f.baseRssBytes / 2 ** 20).toFixed(0)} MB + vehicles × ${(f.rssPerVehicleBytes / 1024).toFixed(1)} KB RSS (least squares over the same measurements; kernel socket buffers not included)`,
    'costs measured on a shared 2-core machine with the load generator on the same cores: a dedicated node does better per core',
  ];
}

/** µs per forwarded message: the inverse of bench:cluster's 1-hop QoS 0 throughput (the pipeline's slowest process, an upper bound). */
export function forwardCost(file: string): ForwardCost {
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

function processesPerNode(nodeCores: number): number {
  return Math.max(1, Math.floor(nodeCores * NODE_CORE_SHARE));
}

function distinctSizes(samples: CostSample[]): number[] {
  return [...new Set(samples.map((s) => s.vehicles))].sort((a, b) => a - b);
}
