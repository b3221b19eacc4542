/**
 * A streaming MQTT 3.1.1 framer for the lean subscribers of the fan-out bench: it cuts the
 * inbound byte stream into packets by their fixed header and remaining length only, and hands
 * PUBLISH payloads over as (buffer, start, end) so that a delivery costs no object. Whole
 * packets are read in place from the chunk they came in; only a packet cut by a chunk
 * boundary is copied, once, when its last byte arrives. It does not validate: the servers
 * under test are the ones being measured, and mqtt.js remains the checking client
 * (`--mqtt-client mqttjs`).
 */

/** MQTT control packet types (high nibble of the first byte) the subscribers act on. */
export const PacketType = { CONNACK: 2, PUBLISH: 3, SUBACK: 9 } as const;

export interface FramerHandler {
  /** A PUBLISH: its payload is `bytes[start, end)`; `packetId` is 0 at QoS 0. */
  publish(bytes: Buffer, start: number, end: number, qos: number, packetId: number): void;
  /** Any other packet: its variable header and payload are `bytes[start, end)`. */
  control(type: number, bytes: Buffer, start: number, end: number): void;
}

/** Remaining length is a base-128 varint of at most 4 bytes (MQTT 3.1.1 §2.2.3). */
const MAX_LENGTH_BYTES = 4;
const NOTHING = Buffer.alloc(0);

export class MqttFramer {
  /** The unfinished packet carried over from earlier chunks (empty when none). */
  private carry: Buffer = NOTHING;

  constructor(private readonly handler: FramerHandler) {}

  /** Feeds the next chunk of the stream; emits every packet that is now complete. */
  push(chunk: Buffer): void {
    if (this.carry.length === 0) return this.scan(chunk);
    const total = packetLength(this.carry, 0);
    if (total < 0) {
      // The carried packet's header itself was cut (a few bytes): join and scan again.
      const joined = Buffer.concat([this.carry, chunk]);
      this.carry = NOTHING;
      return this.scan(joined);
    }
    const missing = total - this.carry.length;
    if (chunk.length < missing) {
      this.carry = Buffer.concat([this.carry, chunk]);
      return;
    }
    // Only the bytes the carried packet lacks are copied; the rest is read in place.
    const whole = Buffer.concat([this.carry, chunk.subarray(0, missing)]);
    this.carry = NOTHING;
    this.emit(whole, 0, total);
    this.scan(chunk.subarray(missing));
  }

  private scan(bytes: Buffer): void {
    let at = 0;
    while (at < bytes.length) {
      const total = packetLength(bytes, at);
      if (total < 0 || at + total > bytes.length) {
        this.carry = Buffer.from(bytes.subarray(at));
        return;
      }
      this.emit(bytes, at, total);
      at += total;
    }
  }

  /** One complete packet of `total` bytes at `bytes[at]`. */
  private emit(bytes: Buffer, at: number, total: number): void {
    const first = bytes[at]!;
    const type = first >> 4;
    let body = at + 1;
    while (bytes[body]! & 0x80) body++;
    body++;
    const end = at + total;
    if (type !== PacketType.PUBLISH) return this.handler.control(type, bytes, body, end);
    const qos = (first >> 1) & 3;
    const topicLength = (bytes[body]! << 8) | bytes[body + 1]!;
    let payload = body + 2 + topicLength;
    let packetId = 0;
    if (qos > 0) {
      packetId = (bytes[payload]! << 8) | bytes[payload + 1]!;
      payload += 2;
    }
    this.handler.publish(bytes, payload, end, qos, packetId);
  }
}

/**
 * Length of the packet at `bytes[at]` (fixed header included), or -1 while its remaining
 * length is not all there yet. A number, not a header object as the broker's PacketFramer
 * returns: this runs once per delivery in the load generator.
 */
export function packetLength(bytes: Buffer, at: number): number {
  let remaining = 0;
  let multiplier = 1;
  for (let i = 1; i <= MAX_LENGTH_BYTES; i++) {
    if (at + i >= bytes.length) return -1;
    const b = bytes[at + i]!;
    remaining += (b & 0x7f) * multiplier;
    if ((b & 0x80) === 0) return 1 + i + remaining;
    multiplier *= 128;
  }
  throw new Error('malformed MQTT remaining length (more than 4 bytes)');
}

/** A PUBACK for each id in `ids`, as one buffer: a chunk's acknowledgements go out in one write. */
export function pubacks(ids: readonly number[]): Buffer {
  const out = Buffer.allocUnsafe(4 * ids.length);
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i]!;
    out[4 * i] = 0x40;
    out[4 * i + 1] = 2;
    out[4 * i + 2] = id >> 8;
    out[4 * i + 3] = id & 0xff;
  }
  return out;
}
