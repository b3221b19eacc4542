/**
 * A device worker process of the fleet bench: holds its share of the simulated fleet (raw
 * relaymesh sockets, SDK clients or mqtt.js clients), publishes telemetry on a steady schedule,
 * ends drives on schedule, counts what reaches its devices and reports over IPC. With an
 * emulated network, its devices dial a delay relay in this process instead of the broker.
 */
import { nowUs } from '../fanout/clock.js';
import { serveCommands } from '../fanout/ipc.js';
import type { DeviceFleet } from './device-fleet.js';
import { MqttFleet } from './device-mqtt.js';
import { RawFleet } from './device-raw.js';
import { SdkFleet } from './device-sdk.js';
import { DeviceStats } from './device-stats.js';
import { LoopLag } from './loop-lag.js';
import { DelayRelay } from '../harness/delay-relay.js';
import type { DeviceProgress, DeviceReport, DeviceWorkerCommands, WorkerSetup } from './messages.js';
import { PayloadKind } from './payload.js';
import { WORKLOADS } from './workloads.js';

const TICK_MS = 5;
const HEARTBEAT_SWEEP_MS = 250;

const stats = new DeviceStats();
const windowLag = new LoopLag();
const phaseLag = new LoopLag();
let setup: WorkerSetup | undefined;
let fleet: DeviceFleet | undefined;
let pacer: NodeJS.Timeout | undefined;
let armed = { phaseId: 0, rate: 0 };
let relay: DelayRelay | undefined;
/** The relay's outage count when the phase was armed: a phase reports its own outages. */
let outagesBefore = 0;

setInterval(() => {
  const now = Date.now();
  fleet?.tick(now);
  for (const index of stats.sessions.drivesDue(now)) fleet?.redrive(index);
}, HEARTBEAT_SWEEP_MS).unref();

/** The broker's URL, or the same path through a fresh delay relay when the setup has a network. */
async function routeThroughNetwork(s: WorkerSetup): Promise<WorkerSetup> {
  await relay?.close();
  relay = undefined;
  if (s.network.links.length === 0) return s;
  const url = new URL(s.url);
  relay = await DelayRelay.start({ host: url.hostname, port: Number(url.port) }, s.network);
  url.host = `127.0.0.1:${relay.port}`;
  return { ...s, url: url.toString() };
}

function fleetFor(s: WorkerSetup): DeviceFleet {
  switch (s.kind) {
    case 'raw':
      return new RawFleet(s, stats);
    case 'sdk':
      return new SdkFleet(s, stats);
    case 'mqtt':
      return new MqttFleet(s, stats);
  }
}

/**
 * Publishes `rate` messages per second per device, spread evenly: message c of the phase goes
 * out at c / (rate × devices) seconds, round-robin over the devices. A tick that finds itself
 * late sends what is due at once and records the slip, the simulator's own lateness.
 */
function startPacer(rate: number, phaseId: number): void {
  stopPacer();
  const f = fleet;
  const s = setup;
  if (!f || !s || rate <= 0) return;
  const devices = [...f.indices];
  if (devices.length === 0) return;
  const perSecond = rate * devices.length;
  const t0 = nowUs();
  let cursor = 0;
  const tick = (): void => {
    const elapsedUs = nowUs() - t0;
    const due = Math.floor((elapsedUs / 1e6) * perSecond);
    // At most two rounds per tick, so a stalled worker catches up without starving its event loop.
    const limit = Math.min(due, cursor + 2 * devices.length);
    for (; cursor < limit; cursor++) {
      const index = devices[cursor % devices.length]!;
      const seq = Math.floor(cursor / devices.length);
      const scheduledUs = t0 + (cursor / perSecond) * 1e6;
      stats.sendSlip.record(nowUs() - scheduledUs);
      if (f.publish(index, stats.workload.payload(PayloadKind.TELEMETRY, phaseId, index, seq, s.payloadBytes))) stats.counters.telemetrySent++;
      else stats.counters.telemetrySkipped++;
    }
    pacer = setTimeout(tick, TICK_MS);
  };
  pacer = setTimeout(tick, TICK_MS);
}

function stopPacer(): void {
  clearTimeout(pacer);
  pacer = undefined;
}

function requireFleet(): DeviceFleet {
  if (!fleet) throw new Error('setup first');
  return fleet;
}

serveCommands<DeviceWorkerCommands>({
  async setup(s) {
    stopPacer();
    // Devices left from an earlier broker (a run that failed half-way) are closed, not carried over.
    if (fleet && fleet.indices.length > 0) await fleet.shrink(0, 2_000);
    setup = await routeThroughNetwork(s);
    stats.configure(WORKLOADS[s.workload], s.driveS * 1000);
    fleet = fleetFor(setup);
    return { ok: true };
  },
  connect(plan) {
    return requireFleet().connect(plan);
  },
  phase(p) {
    requireFleet();
    stopPacer();
    armed = p;
    stats.reset(p.phaseId);
    outagesBefore = relay?.counters.outages ?? 0;
    phaseLag.take();
    return { ok: true };
  },
  go() {
    startPacer(armed.rate, armed.phaseId);
    return { ok: true };
  },
  quiet() {
    stopPacer();
    return { ok: true };
  },
  progress(): DeviceProgress {
    return { ...stats.counters, ...stats.sessions.counts, live: fleet?.liveCount() ?? 0, window: stats.takeWindow().toSparse(), lagP99Ms: windowLag.take().p99Ms };
  },
  report({ sent }): DeviceReport {
    const lag = phaseLag.take();
    return {
      ...stats.counters,
      ...stats.sessions.counts,
      live: fleet?.liveCount() ?? 0,
      accounted: stats.sessions.account(fleet?.indices ?? [], sent),
      outages: (relay?.counters.outages ?? 0) - outagesBefore,
      commandLatency: stats.commandLatency.toSparse(),
      broadcastLatency: stats.broadcastLatency.toSparse(),
      heartbeatRtt: stats.heartbeatRtt.toSparse(),
      sendSlip: stats.sendSlip.toSparse(),
      reconnectTime: stats.sessions.reconnectTime.toSparse(),
      lagP99Ms: lag.p99Ms,
      lagMaxMs: lag.maxMs,
    };
  },
  drop({ fraction }) {
    return { dropped: requireFleet().drop(fraction) };
  },
  async shrink({ keep, timeoutMs }) {
    stopPacer();
    return { closed: await requireFleet().shrink(keep, timeoutMs) };
  },
});
