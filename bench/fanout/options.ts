import { parseArgs } from 'node:util';
import { HTML_FLAG, HTML_USAGE } from '../harness/html-report.js';
import { choiceFlag, listFlag, numberFlag } from '../harness/flags.js';
import type { Qos } from '../../src/index.js';
import { MQTT_CLIENTS, MQTT_TRANSPORTS, PATTERNS, PUBLISHERS, type MqttClientKind, type MqttTransport, type PatternName, type PublisherKind } from './messages.js';
import { DEFAULT_TOPOLOGIES, QUICK_TOPOLOGIES, parseTopology, type TopologySpec } from './topologies.js';

export const FANOUT_USAGE = `relaymesh bench fanout [options]

Fan-out topology benchmark: the same fleet of WebSocket subscribers (in several client
processes) receives broadcasts from relaymesh's fan-out trees, from bare uWS baselines and
from Mosquitto and Aedes (MQTT over WebSocket or TCP, when installed: see bench/fleet/README.md),
each hosted alone in a server process whose CPU time and memory are measured. By default a
device publishes: a WebSocket client sends PUB frames (MQTT PUBLISH to the peers).

  --sizes <list>          fleet sizes (default 1000,10000; up to 19900: one process may hold 20,000
                          open files here; 19000 works and adds ~3 min)
  --pattern <list>        burst,paced (default both)
  --publisher <who>       device (default): a WebSocket client publishes PUB frames over the protocol;
                          server: the server process publishes in-process (broker.publish, app.publish)
  --topologies <list>     default ${DEFAULT_TOPOLOGIES.join(',')}
                          (tree-b<B> uses --leaf-size; tree-b<B>-l<L> sets it)
  --leaf-size <n>         leaf size of tree-b<B> topologies (default 64)
  --qos <0|1>             QoS of the subscriptions and of the device's PUBs (default 0); at 1 subscribers
                          ACK every MSG and the publisher waits for each OK (bench:durable runs both)
  --payload <bytes>       payload size, >= 16 (default 64)
  --messages <n>          burst: messages per measurement (default: --deliveries / size, 10..2000)
  --deliveries <n>        burst: deliveries per measurement when --messages is not given (default 200000)
  --burst <n>             burst: publishes per event-loop tick (default 100, or all messages if fewer)
  --rate <n>              paced: publishes per second, i.e. messages/s each device receives (default 5;
                          the subscriber processes absorb ~80k unbatched deliveries/s on 2 cores, so
                          10/s × 10k devices would measure their backlog, not the server)
  --paced-seconds <s>     paced: length of a measurement (default 2)
  --mqtt-client <kind>    how the MQTT topologies' subscribers are simulated, the same against every
                          server: lean (default), many connections per process through a streaming
                          framer that reads only the header, the payload's stamp and PUBACKs QoS 1
                          (2-5 µs client CPU per delivery); mqttjs, full mqtt.js clients (10-16 µs per
                          delivery: on 2 cores they bound the rate, not the server)
  --mqtt-transport <t>    ws (default): MQTT over WebSocket (relaymesh at /mqtt); tcp: MQTT over TCP
                          (relaymesh's --mqtt-port listener, Mosquitto's and Aedes's TCP listeners)
  --workers <n>           subscriber processes (default 4)
  --timeout <s>           longest wait for one measurement's deliveries (default 30)
  --cpu-prof              write a V8 CPU profile of each server process to bench/results/profiles/,
                          and of the subscriber processes (whole run) to profiles/fanout-subscribers/
  --out <dir>             results directory (default bench/results)
${HTML_USAGE}
  --quick                 smoke run: size 1000, 100 burst messages, 1 s paced, topologies
                          ${QUICK_TOPOLOGIES.join(',')} (a few minutes)`;

export interface BenchOptions {
  sizes: number[];
  patterns: PatternName[];
  publisher: PublisherKind;
  qos: Qos;
  mqttClient: MqttClientKind;
  mqttTransport: MqttTransport;
  topologies: TopologySpec[];
  leafSize: number;
  payloadBytes: number;
  /** Burst messages per measurement; undefined: derived from the fleet size. */
  messages: number | undefined;
  deliveries: number;
  burstSize: number;
  rateHz: number;
  pacedSeconds: number;
  workers: number;
  timeoutS: number;
  cpuProf: boolean;
  outDir: string;
  /** Also write the HTML report next to the JSON. */
  html: boolean;
  quick: boolean;
}

/** The open-files limit of one process here is 20,000 (hard, cannot be raised); the server needs a few dozen for itself. */
export const MAX_FLEET_PER_SERVER = 19_900;

export function parseBenchArgs(args: string[]): BenchOptions {
  const { values } = parseArgs({
    args,
    strict: true,
    options: {
      sizes: { type: 'string' },
      pattern: { type: 'string' },
      publisher: { type: 'string' },
      qos: { type: 'string' },
      'mqtt-client': { type: 'string' },
      'mqtt-transport': { type: 'string' },
      topologies: { type: 'string' },
      'leaf-size': { type: 'string' },
      payload: { type: 'string' },
      messages: { type: 'string' },
      deliveries: { type: 'string' },
      burst: { type: 'string' },
      rate: { type: 'string' },
      'paced-seconds': { type: 'string' },
      workers: { type: 'string' },
      timeout: { type: 'string' },
      'cpu-prof': { type: 'boolean' },
      out: { type: 'string' },
      quick: { type: 'boolean' },
      ...HTML_FLAG,
    },
  });
  const quick = values.quick ?? false;
  const int = numberFlag;
  const list = (v: string | undefined, fallback: string[]): string[] => listFlag(v) ?? fallback;

  const sizes = list(values.sizes, quick ? ['1000'] : ['1000', '10000']).map((s) => int('sizes', s, 0, 1, MAX_FLEET_PER_SERVER));
  const patterns = list(values.pattern, [...PATTERNS]).map((p) => {
    if (!PATTERNS.includes(p as PatternName)) throw new Error(`--pattern: unknown pattern ${JSON.stringify(p)} (burst, paced)`);
    return p as PatternName;
  });
  const publisher = choiceFlag<PublisherKind>('publisher', values.publisher, PUBLISHERS, 'device');
  const mqttClient = choiceFlag<MqttClientKind>('mqtt-client', values['mqtt-client'], MQTT_CLIENTS, 'lean');
  const mqttTransport = choiceFlag<MqttTransport>('mqtt-transport', values['mqtt-transport'], MQTT_TRANSPORTS, 'ws');
  const leafSize = int('leaf-size', values['leaf-size'], 64, 1);
  const topologies = list(values.topologies, quick ? QUICK_TOPOLOGIES : DEFAULT_TOPOLOGIES).map((t) => parseTopology(t, leafSize));
  if (sizes.length === 0 || patterns.length === 0 || topologies.length === 0) throw new Error('--sizes, --pattern and --topologies must not be empty');
  return {
    sizes,
    patterns,
    publisher,
    qos: int('qos', values.qos, 0, 0, 1) as Qos,
    mqttClient,
    mqttTransport,
    topologies,
    leafSize,
    payloadBytes: int('payload', values.payload, 64, 16, 64 * 1024),
    messages: values.messages === undefined ? (quick ? 100 : undefined) : int('messages', values.messages, 0, 1, 1_000_000),
    deliveries: int('deliveries', values.deliveries, 200_000, 1, 1e9),
    burstSize: int('burst', values.burst, 100, 1, 10_000),
    rateHz: int('rate', values.rate, 5, 1, 10_000),
    pacedSeconds: int('paced-seconds', values['paced-seconds'], quick ? 1 : 2, 1, 600),
    workers: int('workers', values.workers, 4, 1, 64),
    timeoutS: int('timeout', values.timeout, quick ? 15 : 30, 1, 3600),
    cpuProf: values['cpu-prof'] ?? false,
    outDir: values.out ?? 'bench/results',
    html: values.html ?? false,
    quick,
  };
}

/**
 * Burst messages for a fleet: about `deliveries` per measurement (10..2000 messages), in
 * whole bursts when there is more than one. The count shrinks as the fleet grows so that
 * the slowest topologies still finish in seconds.
 */
export function burstMessagesFor(options: BenchOptions, fleetSize: number): number {
  if (options.messages !== undefined) return options.messages;
  const raw = Math.min(2000, Math.max(10, Math.round(options.deliveries / fleetSize)));
  return raw > options.burstSize ? Math.round(raw / options.burstSize) * options.burstSize : raw;
}
