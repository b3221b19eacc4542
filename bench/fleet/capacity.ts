/**
 * The capacity searches: the largest fleet one relaymesh broker holds on this machine at
 * --rate messages per second per device within the latency and loss criteria, and the largest
 * fleet it holds idle (heartbeats only). Both are bounded: by probe count, by time, and above
 * by the broker process's open-files limit.
 */
import type { CapacityResult, Probe, PhaseResult } from './results.js';
import type { FleetOptions } from './options.js';
import { MACHINE_CORES, sampleTree } from './proc-stats.js';
import { connectFleet, pastDeadline, steadySpec, withBroker, withMemory, type Attached, type RunContext } from './scenarios.js';
import { cliHasWorkers } from './targets.js';

/** Open files a relaymesh broker needs for itself (listener, LMDB, epoll, pipes, stdio), kept free. */
const BROKER_OWN_FDS_MARGIN = 64;
const MAX_PROBES = 8;
const MAX_BISECTIONS = 3;
/** Idle, for a broker without event-loop figures: heartbeats answered within this are healthy (the dead-peer timeout is 2.5 heartbeats). */
const IDLE_HEARTBEAT_P99_MS = 1_000;
/** A probe counts only if the simulator sent at least this share of the telemetry asked for. */
const MIN_OFFERED_SHARE = 0.97;
/** Fleet sizes are rounded to this in the search (or to the first size, when that is smaller). */
const GRAIN = 250;

export async function capacityScenarios(ctx: RunContext): Promise<void> {
  const o = ctx.options;
  const wantCapacity = o.scenarios.includes('capacity');
  const wantIdle = o.scenarios.includes('idle');
  if ((!wantCapacity && !wantIdle) || pastDeadline(ctx, 'capacity search')) return;
  let singleCeiling = 0;
  await withBroker(ctx, 'relaymesh', 'raw', async (attached) => {
    const ceiling = fleetCeiling(ctx, attached);
    singleCeiling = ceiling;
    if (wantCapacity) ctx.result.relaymesh.capacity = await loadedSearch(ctx, attached, ceiling);
    if (wantIdle && !pastDeadline(ctx, 'idle search')) ctx.result.relaymesh.idle = await idleSearch(ctx, attached, ceiling, idleSteps(ceiling, o));
  });
  // One process stops at its open-files limit: past it, the multi-process broker, if this build has one.
  const idle = ctx.result.relaymesh.idle;
  const processes = MACHINE_CORES;
  if (!idle || idle.largestPassing < singleCeiling || o.quick || ctx.targetSettings.brokerWorkers > 1 || pastDeadline(ctx, 'multi-process idle search')) return;
  if (!cliHasWorkers()) {
    ctx.result.notes.push('the idle search stopped at one process\'s open-files limit; this build has no `relaymesh start --workers` to go beyond it');
    return;
  }
  const multi: RunContext = { ...ctx, targetSettings: { ...ctx.targetSettings, relaymeshMode: 'cli', brokerWorkers: processes } };
  ctx.log.line(`idle search beyond one process: relaymesh start --workers ${processes}`);
  await withBroker(multi, 'relaymesh', 'raw', async (attached) => {
    const ceiling = fleetCeiling(multi, attached, processes);
    ctx.result.relaymesh.idleWorkers = await idleSearch(multi, attached, ceiling, [ceiling]);
  });
}

/**
 * The most devices the broker can hold: per process, its open-files limit less its own files
 * and the backends; with several processes sharing the port, a little less than the sum, since
 * the kernel spreads connections by hash, not evenly.
 */
export function fleetCeiling(ctx: RunContext, { target }: Attached, processes = 1): number {
  const ownFds = sampleTree(target.pid).openFds / processes;
  const perProcess = target.fdLimit - ownFds - BROKER_OWN_FDS_MARGIN;
  const total = processes === 1 ? perProcess : processes * perProcess * 0.98;
  const grain = grainOf(ctx.options);
  const byFiles = Math.floor(total / grain) * grain;
  return Math.max(grain, Math.min(ctx.options.capacityMax ?? Infinity, Number.isFinite(byFiles) ? byFiles : 19_000));
}

export async function loadedSearch(ctx: RunContext, attached: Attached, ceiling: number): Promise<CapacityResult> {
  const o = ctx.options;
  const criterion =
    `${o.rate} msg/s/device offered (>= ${MIN_OFFERED_SHARE * 100}% of schedule), p99 of every delivery <= ${o.p99Ms} ms, ` +
    `loss of each flow < ${o.maxLossPct}%, every device held`;
  ctx.log.line(`capacity search: ${criterion}; sizes ${o.capacityStart}.. up to ${ceiling}`);
  const probes: Probe[] = [];
  const probe = async (devices: number): Promise<Probe> => {
    const p = await probeLoaded(ctx, attached, devices);
    probes.push(p);
    ctx.log.line(`  capacity ${devices}: ${p.pass ? 'PASS' : `FAIL (${p.reasons.join('; ')})`}`);
    return p;
  };
  let pass = 0;
  let fail: number | undefined;
  const grain = grainOf(o);
  const roundTo = (n: number): number => Math.max(grain, Math.round(n / grain) * grain);
  let size = Math.min(roundTo(o.capacityStart), ceiling);
  // Doubling until a probe fails or the ceiling passes; then bisection between the last pass and the first failure.
  while (probes.length < MAX_PROBES && !pastDeadline(ctx, 'further capacity probes')) {
    const p = await probe(size);
    if (!p.pass) {
      fail = size;
      break;
    }
    pass = size;
    if (size >= ceiling) break;
    size = Math.min(ceiling, size * 2);
  }
  for (let i = 0; fail !== undefined && i < MAX_BISECTIONS && probes.length < MAX_PROBES; i++) {
    const mid = roundTo((pass + fail) / 2);
    if (mid <= pass || mid >= fail || fail - pass <= Math.max(grain, 0.1 * pass)) break;
    if (pastDeadline(ctx, 'further capacity probes')) break;
    if ((await probe(mid)).pass) pass = mid;
    else fail = mid;
  }
  return {
    criterion,
    ratePerDevice: o.rate,
    probes,
    largestPassing: pass,
    smallestFailing: fail,
    ceiling,
    limitedBy: limitOf(probes, fail, ceiling, pass, ctx.options),
  };
}

async function probeLoaded(ctx: RunContext, attached: Attached, devices: number): Promise<Probe> {
  const o = ctx.options;
  const connect = await resize(ctx, devices);
  const phase = withMemory(await ctx.sim.runPhase({ ...steadySpec(o, o.probeSeconds), scenario: `capacity ${devices}` }), attached.baselineRss);
  const reasons: string[] = [];
  if (connect && connect.failed > 0) reasons.push(`${connect.failed} connects failed`);
  if (phase.held < devices) reasons.push(`${devices - phase.held} devices not held`);
  if (!(phase.latencyMs.p99 <= o.p99Ms)) reasons.push(`p99 ${phase.latencyMs.p99.toFixed(1)} ms > ${o.p99Ms} ms`);
  // The load must actually have been offered: a simulator that fell behind its schedule measured less than asked for.
  const offered = phase.telemetry.sent / Math.max(1e-9, devices * o.rate * phase.seconds);
  if (offered < MIN_OFFERED_SHARE) reasons.push(`only ${(offered * 100).toFixed(0)}% of the telemetry was offered (simulator slip p99 ${phase.simulator.sendSlipP99Ms.toFixed(0)} ms)`);
  for (const [name, f] of [['telemetry', phase.telemetry], ['commands', phase.commands], ['broadcast', phase.broadcast]] as const) {
    if (f.lossPct >= o.maxLossPct && f.expected > 0) reasons.push(`${name} loss ${f.lossPct.toFixed(2)}%`);
  }
  return { devices, pass: reasons.length === 0, reasons, phase, ...(connect ? { connect } : {}) };
}

async function idleSearch(ctx: RunContext, attached: Attached, ceiling: number, steps: number[]): Promise<CapacityResult> {
  const o = ctx.options;
  const holdS = o.quick ? 3 : Math.ceil((o.heartbeatMs * 1.2) / 1000);
  const criterion =
    `heartbeats only (PING every ${o.heartbeatMs} ms) for ${holdS} s: every device held, none dropped, broker event-loop delay p99 <= ${o.p99Ms} ms ` +
    `(a broker that does not report it: heartbeat round trip p99 <= ${IDLE_HEARTBEAT_P99_MS} ms)`;
  ctx.log.line(`idle search: ${criterion}; steps ${steps.join(', ')}`);
  const probes: Probe[] = [];
  let pass = 0;
  let fail: number | undefined;
  for (const devices of steps) {
    if (pastDeadline(ctx, 'further idle steps')) break;
    const connect = await resize(ctx, devices);
    const phase = withMemory(
      await ctx.sim.runPhase({ scenario: `idle ${devices}`, seconds: holdS, warmupS: 0, rate: 0, commandRate: 0, broadcastHz: 0 }),
      attached.baselineRss,
    );
    const reasons: string[] = [];
    if (connect && connect.failed > 0) reasons.push(`${connect.failed} connects failed (${connect.firstError ?? ''})`);
    if (phase.held < devices) reasons.push(`${devices - phase.held} devices not held`);
    if (phase.unexpectedCloses > 0) reasons.push(`${phase.unexpectedCloses} connections dropped`);
    // The broker's own responsiveness where it reports it; else the round trip, which includes the (niced) simulator.
    const lag = phase.brokerUse.lagMs;
    if (lag && lag.p99Ms > o.p99Ms) reasons.push(`broker event-loop delay p99 ${lag.p99Ms.toFixed(1)} ms`);
    if (!lag && phase.heartbeatRttMs.p99 > IDLE_HEARTBEAT_P99_MS) reasons.push(`heartbeat p99 ${phase.heartbeatRttMs.p99.toFixed(1)} ms`);
    const p: Probe = { devices, pass: reasons.length === 0, reasons, phase, ...(connect ? { connect } : {}) };
    probes.push(p);
    ctx.log.line(
      `  idle ${devices}: ${p.pass ? 'PASS' : `FAIL (${reasons.join('; ')})`}; broker ${phase.brokerUse.cpuCores.toFixed(2)} cores, ` +
        `${(phase.brokerUse.rssBytes / 2 ** 20).toFixed(0)} MB, ${(phase.brokerUse.rssPerConnectionBytes / 1024).toFixed(1)} KB/connection`,
    );
    if (!p.pass) {
      fail = devices;
      break;
    }
    pass = devices;
  }
  const atCeiling = pass >= ceiling;
  const top = probes.find((p) => p.devices === pass)?.phase;
  const processes = ctx.targetSettings.brokerWorkers;
  const limitedBy = atCeiling
    ? `the open-files limit (${attached.target.fdLimit} per process, hard here) × ${processes} broker process${processes > 1 ? 'es' : ''}: ` +
      `at most ~${ceiling} devices; at that size the broker used ${fmtCores(top)} and ${fmtMb(top)} of 24 GiB, so neither CPU nor memory was the limit. ` +
      (processes > 1
        ? `More processes (\`relaymesh start --workers N\`, N > cores) would go further until memory or CPU binds.`
        : `Larger fleets need several broker processes (\`relaymesh start --workers\`).`)
    : fail !== undefined
      ? `failed at ${fail}: ${probes[probes.length - 1]?.reasons.join('; ')}`
      : 'the run ended before the ceiling was reached';
  return { criterion, ratePerDevice: 0, probes, largestPassing: pass, smallestFailing: fail, ceiling, limitedBy };
}

/** Grows or shrinks the fleet to `devices`; returns the connect measurement when it grew. */
async function resize(ctx: RunContext, devices: number) {
  if (devices > ctx.sim.size) return connectFleet(ctx, devices, `fleet ${devices}`);
  if (devices < ctx.sim.size) await ctx.sim.shrinkTo(devices);
  return undefined;
}

/** Idle sizes for one process: a few round steps for the memory curve, then the ceiling. */
function idleSteps(ceiling: number, o: FleetOptions): number[] {
  const top = o.quick ? Math.min(ceiling, Math.max(2 * o.devices, 1000)) : ceiling;
  return [...[10_000].filter((s) => s < top), top];
}

/** What stopped the loaded search, in words, from the failing probe's own measurements. */
function limitOf(probes: Probe[], fail: number | undefined, ceiling: number, pass: number, o: FleetOptions): string {
  if (fail === undefined) {
    return pass >= ceiling
      ? `not load: the search reached the open-files ceiling (${ceiling} devices per broker process) while still within the criteria`
      : 'the search stopped (probe or time bound) before any probe failed';
  }
  const failed = probes.find((p) => p.devices === fail)?.phase;
  if (!failed) return `failed at ${fail}`;
  const busy = failed.machineBusy;
  const parts = [
    `at ${fail} devices (${(fail * o.rate).toFixed(0)} msg/s in): ${probes.find((p) => p.devices === fail)?.reasons.join('; ')}`,
    `machine ${(busy * 100).toFixed(0)}% busy of ${MACHINE_CORES} cores: broker ${failed.brokerUse.cpuCores.toFixed(2)} cores, simulator ${failed.simulator.cpuCores.toFixed(2)} cores`,
  ];
  if (failed.brokerUse.lagMs) parts.push(`broker event-loop delay p99 ${failed.brokerUse.lagMs.p99Ms.toFixed(1)} ms`);
  parts.push(`simulator send slip p99 ${failed.simulator.sendSlipP99Ms.toFixed(1)} ms`);
  const fanoutP99 = failed.brokerInternals?.fanoutP99Ms;
  if (fanoutP99 !== undefined) parts.push(`relaymesh's own fan-out p99 (publish entering a tree to a leaf's socket write) <= ${fanoutP99} ms`);
  if (failed.otherCores > 0.2) parts.push(`other processes on the machine took ${failed.otherCores.toFixed(2)} cores: the result is skewed low`);
  const brokerCores = failed.brokerUse.cpuCores;
  if (brokerCores >= 0.75) {
    parts.push(
      `=> one broker process nears the one core its event loop can use (${brokerCores.toFixed(2)} on average, busier in bursts) and the latency tail ` +
        `builds inside it: CPU-bound in a single broker process (--broker-workers spreads the fleet over processes)`,
    );
  } else if (busy >= 0.9) {
    parts.push('=> the machine\'s cores are saturated, shared by the broker and the simulator: CPU-bound on this 2-core box');
  } else if (fanoutP99 !== undefined && fanoutP99 >= o.p99Ms / 2) {
    parts.push(
      `=> the tail builds inside the broker's fan-out path (queueing between publish and the leaf write) although neither the broker ` +
        `(${brokerCores.toFixed(2)} cores on average) nor the machine is saturated on average`,
    );
  }
  return parts.join('; ');
}

/** Small machines and smoke runs search small fleets: a first size below GRAIN sets the grain. */
function grainOf(o: FleetOptions): number {
  return Math.max(1, Math.min(GRAIN, o.capacityStart));
}

function fmtCores(p: PhaseResult | undefined): string {
  return p ? `${p.brokerUse.cpuCores.toFixed(2)} cores` : '? cores';
}

function fmtMb(p: PhaseResult | undefined): string {
  return p ? `${(p.brokerUse.rssBytes / 2 ** 20).toFixed(0)} MB RSS (${(p.brokerUse.rssPerConnectionBytes / 1024).toFixed(1)} KB per connection)` : '? MB';
}
