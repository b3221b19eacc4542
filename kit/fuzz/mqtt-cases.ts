/**
 * Hostile MQTT input with the reaction the spec asks of a server (the oracle), as fast-check
 * arbitraries: random bytes, mutated valid packets, wrong header flags, oversize and malformed
 * remaining lengths, packets before CONNECT, a second CONNECT, invalid UTF-8 and wildcard topic
 * names, QoS 2. Used by test/mqtt-fuzz.test.ts and by `npm run fuzz -- --mqtt`.
 */
import fc from 'fast-check';
import mqttPacket, { type Packet } from 'mqtt-packet';

export type MqttVersion = 4 | 5;

/**
 * What the broker must do:
 * - `close`: end the connection without accepting it (no successful CONNACK);
 * - `disconnect`: on 5.0 a DISCONNECT with `reason`, then close; on 3.1.1 close;
 * - `survive`: either keep serving (answer PINGREQ) or close; never stall, never crash.
 */
export type Reaction = { kind: 'close' } | { kind: 'disconnect'; reason: number } | { kind: 'survive' };

export interface HostileCase {
  name: string;
  version: MqttVersion;
  /** Whether the probe connects (CONNECT → CONNACK) before sending `chunks`. */
  afterConnect: boolean;
  chunks: Buffer[];
  expect: Reaction;
}

/** MQTT 5.0 reason codes the oracle names. */
export const REASON = { MALFORMED_PACKET: 0x81, PROTOCOL_ERROR: 0x82, TOPIC_NAME_INVALID: 0x90, PACKET_TOO_LARGE: 0x95, QOS_NOT_SUPPORTED: 0x9b } as const;

const encode = (packet: Packet, version: MqttVersion): Buffer => Buffer.from(mqttPacket.generate(packet, { protocolVersion: version }));

export function connectBytes(clientId: string, version: MqttVersion): Buffer {
  return encode({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: version, clientId, clean: true, keepalive: 60 }, version);
}

export const PINGREQ = Buffer.from([0xc0, 0x00]);

/** Well-formed packets a connected client may send, the seeds of mutation. */
function validPackets(version: MqttVersion): Buffer[] {
  const packets: Packet[] = [
    { cmd: 'publish', topic: 'fuzz/a', payload: Buffer.from('x'), qos: 0, dup: false, retain: false },
    { cmd: 'publish', topic: 'fuzz/b', payload: Buffer.from('payload'), qos: 1, messageId: 3, dup: false, retain: false },
    { cmd: 'subscribe', messageId: 4, subscriptions: [{ topic: 'fuzz/#', qos: 1 }] },
    { cmd: 'unsubscribe', messageId: 5, unsubscriptions: ['fuzz/#'] },
    { cmd: 'puback', messageId: 9 },
    { cmd: 'pingreq' },
  ];
  return packets.map((p) => encode(p, version));
}

/** The remaining-length varint of `n`. */
function varint(n: number): number[] {
  const out: number[] = [];
  do {
    let byte = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) byte |= 0x80;
    out.push(byte);
  } while (n > 0);
  return out;
}

/** A PUBLISH whose topic name is `topic` as raw bytes (so it can be invalid UTF-8). */
function publishWithTopicBytes(topic: Buffer): Buffer {
  const body = Buffer.concat([Buffer.from([topic.length >> 8, topic.length & 0xff]), topic, Buffer.from('x')]);
  return Buffer.concat([Buffer.from([0x30, ...varint(body.length)]), body]);
}

/** Byte edits to a valid packet: overwrite, truncate, extend. */
function mutated(seeds: Buffer[]): fc.Arbitrary<Buffer> {
  return fc
    .tuple(
      fc.constantFrom(...seeds),
      fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }),
      fc.option(fc.nat(), { nil: undefined }),
      fc.uint8Array({ maxLength: 8 }),
    )
    .map(([seed, edits, cut, extra]) => {
      const bytes = Buffer.from(seed);
      for (const [at, value] of edits) bytes[at % bytes.length] = value;
      const kept = cut === undefined ? bytes : bytes.subarray(0, 1 + (cut % bytes.length));
      return Buffer.concat([kept, extra]);
    });
}

/** Every hostile case for one protocol version; `maxPacketBytes` is the broker's limit. */
export function hostileCase(version: MqttVersion, maxPacketBytes: number): fc.Arbitrary<HostileCase> {
  const seeds = validPackets(version);
  const on = (name: string, afterConnect: boolean, chunks: fc.Arbitrary<Buffer[]>, expect: Reaction): fc.Arbitrary<HostileCase> =>
    chunks.map((c) => ({ name, version, afterConnect, chunks: c, expect }));
  const one = (b: fc.Arbitrary<Buffer>) => b.map((x) => [x]);
  const fixed = (b: Buffer): fc.Arbitrary<Buffer[]> => fc.constant([b]);
  const refuse = (reason: number): Reaction => ({ kind: 'disconnect', reason });
  const noise = fc.uint8Array({ minLength: 1, maxLength: 300 }).map((u) => Buffer.from(u));
  return fc.oneof(
    on('random bytes before CONNECT', false, fc.array(noise, { minLength: 1, maxLength: 4 }), { kind: 'survive' }),
    on('random bytes after CONNECT', true, fc.array(noise, { minLength: 1, maxLength: 4 }), { kind: 'survive' }),
    on('mutated packets after CONNECT', true, fc.array(mutated(seeds), { minLength: 1, maxLength: 5 }), { kind: 'survive' }),
    on('packet before CONNECT', false, one(fc.constantFrom(...seeds)), { kind: 'close' }),
    on('second CONNECT', true, fixed(connectBytes('second-connect', version)), refuse(REASON.PROTOCOL_ERROR)),
    on('wrong header flags', true, one(fc.constantFrom(Buffer.from([0x80, 0x05, 0x00, 0x01, 0x00, 0x01, 0x61]), Buffer.from([0x60, 0x02, 0x00, 0x01]), Buffer.from([0xc1, 0x00]), Buffer.from([0x36, 0x04, 0x00, 0x01, 0x61, 0x78]))), refuse(REASON.MALFORMED_PACKET)),
    on('reserved packet type 0', true, fixed(Buffer.from([0x00, 0x00])), refuse(REASON.MALFORMED_PACKET)),
    on('oversize remaining length', true, one(fc.integer({ min: maxPacketBytes, max: 268_435_455 }).map((n) => Buffer.from([0x30, ...varint(n)]))), refuse(REASON.PACKET_TOO_LARGE)),
    on('malformed remaining length', true, fixed(Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x01])), refuse(REASON.MALFORMED_PACKET)),
    on('invalid UTF-8 topic', true, one(fc.constantFrom(Buffer.from([0x61, 0xff]), Buffer.from([0xc3, 0x28]), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from([0xf8, 0x88, 0x80, 0x80, 0x80])).map(publishWithTopicBytes)), refuse(REASON.MALFORMED_PACKET)),
    on('wildcard in PUBLISH topic', true, one(fc.constantFrom('a/+', 'a/#', '#', '+/b', 'a\u0000b').map((topic) => encode({ cmd: 'publish', topic, payload: Buffer.from('x'), qos: 0, dup: false, retain: false }, version))), refuse(REASON.TOPIC_NAME_INVALID)),
    on('QoS 2 PUBLISH', true, fixed(encode({ cmd: 'publish', topic: 'fuzz/q2', payload: Buffer.from('x'), qos: 2, messageId: 7, dup: false, retain: false }, version)), refuse(REASON.QOS_NOT_SUPPORTED)),
  );
}

/** What a probe saw of the broker, for `verdict`. */
export interface Observed {
  /** Packets the broker sent after the probe's own CONNACK (or all of them, before CONNECT). */
  packets: Packet[];
  closed: boolean;
  /** The broker answered the probe's closing PINGREQ. */
  answered: boolean;
  /** The broker sent bytes that do not parse as MQTT. */
  garbled: boolean;
}

/** Why `observed` breaks the expected reaction, or undefined when it conforms. */
export function verdict(c: HostileCase, observed: Observed): string | undefined {
  const { packets, closed, answered, garbled } = observed;
  if (garbled) return 'sent bytes that are not MQTT';
  const accepted = packets.some((p) => p.cmd === 'connack' && (p.returnCode ?? p.reasonCode ?? 0) === 0);
  switch (c.expect.kind) {
    case 'survive':
      if (!closed && !answered) return 'neither answered PINGREQ nor closed';
      if (!c.afterConnect && accepted) return 'accepted bytes that were not a CONNECT';
      return undefined;
    case 'close':
      if (!closed) return 'stayed open';
      if (accepted || packets.some((p) => p.cmd !== 'connack')) return `answered ${packets.map((p) => p.cmd).join(', ')}`;
      return undefined;
    case 'disconnect': {
      if (!closed) return 'stayed open';
      if (c.version === 4) return packets.some((p) => p.cmd === 'disconnect') ? 'sent DISCONNECT to a 3.1.1 client' : undefined;
      const disconnect = packets.find((p) => p.cmd === 'disconnect');
      if (!disconnect) return 'closed without DISCONNECT';
      const reason = disconnect.reasonCode ?? 0;
      return reason === c.expect.reason ? undefined : `DISCONNECT reason 0x${reason.toString(16)}, expected 0x${c.expect.reason.toString(16)}`;
    }
  }
}
