import { parseArgs } from 'node:util';
import { HTML_FLAG, HTML_USAGE } from '../harness/html-report.js';
import { listFlag, numberFlag } from '../harness/flags.js';
import { PEERS, type BrokerName } from './targets.js';

export const SCENARIOS = ['connect', 'steady', 'broadcast', 'soak', 'reconnect', 'capacity', 'idle'] as const;
export type Scenario = (typeof SCENARIOS)[number];
const QUICK_SCENARIOS: Scenario[] = ['connect', 'steady', 'broadcast', 'soak', 'reconnect'];

export const FLEET_USAGE = `relaymesh bench fleet [options]

Fleet simulator: simulated devices (real WebSocket clients in several worker processes, spread
over 127.0.0.x source addresses) against a relaymesh broker in a process of its own, whose CPU,
memory and event-loop delay are measured; then the same steady-telemetry and broadcast
scenarios against Mosquitto and Aedes (MQTT over WebSocket, mqtt.js clients). Traffic stays on
127.0.0.0/8; every phase is bounded in time. Writes bench/results/fleet-latest.json.

scenarios (--scenario, default all; --quick: the first five):
  connect     connect storm: the whole fleet as fast as the broker accepts (connects/s, failures)
  steady      telemetry at --rate per device to backends (wildcard subscriptions per partition),
              commands back point-to-point, a broadcast to every device each second
  broadcast   1-to-N: --fanout-hz broadcasts per second to every device
  soak        steady for --soak seconds, broker RSS sampled for growth
  reconnect   SDK devices (RelaymeshClient, its backoff); --drop of them lose their connection at once
  capacity    largest fleet at --rate per device with p99 <= --p99-ms and loss < --max-loss % (bounded search)
  idle        largest fleet held on heartbeats only, up to one process's open-files ceiling, then
              beyond it with \`relaymesh start --workers <cores>\` when this build has it

  --devices <n>          fleet size of the fixed-size scenarios and the peer comparison (default 1000; --quick 300)
  --rate <r>             telemetry messages per second per device (default 10)
  --duration <s>         measured seconds of steady and broadcast (default 8; --quick 3)
  --scenario <list>      comma-separated, from the list above
  --peers <list>         relaymesh-mqtt,mosquitto,aedes (default all; none to skip)
  --soak <s>             soak length (default 20; --quick 5)
  --commands <r>         commands per device per second (default 0.1)
  --steady-broadcasts <r> broadcasts per second to every device during steady (default 1; 0 with
                         --commands 0 and --backends 1 measures inbound telemetry alone)
  --fanout-hz <r>        broadcasts per second in the broadcast scenario (default 10)
  --payload <bytes>      payload size, >= 24 (default 64)
  --qos <0|1>            QoS of telemetry and commands (default 0)
  --drop <fraction>      share of devices dropped in the reconnect storm (default 0.2)
  --heartbeat-ms <n>     broker heartbeat / MQTT keepalive (default 10000)
  --p99-ms <n>           capacity criterion: p99 of every delivery (default 100)
  --max-loss <pct>       capacity criterion: loss of each flow below this (default 0.1)
  --capacity-start <n>   first fleet size of the capacity search (default 1000)
  --capacity-max <n>     upper bound of the searches (default: the broker's open-files limit less its own)
  --probe-seconds <s>    measured seconds per capacity probe (default 6; --quick 3)
  --workers <n>          device worker processes (default 4)
  --backends <n>         backend connections = telemetry partitions (default 4)
  --broker <host|cli>    relaymesh in a bench host process (reports event-loop delay; default) or the CLI
  --broker-workers <n>   run every relaymesh scenario on \`relaymesh start --workers n\` (default 1: one process)
  --max-minutes <m>      hard bound on the whole run; later scenarios are skipped past it (default 20)
  --cpu-prof <dir>       write V8 CPU profiles of the hosted brokers (relaymesh, Aedes) into <dir>
  --out <dir>            results directory (default bench/results)
${HTML_USAGE}
  --quick                smoke run, about a minute`;

export interface FleetOptions {
  devices: number;
  rate: number;
  durationS: number;
  scenarios: Scenario[];
  peers: BrokerName[];
  soakS: number;
  commandRate: number;
  /** Broadcasts per second during steady telemetry (the fleet bench: 1). */
  steadyBroadcastHz: number;
  fanoutHz: number;
  payloadBytes: number;
  qos: 0 | 1;
  dropFraction: number;
  heartbeatMs: number;
  p99Ms: number;
  maxLossPct: number;
  capacityStart: number;
  capacityMax: number | undefined;
  probeSeconds: number;
  workers: number;
  backends: number;
  brokerMode: 'host' | 'cli';
  brokerWorkers: number;
  /** Directory for V8 CPU profiles of the hosted brokers; undefined: none. */
  cpuProfDir: string | undefined;
  maxMinutes: number;
  outDir: string;
  /** Also write the HTML report next to the JSON. */
  html: boolean;
  quick: boolean;
  warmupS: number;
}

/** The flags the fleet and the vehicle bench share (same meaning), declared once for parseArgs. */
export const SHARED_FLAGS = {
  rate: { type: 'string' },
  duration: { type: 'string' },
  peers: { type: 'string' },
  commands: { type: 'string' },
  'p99-ms': { type: 'string' },
  'max-loss': { type: 'string' },
  'capacity-start': { type: 'string' },
  'capacity-max': { type: 'string' },
  'probe-seconds': { type: 'string' },
  workers: { type: 'string' },
  'max-minutes': { type: 'string' },
  out: { type: 'string' },
  quick: { type: 'boolean' },
  ...HTML_FLAG,
} as const;

export function parseFleetArgs(args: string[]): FleetOptions {
  const { values } = parseArgs({
    args,
    strict: true,
    options: {
      ...SHARED_FLAGS,
      devices: { type: 'string' },
      scenario: { type: 'string' },
      soak: { type: 'string' },
      'fanout-hz': { type: 'string' },
      payload: { type: 'string' },
      qos: { type: 'string' },
      drop: { type: 'string' },
      'heartbeat-ms': { type: 'string' },
      backends: { type: 'string' },
      'steady-broadcasts': { type: 'string' },
      broker: { type: 'string' },
      'broker-workers': { type: 'string' },
      'cpu-prof': { type: 'string' },
    },
  });
  const quick = values.quick ?? false;
  const num = numberFlag;

  const scenarios = (listFlag(values.scenario) ?? (quick ? QUICK_SCENARIOS : [...SCENARIOS])).map((s) => {
    if (!SCENARIOS.includes(s as Scenario)) throw new Error(`--scenario: unknown ${JSON.stringify(s)} (${SCENARIOS.join(', ')})`);
    return s as Scenario;
  });
  const peers = peersFlag(values.peers);
  const broker = values.broker ?? 'host';
  if (broker !== 'host' && broker !== 'cli') throw new Error(`--broker must be host or cli, got ${JSON.stringify(broker)}`);
  const qos = num('qos', values.qos, 0, 0, 1);
  return {
    devices: num('devices', values.devices, quick ? 300 : 1000, 1, 200_000),
    rate: num('rate', values.rate, 10, 0, 1000, false),
    durationS: num('duration', values.duration, quick ? 3 : 8, 1, 3600),
    scenarios,
    peers,
    soakS: num('soak', values.soak, quick ? 5 : 20, 1, 24 * 3600),
    commandRate: num('commands', values.commands, 0.1, 0, 100, false),
    steadyBroadcastHz: num('steady-broadcasts', values['steady-broadcasts'], 1, 0, 100),
    fanoutHz: num('fanout-hz', values['fanout-hz'], 10, 0, 1000, false),
    payloadBytes: num('payload', values.payload, 64, 24, 64 * 1024),
    qos: qos as 0 | 1,
    dropFraction: num('drop', values.drop, 0.2, 0, 1, false),
    heartbeatMs: num('heartbeat-ms', values['heartbeat-ms'], 10_000, 1000, 600_000),
    p99Ms: num('p99-ms', values['p99-ms'], 100, 1, 60_000, false),
    maxLossPct: num('max-loss', values['max-loss'], 0.1, 0, 100, false),
    capacityStart: num('capacity-start', values['capacity-start'], 1000, 1, 200_000),
    capacityMax: values['capacity-max'] === undefined ? undefined : num('capacity-max', values['capacity-max'], 0, 1, 200_000),
    probeSeconds: num('probe-seconds', values['probe-seconds'], quick ? 3 : 6, 1, 600),
    workers: num('workers', values.workers, 4, 1, 32),
    backends: num('backends', values.backends, 4, 1, 64),
    brokerMode: broker,
    brokerWorkers: num('broker-workers', values['broker-workers'], 1, 1, 64),
    cpuProfDir: values['cpu-prof'],
    maxMinutes: num('max-minutes', values['max-minutes'], 20, 1, 24 * 60, false),
    outDir: values.out ?? 'bench/results',
    html: values.html ?? false,
    quick,
    warmupS: quick ? 1 : 2,
  };
}

/** `--peers`: a comma-separated list of MQTT peers, `none`, or (absent) all of them. */
export function peersFlag(v: string | undefined): BrokerName[] {
  const names = listFlag(v) ?? [...PEERS];
  if (names.includes('none')) return [];
  return names.map((p) => {
    if (!PEERS.includes(p as BrokerName)) throw new Error(`--peers: unknown ${JSON.stringify(p)} (${PEERS.join(', ')}, none)`);
    return p as BrokerName;
  });
}
