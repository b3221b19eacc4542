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
import { MIN_SIZES, capacityPlan, forwardCost, sampleOf } from './capacity-model.js';
import { renderChart } from './chart.js';
import { VEHICLES_USAGE, parseVehicleArgs, type Part, type VehicleOptions } from './options.js';
import { renderVehicleTables } from './report.js';
import type { VehicleResult } from './results.js';
import { vehiclePhase } from './scenarios.js';

export { VEHICLES_USAGE };

/**
 * Vehicle clients of relaymesh's own protocol. MQTT vehicles reach relaymesh's MQTT listener as
 * the peer 'relaymesh-mqtt', beside Mosquitto and Aedes with the same mqtt.js vehicles.
 */
const RELAYMESH_CLIENTS: DeviceKind[] = ['raw', 'sdk'];
const CLUSTER_RESULTS = 'bench/results/cluster-latest.json';
const PLANNED_FLEETS = [100_000, 1_000_000];
/** Seconds of heartbeats-only traffic that price a connection. */
const IDLE_SECONDS = 6;
/** The machine is shared: its load average is sampled through the run and reported with the figures. */
const LOAD_SAMPLE_S = 30;

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
  const loadSamples = [loadavg()[0]!];
  const loadSampler = setInterval(() => loadSamples.push(loadavg()[0]!), LOAD_SAMPLE_S * 1000).unref();
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
    clearInterval(loadSampler);
    result.loadDuring = loadSummary([...loadSamples, result.machine.loadAverage.atEnd]);
    noteConditions(result);
    process.stdout.write('\n' + renderVehicleTables(result) + '\n\n');
    const json = writeLatest(o.outDir, 'vehicles-latest.json', result);
    const svg = writeLatest(o.outDir, 'vehicles-latest.svg', renderChart(result));
    const html = o.html ? [writeHtmlReport(json)] : [];
    log.line(`done in ${result.durationS.toFixed(0)} s; wrote ${[json, svg, ...html].join(', ')}`);
    return result.errors.length > 0 ? 1 : 0;
  } finally {
    clearInterval(loadSampler);
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
 * hour): the broker alone, a quarter and half of the main fleet loaded, half idle (the model's own
 * sizes, so it has several even when every probe of the search fails), then the search for the
 * largest fleet within the criteria, whose probes add their sizes to the model.
 */
async function capacitySearch(ctx: RunContext, options: VehicleOptions, result: VehicleResult): Promise<void> {
  if (pastDeadline(ctx, 'capacity search')) return;
  const o = options.fleet;
  const searchCtx: RunContext = { ...ctx, link: { network: options.network, driveS: 0, redial: true } };
  const sizes = [...new Set([Math.round(options.vehicles / 4), Math.round(options.vehicles / 2)].map((n) => Math.max(1, n)))];
  await withBroker(searchCtx, 'relaymesh', 'raw', async (attached) => {
    result.brokerAlone = await ctx.sim.runPhase(quietSpec('broker alone'));
    result.modelFleets = [];
    for (const size of sizes) {
      await connectFleet(searchCtx, size, `model fleet ${size}`);
      result.modelFleets.push(withMemory(await ctx.sim.runPhase({ ...steadySpec(o, o.probeSeconds), scenario: `model fleet ${size}` }), attached.baselineRss));
    }
    result.idle = withMemory(await ctx.sim.runPhase(quietSpec(`idle ${ctx.sim.size}`)), attached.baselineRss);
    if (!pastDeadline(ctx, 'capacity search')) result.capacity = await loadedSearch(searchCtx, attached, fleetCeiling(searchCtx, attached));
  });
}

/** Heartbeats only, for IDLE_SECONDS. */
function quietSpec(scenario: string): PhaseSpec {
  return { scenario, seconds: IDLE_SECONDS, warmupS: 0, rate: 0, commandRate: 0, broadcastHz: 0 };
}

/**
 * The model is fitted on the capacity part's broker (sessions held, sizes from none to the search's
 * largest); the fixed phases, each on its own broker with drives, are checked against it from outside.
 */
function buildModel(options: VehicleOptions, result: VehicleResult): void {
  const o = options.fleet;
  const fitSamples = [
    ...(result.brokerAlone ? [sampleOf('broker alone', result.brokerAlone)] : []),
    ...(result.modelFleets ?? []).map((p) => sampleOf('model fleet', p)),
    ...(result.idle ? [sampleOf('model fleet idle', result.idle)] : []),
    ...(result.capacity?.probes ?? []).flatMap((p) => (p.phase ? [sampleOf('capacity probe', p.phase, p.pass)] : [])),
  ];
  const otherSamples = result.phases.flatMap((p) => (p.broker === 'relaymesh' && p.phase ? [sampleOf(`${p.label} (own broker, drives)`, p.phase)] : []));
  const workload = { ratePerVehicle: o.rate, commandsPerVehicleS: o.commandRate, broadcastHz: o.steadyBroadcastHz };
  result.model = capacityPlan(fitSamples, otherSamples, forwardCost(CLUSTER_RESULTS), PLANNED_FLEETS, workload, options.nodeCores);
  if (!result.model) result.notes.push(`no capacity model: it needs the capacity part with at least ${MIN_SIZES} fleet sizes measured (had ${new Set(fitSamples.map((s) => s.vehicles)).size})`);
}

function loadSummary(samples: number[]): NonNullable<VehicleResult['loadDuring']> {
  return { everyS: LOAD_SAMPLE_S, mean: samples.reduce((a, b) => a + b, 0) / samples.length, min: Math.min(...samples), max: Math.max(...samples), samples };
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
