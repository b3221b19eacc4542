/** `relaymesh bench vehicles` options: parsed and checked once, with one-line errors naming the flag. */
import { cpus } from 'node:os';
import { parseArgs } from 'node:util';
import { HTML_USAGE } from '../harness/html-report.js';
import { NETWORK_USAGE, parseNetwork, type NetworkModel } from '../harness/network-model.js';
import { numberFlag } from '../harness/flags.js';
import { SHARED_FLAGS, peersFlag, type FleetOptions } from '../fleet/options.js';

export const VEHICLES_USAGE = `relaymesh bench vehicles [options]

Connected-vehicle benchmark: simulated vehicles (real WebSocket clients, raw protocol and SDK,
spread over worker processes and 127.0.0.x source addresses) send a msgpack telemetry record
(id, time, lat/lon, speed, heading, status flags) --rate times a second to fleet/<id>/telemetry
through an emulated mobile network (a delay relay per worker, both directions); a backend
consumes fleet/+/telemetry, sends each vehicle commands that it answers on fleet/<id>/ack, and
broadcasts a traffic alert to all. Vehicles hold a session for a drive, then start a new one.
Measures end-to-end latency with and without the network, loss, reconnects, broker CPU per
message, memory per vehicle, event-loop delay; searches the largest fleet within --p99-ms and
--max-loss; prints a capacity model for 100k and 1M vehicles; runs the same workload against
Mosquitto and Aedes (MQTT over WebSocket). Writes bench/results/vehicles-latest.json and .svg.

  --vehicles <n>          fleet size of the fixed phases (default 1000; --quick 150)
  --rate <r>              telemetry records per second per vehicle (default 10)
  --duration <s>          measured seconds per phase (default 60; --quick 12)
  --drive <s>             session length before a vehicle starts a new drive (default 1800; --quick 10)
  --network <model>       ${NETWORK_USAGE}
                          (default normal:50,10: 50 ms mean one-way delay, σ 10 ms)
  --loss <pct>            chunks lost once (+ a retransmission timeout) in the 4G/5G mix phase (default 0.5)
  --outage-every <s>      mean seconds between outages per connection in the mix phase (default 600; --quick 30)
  --commands <n>          commands per vehicle per minute (default 1)
  --broadcast-every <s>   seconds between fleet-wide broadcasts (default 5)
  --parts <list>          relaymesh,capacity,peers: which parts run (default all)
  --peers <list>          mosquitto,aedes (default both; none to skip)
  --p99-ms <n>            capacity criterion: p99 end to end of every flow (default 100)
  --max-loss <pct>        capacity criterion: loss of each flow below this (default 0.1)
  --capacity-start <n>    first fleet size of the capacity search (default 1000; --quick 50)
  --capacity-max <n>      largest fleet the search tries (default: one broker process's open files; --quick 1000)
  --probe-seconds <s>     measured seconds per capacity probe (default 10; --quick 4)
  --workers <n|auto>      device worker processes (default auto: one per core, at least 2)
  --node-cores <n>        cores per node in the capacity model (default 16)
  --max-minutes <m>       hard bound on the whole run (default 30; --quick 4)
  --out <dir>             results directory (default bench/results)
${HTML_USAGE}
  --quick                 a few minutes on small fleets`;

export const PARTS = ['relaymesh', 'capacity', 'peers'] as const;
export type Part = (typeof PARTS)[number];

export interface VehicleOptions {
  parts: Part[];
  vehicles: number;
  driveS: number;
  /** The network of the main phase and the capacity search. */
  network: NetworkModel;
  /** The 4G/5G mix with loss and outages (its own phase, on SDK vehicles). */
  mix: NetworkModel;
  nodeCores: number;
  /** What the shared fleet machinery reads (rate, durations, criteria, workers, peers...). */
  fleet: FleetOptions;
}

export function parseVehicleArgs(args: string[]): VehicleOptions {
  const { values } = parseArgs({
    args,
    strict: true,
    options: {
      ...SHARED_FLAGS,
      vehicles: { type: 'string' },
      drive: { type: 'string' },
      network: { type: 'string' },
      loss: { type: 'string' },
      'outage-every': { type: 'string' },
      'broadcast-every': { type: 'string' },
      parts: { type: 'string' },
      'node-cores': { type: 'string' },
    },
  });
  const quick = values.quick ?? false;
  const num = numberFlag;
  const peers = peersFlag(values.peers);
  const workers = values.workers === undefined || values.workers === 'auto' ? Math.max(2, cpus().length) : num('workers', values.workers, 2, 1, 32);
  const durationS = num('duration', values.duration, quick ? 12 : 60, 1, 3600);
  const lossRate = num('loss', values.loss, 0.5, 0, 100, false) / 100;
  const outageEveryS = num('outage-every', values['outage-every'], quick ? 30 : 600, 0, 86_400, false);
  const network = parseNetwork(values.network ?? 'normal:50,10', { lossRate: 0, outageEveryS: 0, outageMs: [0, 0] });
  const mix = parseNetwork('mix', { lossRate, outageEveryS, outageMs: [1_000, 3_000] });
  const vehicles = num('vehicles', values.vehicles, quick ? 150 : 1000, 1, 200_000);
  const broadcastEveryS = num('broadcast-every', values['broadcast-every'], 5, 0.1, 3600, false);
  const fleet: FleetOptions = {
    devices: vehicles,
    rate: num('rate', values.rate, 10, 0.1, 1000, false),
    durationS,
    scenarios: [],
    peers,
    soakS: 0,
    commandRate: num('commands', values.commands, 1, 0, 600, false) / 60,
    steadyBroadcastHz: 1 / broadcastEveryS,
    fanoutHz: 0,
    // The payload is the workload's msgpack record; this is only the fleet workload's size.
    payloadBytes: 64,
    qos: 0,
    dropFraction: 0,
    heartbeatMs: 10_000,
    p99Ms: num('p99-ms', values['p99-ms'], 100, 1, 60_000, false),
    maxLossPct: num('max-loss', values['max-loss'], 0.1, 0, 100, false),
    capacityStart: num('capacity-start', values['capacity-start'], quick ? 50 : 1000, 1, 200_000),
    capacityMax: values['capacity-max'] === undefined ? (quick ? 1000 : undefined) : num('capacity-max', values['capacity-max'], 0, 1, 200_000),
    probeSeconds: num('probe-seconds', values['probe-seconds'], quick ? 4 : 10, 1, 600),
    workers,
    // One backend: it consumes every vehicle through fleet/+/telemetry.
    backends: 1,
    brokerMode: 'host',
    brokerWorkers: 1,
    cpuProfDir: undefined,
    maxMinutes: num('max-minutes', values['max-minutes'], quick ? 4 : 30, 1, 24 * 60, false),
    outDir: values.out ?? 'bench/results',
    html: values.html ?? false,
    quick,
    warmupS: quick ? 1 : 3,
  };
  const parts = (values.parts ?? PARTS.join(',')).split(',').map((p) => {
    if (!PARTS.includes(p.trim() as Part)) throw new Error(`--parts: unknown ${JSON.stringify(p)} (${PARTS.join(', ')})`);
    return p.trim() as Part;
  });
  return {
    parts,
    vehicles,
    driveS: num('drive', values.drive, quick ? 10 : 1800, 1, 24 * 3600, false),
    network,
    mix,
    nodeCores: num('node-cores', values['node-cores'], 16, 1, 1024),
    fleet,
  };
}
