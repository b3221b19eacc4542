/**
 * What the simulated devices say, on which topics: the fleet bench's generic telemetry (a
 * binary stamp plus filler, partitioned topics) or the vehicle bench's (a compact msgpack
 * record of position, speed, heading and status on fleet/<id>/telemetry, commands answered on
 * fleet/<id>/ack). Every payload carries the same stamp fields, so the counting is shared.
 */
import { Packr } from 'msgpackr';
import { nowUs } from '../fanout/clock.js';
import { TOPICS, deviceId } from './messages.js';
import { PayloadKind, readStamp, stampedPayload, type Stamp } from './payload.js';

export type WorkloadName = 'fleet' | 'vehicles';

export interface Workload {
  telemetryTopic(index: number, partitions: number): string;
  /** What backend `partition` subscribes to: telemetry, and the devices' command answers if any. */
  backendFilters(partition: number): string[];
  broadcastTopic: string;
  /** MQTT has no point-to-point: each MQTT device subscribes to its own command topic. */
  mqttCommandTopic(index: number): string;
  /** The topic a device answers commands on; undefined: devices do not answer. */
  ackTopic: ((index: number) => string) | undefined;
  /** A payload of `kind` stamped now; `size` is a lower bound where the format pads. */
  payload(kind: PayloadKind, phase: number, device: number, seq: number, size: number): Buffer;
  /** The answer to a command: its stamp, so the backend times the round trip. */
  ack(command: Stamp): Buffer;
  read(payload: Uint8Array): Stamp | undefined;
}

const fleet: Workload = {
  telemetryTopic: (index, partitions) => TOPICS.telemetry(index % partitions, index),
  backendFilters: (partition) => [TOPICS.telemetryFilter(partition)],
  broadcastTopic: TOPICS.broadcast,
  mqttCommandTopic: TOPICS.mqttCommand,
  ackTopic: undefined,
  payload: (kind, phase, device, seq, size) => stampedPayload(size, kind, phase, device, seq),
  ack: () => {
    throw new Error('fleet devices do not answer commands');
  },
  read: readStamp,
};

/** Arrays, not maps: field names would triple the record's size. */
const packr = new Packr({ useRecords: false });
/** Vehicles drive on circles around a city centre (deg); the record's numbers change like real ones. */
const CENTRE = { lat: 48.137, lon: 11.575 };

/**
 * A vehicle record: [kind, phase, vehicle index, seq, sent µs (CLOCK_MONOTONIC), vehicle id,
 * lat µdeg, lon µdeg, speed 0.1 km/h, heading deg, status flags] — about 45 bytes in msgpack.
 * Commands and broadcasts share the first five fields, then their own body.
 */
function vehicleTelemetry(phase: number, device: number, seq: number): unknown[] {
  const angle = (device * 0.618 + seq * 0.001) % (2 * Math.PI);
  const radius = 0.01 + (device % 50) * 0.001;
  const speed = 300 + ((device * 7 + seq) % 900);
  const flags = (seq % 600 === 0 ? 0b100 : 0) | (device % 3 === 0 ? 0b1 : 0) | 0b10;
  return [
    PayloadKind.TELEMETRY,
    phase & 0xffff,
    device,
    seq,
    nowUs(),
    deviceId(device),
    Math.round((CENTRE.lat + radius * Math.sin(angle)) * 1e6),
    Math.round((CENTRE.lon + radius * Math.cos(angle)) * 1e6),
    speed,
    Math.round(((angle * 180) / Math.PI + 90) % 360),
    flags,
  ];
}

const vehicles: Workload = {
  telemetryTopic: (index) => `fleet/${deviceId(index)}/telemetry`,
  backendFilters: () => ['fleet/+/telemetry', 'fleet/+/ack'],
  broadcastTopic: 'fleet/broadcast',
  mqttCommandTopic: (index) => `fleet/${deviceId(index)}/cmd`,
  ackTopic: (index) => `fleet/${deviceId(index)}/ack`,
  payload(kind, phase, device, seq) {
    switch (kind) {
      case PayloadKind.TELEMETRY:
        return packr.pack(vehicleTelemetry(phase, device, seq));
      case PayloadKind.COMMAND:
        return packr.pack([kind, phase & 0xffff, device, seq, nowUs(), seq % 2 === 0 ? 'unlock' : 'precondition-cabin']);
      default:
        return packr.pack([kind, phase & 0xffff, device, seq, nowUs(), 'traffic alert: A9 northbound, congestion at km 512']);
    }
  },
  ack: (c) => packr.pack([PayloadKind.COMMAND_ACK, c.phase, c.device, c.seq, c.sentUs, 'ok']),
  read(payload) {
    let fields: unknown;
    try {
      fields = packr.unpack(payload);
    } catch {
      return undefined;
    }
    if (!Array.isArray(fields) || fields.length < 5 || !fields.slice(0, 5).every((f) => typeof f === 'number')) return undefined;
    const [kind, phase, device, seq, sentUs] = fields as number[];
    return { kind: kind!, phase: phase!, device: device!, seq: seq!, sentUs: sentUs! };
  },
};

export const WORKLOADS: Record<WorkloadName, Workload> = { fleet, vehicles };
