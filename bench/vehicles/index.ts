/** The connected-vehicle benchmark: `relaymesh bench vehicles` and `npm run bench:vehicles`. */
import { loadavg } from 'node:os';
import { killAllChildren, killChildrenOnExit } from '../fanout/ipc.js';
import { fleetCeiling, loadedSearch } from '../fleet/capacity.js';
import { describeMachine, sourceState } from '../fleet/index.js';
import type { DeviceKind } from '../fleet/messages.js';
import { ProgressLine } from '../fleet/progress.js';
import { writeLatest } from '../fleet/report.js';
import { writeHtmlReport } from '../harness/html-report.js';
import type { FleetResult } from '../fleet/results.js';
import { connectFleet, pastDeadline, steadySpec, withBroker, withMemory, type RunContext } from '../fleet/scenarios.js';
import { Simulator, type DeviceLink, type PhaseSpec } from '../fleet/simulator.js';
import { NO_NETWORK } from '../harness/network-model.js';
import { assumptions, checks, costInputs, plan } from './capacity-model.js';
import { renderChart } from './chart.js';
import { VEHICLES_USAGE, parseVehicleArgs, type Part, type VehicleOptions } from './options.js';
import { renderVehicleTables } from './report.js';
import type { VehicleResult } from './results.js';
import { vehiclePhase } from './scenarios.js';

export { VEHICLES_USAGE };

/**
 * Vehicle clients against relaymesh. 'mqtt' joins the list once relaymesh has an MQTT listener:
 * the fleet's MQTT devices (bench/fleet/device-mqtt.ts) already speak the vehicle workload, and
 * targets.ts would then start relaymesh with that listener as a target of protocol 'mqtt'.
 */
const RELAYMESH_CLIENTS: DeviceKind[] = ['raw', 'sdk'];
const CLUSTER_RESULTS = 'bench/results/cluster-latest.json';
const PLANNED_FLEETS = [100_000, 1_000_000];
/** Seconds of heartbeats-only traffic that price a connection. */
const IDLE_SECONDS = 6;

export async function runVehicleBench(args: string[]): Promise<number> {
  const options = parseVehicleArgs(args);
  const o = options.fleet;
  const uninstall = killChildrenOnExit();
  const log = new ProgressLine();
  const startedAt = new Date();
  const result: VehicleResult = {
    startedAt: startedAt.toISOString(),
    durationS: 0,
    machine: describeMachine(loadavg()[0]!),
    source: sourceState(),
    options: { ...o, vehicles: options.vehicles, driveS: options.driveS, nodeCores: options.nodeCores },
    networks: { main: options.network, mix: options.mix },
    parts: options.parts,
    phases: [],
    notes: [],
    errors: [],
  };
  log.line(
    `vehicle bench: ${options.vehicles} vehicles at ${o.rate} records/s, ${o.durationS} s phases, drives of ${options.driveS} s, network ${options.network.name}; ` +
      `${o.workers} device workers; peers ${o.peers.join(', ') || 'none'}`,
  );
  // The fleet machinery writes its notes into a FleetResult; they are the vehicle result's notes.
  const fleetShell = { notes: result.notes } as FleetResult;
  const sim = Simulator.start(
    { workload: 'vehicles', workers: o.workers, partitions: 1, payloadBytes: o.payloadBytes, qos: 0, heartbeatMs: o.heartbeatMs, connectConcurrency: 32, connectTimeoutMs: 20_000 },
    log,
  );
  const ctx: RunContext = {
    sim,
    options: o,
    log,
    result: fleetShell,
    deadline: startedAt.getTime() + o.maxMinutes * 60_000,
    targetSettings: { heartbeatMs: o.heartbeatMs, lifetimeS: o.maxMinutes * 60 + 120, relaymeshMode: 'host', brokerWorkers: 1 },
  };
  const driving = (network: DeviceLink['network']): DeviceLink => ({ network, driveS: options.driveS, redial: true });
  try {
    await step(result, log, 'relaymesh', async () => {
      result.phases.push(await vehiclePhase(ctx, { label: 'relaymesh raw, no network', broker: 'relaymesh', kind: 'raw', link: driving(NO_NETWORK) }));
      result.phases.push(await vehiclePhase(ctx, { label: `relaymesh raw, ${options.network.name}`, broker: 'relaymesh', kind: 'raw', link: driving(options.network) }));
      if (RELAYMESH_CLIENTS.includes('sdk')) {
        result.phases.push(await vehiclePhase(ctx, { label: 'relaymesh sdk, 4G/5G mix', broker: 'relaymesh', kind: 'sdk', link: driving(options.mix) }));
      }
    });
    await step(result, log, 'capacity', () => capacitySearch(ctx, options, result));
    await step(result, log, 'peers', async () => {
      for (const peer of o.peers) {
        result.phases.push(await vehiclePhase(ctx, { label: `${peer} mqtt, ${options.network.name}`, broker: peer, kind: 'mqtt', link: driving(options.network) }));
      }
    });
    buildModel(options, result);
    result.durationS = (Date.now() - startedAt.getTime()) / 1000;
    result.machine.loadAverage.atEnd = loadavg()[0]!;
    noteConditions(result);
    process.stdout.write('\n' + renderVehicleTables(result) + '\n\n');
    const json = writeLatest(o.outDir, 'vehicles-latest.json', result);
    const svg = writeLatest(o.outDir, 'vehicles-latest.svg', renderChart(result));
    const html = o.html ? [writeHtmlReport(json)] : [];
    log.line(`done in ${result.durationS.toFixed(0)} s; wrote ${[json, svg, ...html].join(', ')}`);
    return result.errors.length > 0 ? 1 : 0;
  } finally {
    await sim.stop();
    killAllChildren();
    uninstall();
  }
}

async function step(result: VehicleResult, log: ProgressLine, name: string, run: () => Promise<void>): Promise<void> {
  if (!result.parts.includes(name as Part)) return;
  try {
    await run();
  } catch (err) {
    const message = `${name}: ${(err as Error).stack ?? String(err)}`;
    log.line(`error: ${message}`);
    result.errors.push(message);
  }
}

/**
 * On one broker through the main network, sessions held (a probe lasts seconds, a drive half an
 * hour): the broker alone (the model's fixed cost), a fleet of half the main size loaded (the
 * model's first check), then idle (its per-connection cost), then the search for the largest
 * fleet within the criteria.
 */
async function capacitySearch(ctx: RunContext, options: VehicleOptions, result: VehicleResult): Promise<void> {
  if (pastDeadline(ctx, 'capacity search')) return;
  const o = options.fleet;
  const searchCtx: RunContext = { ...ctx, link: { network: options.network, driveS: 0, redial: true } };
  const half = Math.max(1, Math.round(options.vehicles / 2));
  await withBroker(searchCtx, 'relaymesh', 'raw', async (attached) => {
    result.brokerAlone = await ctx.sim.runPhase(quietSpec('broker alone'));
    await connectFleet(searchCtx, half, `model check ${half}`);
    result.modelCheck = withMemory(await ctx.sim.runPhase({ ...steadySpec(o, o.probeSeconds), scenario: `model check ${half}` }), attached.baselineRss);
    result.idle = withMemory(await ctx.sim.runPhase(quietSpec(`idle ${half}`)), attached.baselineRss);
    if (!pastDeadline(ctx, 'capacity search')) result.capacity = await loadedSearch(searchCtx, attached, fleetCeiling(searchCtx, attached));
  });
}

/** Heartbeats only, for IDLE_SECONDS. */
function quietSpec(scenario: string): PhaseSpec {
  return { scenario, seconds: IDLE_SECONDS, warmupS: 0, rate: 0, commandRate: 0, broadcastHz: 0 };
}

function buildModel(options: VehicleOptions, result: VehicleResult): void {
  const main = result.phases.find((p) => p.broker === 'relaymesh' && p.client === 'raw' && p.network === options.network.name)?.phase;
  if (!main) return;
  const o = options.fleet;
  const inputs = costInputs(main, result.brokerAlone, result.idle, CLUSTER_RESULTS);
  const measured = [
    ...(result.modelCheck ? [{ label: 'model check', pass: true, phase: result.modelCheck }] : []),
    { label: 'main phase (calibration)', pass: true, phase: main },
    ...(result.capacity?.probes ?? []).flatMap((p) => (p.phase ? [{ label: 'capacity probe', pass: p.pass, phase: p.phase }] : [])),
  ];
  result.model = {
    inputs,
    nodeCores: options.nodeCores,
    rows: plan(inputs, PLANNED_FLEETS, o.rate, options.nodeCores, o.commandRate, o.steadyBroadcastHz),
    checks: checks(inputs, measured),
    assumptions: assumptions(inputs, options.nodeCores),
  };
}

function noteConditions(result: VehicleResult): void {
  const phases = [...result.phases.map((p) => p.phase), ...(result.capacity?.probes ?? []).map((p) => p.phase)].filter((p) => p !== undefined);
  const worst = Math.max(0, ...phases.map((p) => p.otherCores));
  result.notes.push(
    'latency: the record\'s send time (CLOCK_MONOTONIC, shared by all processes) to receipt; vehicles reach the broker through a delay relay in their worker process (both directions), the backend directly: ' +
      'telemetry, commands and broadcasts cross the emulated network once, a command\'s answer (ack round trip) twice',
    'loss of commands and broadcasts counts only what was sent while the receiving vehicle was in session (a vehicle between drives or in an outage is excused, from 1 s before its link went down): see excused',
    'the simulator (device workers, relays, backend) shares the machine\'s cores with the broker: \'sim cores\' and \'other cores\' say how much the figures are skewed',
  );
  if (worst > 0.25) result.notes.push(`measured on a loaded machine: processes outside the bench took up to ${worst.toFixed(2)} cores during a phase`);
}
