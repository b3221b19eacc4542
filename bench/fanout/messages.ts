/** What the coordinator, the server process and the subscriber processes say to each other over IPC. */
import type { Qos } from '../../src/index.js';
import type { SparseCounts } from './histogram.js';

export type PatternName = 'burst' | 'paced';
export const PATTERNS: readonly PatternName[] = ['burst', 'paced'];

/**
 * Who publishes: `device`, a WebSocket client (in a subscriber process) sending PUB frames over
 * the protocol, as devices do; `server`, the server process itself (broker.publish, app.publish).
 */
export type PublisherKind = 'device' | 'server';
export const PUBLISHERS: readonly PublisherKind[] = ['device', 'server'];

export type TopologyKind = 'broker' | 'uws-native' | 'cork-ceiling' | MqttPeer;
/**
 * MQTT brokers driven by the same clients over MQTT on WebSocket or TCP, measured from outside
 * (started as bench:fleet starts them): relaymesh's own MQTT listener (the apples-to-apples row), Mosquitto, Aedes.
 */
export type MqttPeer = 'relaymesh-mqtt' | 'mosquitto' | 'aedes';
export const MQTT_PEERS: readonly MqttPeer[] = ['relaymesh-mqtt', 'mosquitto', 'aedes'];
/** What the clients speak to a topology: relaymesh's protocol (broker and uWS baselines) or MQTT 3.1.1. */
export type WireProtocol = 'relaymesh' | 'mqtt';
/**
 * How MQTT subscribers are simulated: `lean`, a streaming framer that reads only what counting
 * and latency need (2–5 µs of client CPU per delivery), or `mqttjs`, full mqtt.js clients
 * (10–16 µs per delivery: on 2 cores they, not the server, bound the rate).
 */
export type MqttClientKind = 'lean' | 'mqttjs';
export const MQTT_CLIENTS: readonly MqttClientKind[] = ['lean', 'mqttjs'];
/** How every MQTT client of a run (subscribers and publisher) reaches the MQTT topologies. */
export type MqttTransport = 'ws' | 'tcp';
export const MQTT_TRANSPORTS: readonly MqttTransport[] = ['ws', 'tcp'];

/** A topology resolved for one fleet size, ready to start. */
export interface TopologyPlan {
  name: string;
  kind: TopologyKind;
  /** The broker's fan-out tree shape (kind 'broker' only). */
  fanout?: { branching: number; leafSize: number };
}

/** The topic every subscriber of the fleet subscribes to. */
export const BENCH_TOPIC = 'bench/fanout';

/** A command map: command name → argument and reply types. */
export type CommandMap = Record<string, { args: unknown; reply: unknown }>;

export interface PublishPlan {
  pattern: PatternName;
  runId: number;
  messages: number;
  /** Publishes per event-loop tick (burst). */
  burstSize: number;
  /** Publishes per second, one per tick (paced). */
  rateHz: number;
  payloadBytes: number;
  /** The publisher stops here even if it has not published every message. */
  deadlineMs: number;
}

/** A device-published measurement: the publisher connects to `url` as device `deviceId`. */
export interface DevicePublishPlan extends PublishPlan {
  url: string;
  protocol: WireProtocol;
  deviceId: string;
  /** QoS 1: each PUB waits for its OK (stored), and the reply says when the last one came. */
  qos: Qos;
}

export interface PublishResult {
  published: number;
  firstUs: number;
  lastUs: number;
  /** QoS 1 device publisher: OKs received (each after the broker stored the message), PUB → OK latency. */
  confirmations?: PublishConfirmations;
}

export interface PublishConfirmations {
  confirmed: number;
  /** When the last OK arrived (µs, CLOCK_MONOTONIC); 0 if none did. */
  lastUs: number;
  latency: { counts: SparseCounts; max: number; sum: number };
}

export interface ServerSnapshot {
  rssBytes: number;
  heapUsedBytes: number;
  openFds: number;
  /** The process's open-files limit (RLIMIT_NOFILE): the ceiling on one server's fleet. */
  fdLimit: number;
  subscribers: number;
  /** CPU since the last publish started (µs). */
  cpuUserUs: number;
  cpuSystemUs: number;
  /** Wall time since the last publish started (µs). */
  wallUs: number;
  /** Frames sent and socket writes (each may carry many frames) since the mark; NaN where the server cannot tell. */
  framesOut: number;
  socketWrites: number;
  /** Growth of the broker's data directory (allocated blocks) and bytes the process wrote to storage, since the mark; NaN where unknown. */
  storeGrowthBytes: number;
  storageWrittenBytes: number;
}

/** A type alias, not an interface: aliases satisfy CommandMap's index signature. */
export type ServerCommands = {
  /** `dataDir`: the broker's store, a fresh directory per server process (the coordinator removes it). */
  start: { args: { topology: TopologyPlan; host: string; dataDir: string }; reply: { port: number; pid: number } };
  snapshot: { args: { gc: boolean }; reply: ServerSnapshot };
  /** Starts a measurement: CPU time and write counters count from here. */
  mark: { args: Record<string, never>; reply: { ok: true } };
  publish: { args: PublishPlan; reply: PublishResult };
  /** Replies, then exits: the kernel closes every socket from the server side. */
  stop: { args: Record<string, never>; reply: { ok: true } };
};

export interface ConnectPlan {
  url: string;
  protocol: WireProtocol;
  count: number;
  /** Device ids are `dev-<firstId + i>`. */
  firstId: number;
  concurrency: number;
  /** Source addresses in 127.0.0.0/8 to spread sockets over (empty: let the kernel pick). */
  localAddresses: string[];
  /** The subscription's QoS: at 1 every MSG is ACKed as it arrives, as a device does. */
  qos: Qos;
  /** MQTT topologies only: which client simulates the subscribers. */
  mqttClient: MqttClientKind;
  timeoutMs: number;
}

export interface ConnectResult {
  subscribed: number;
  failed: number;
  firstError?: string;
  ms: number;
}

export interface SubscriberProgress {
  received: number;
  lastUs: number;
  closed: number;
}

export interface SubscriberReport extends SubscriberProgress {
  firstUs: number;
  /** Deliveries stamped with another run id (late arrivals from an earlier measurement). */
  stale: number;
  /** Deliveries of a message the same connection had already received in this run (not counted as received). */
  duplicates: number;
  decodeErrors: number;
  /** QoS 1 deliveries of this run that the broker marked as redelivered (delivery count > 1). */
  redelivered: number;
  /** TCP reads that carried this run's frames: frames per read shows how well the server batched. */
  reads: number;
  cpuUserUs: number;
  cpuSystemUs: number;
  latency: { counts: SparseCounts; max: number; sum: number };
}

export type SubscriberCommands = {
  connect: { args: ConnectPlan; reply: ConnectResult };
  /** Resets the counters for a new measurement. */
  arm: { args: { runId: number }; reply: { ok: true } };
  progress: { args: Record<string, never>; reply: SubscriberProgress };
  /** Publishes as a device over the protocol (the publisher's socket stays open until `disconnect`). */
  publish: { args: DevicePublishPlan; reply: PublishResult };
  report: { args: Record<string, never>; reply: SubscriberReport };
  /** Waits for the server to close the sockets, terminates whatever is left after the timeout. */
  disconnect: { args: { timeoutMs: number }; reply: { closedByPeer: number; terminated: number } };
};
