/**
 * The lean subscribers' MQTT framer: whatever chunks the stream arrives in, it emits the same
 * packets, whole and in order, with the PUBLISH payloads and packet ids mqtt-packet wrote.
 */
import t from 'tap';
import fc from 'fast-check';
import mqttPacket, { type Packet } from 'mqtt-packet';
import { MqttFramer, PacketType, packetLength, pubacks } from './mqtt-framer.js';

/** What the framer reports, in a form tap can compare. */
type Seen = { publish: string; qos: number; packetId: number } | { control: number; body: string };

function frame(chunks: Buffer[]): Seen[] {
  const seen: Seen[] = [];
  const framer = new MqttFramer({
    publish: (bytes, start, end, qos, packetId) => seen.push({ publish: bytes.subarray(start, end).toString('hex'), qos, packetId }),
    control: (type, bytes, start, end) => seen.push({ control: type, body: bytes.subarray(start, end).toString('hex') }),
  });
  for (const chunk of chunks) framer.push(chunk);
  return seen;
}

/** Cuts `bytes` at the given offsets (sorted, deduplicated, within range). */
function cut(bytes: Buffer, offsets: number[]): Buffer[] {
  const points = [...new Set(offsets.map((o) => o % (bytes.length + 1)))].sort((a, b) => a - b);
  const chunks: Buffer[] = [];
  let from = 0;
  for (const p of [...points, bytes.length]) {
    chunks.push(bytes.subarray(from, p));
    from = p;
  }
  return chunks;
}

const publishArb = fc.record({
  topic: fc.string({ minLength: 1, maxLength: 40 }),
  // Up to 20,000 bytes: remaining lengths of 1, 2 and 3 varint bytes.
  payload: fc.oneof(fc.uint8Array({ maxLength: 200 }), fc.uint8Array({ minLength: 16_000, maxLength: 20_000 })),
  qos: fc.constantFrom(0 as const, 1 as const),
  messageId: fc.integer({ min: 1, max: 65_535 }),
});
const controlArb = fc.constantFrom<Packet>(
  { cmd: 'connack', returnCode: 0, sessionPresent: false },
  { cmd: 'suback', messageId: 1, granted: [1] },
  { cmd: 'pingresp' },
  { cmd: 'puback', messageId: 300 },
);
const packetArb = fc.oneof(
  publishArb.map((p): Packet => ({ cmd: 'publish', topic: p.topic, payload: Buffer.from(p.payload), qos: p.qos, ...(p.qos > 0 ? { messageId: p.messageId } : {}), dup: false, retain: false })),
  controlArb,
);

/** What the framer should report for `packet`, whose encoding by mqtt-packet is `bytes`. */
function expected(packet: Packet, bytes: Buffer): Seen {
  if (packet.cmd === 'publish') return { publish: Buffer.from(packet.payload as Buffer).toString('hex'), qos: packet.qos, packetId: packet.qos > 0 ? packet.messageId! : 0 };
  // The body is everything after the fixed header: type byte and a 1-byte length for these small packets.
  return { control: bytes[0]! >> 4, body: bytes.subarray(2).toString('hex') };
}

t.test('packets cut at any chunk boundaries come out whole, in order, with their payloads and ids', async (t) => {
  fc.assert(
    fc.property(fc.array(packetArb, { minLength: 1, maxLength: 12 }), fc.array(fc.nat(), { maxLength: 30 }), (packets, offsets) => {
      const encoded = packets.map((p) => mqttPacket.generate(p));
      const stream = Buffer.concat(encoded);
      const want = packets.map((p, i) => expected(p, encoded[i]!));
      t.equal(packetLength(stream, 0), encoded[0]!.length);
      t.same(frame(cut(stream, offsets)), want);
    }),
    { numRuns: 300 },
  );
});

t.test('a stream fed one byte at a time gives the same packets as fed whole', async (t) => {
  const packets: Packet[] = [
    { cmd: 'connack', returnCode: 0, sessionPresent: false },
    { cmd: 'publish', topic: 'bench/fanout', payload: Buffer.alloc(300, 7), qos: 1, messageId: 513, dup: false, retain: false },
    { cmd: 'publish', topic: 'a', payload: Buffer.from('hi'), qos: 0, dup: false, retain: false },
  ];
  const stream = Buffer.concat(packets.map((p) => mqttPacket.generate(p)));
  const bytewise = Array.from(stream, (b) => Buffer.from([b]));
  t.same(frame(bytewise), frame([stream]));
  t.equal(frame([stream]).length, 3);
});

t.test('CONNACK and SUBACK bodies carry the return codes the subscriber checks', async (t) => {
  const seen = frame([mqttPacket.generate({ cmd: 'connack', returnCode: 5, sessionPresent: false }), mqttPacket.generate({ cmd: 'suback', messageId: 1, granted: [128] })]);
  t.same(seen, [
    { control: PacketType.CONNACK, body: '0005' },
    { control: PacketType.SUBACK, body: '000180' },
  ]);
});

t.test('a remaining length of more than 4 bytes is refused', async (t) => {
  const framer = new MqttFramer({ publish: () => undefined, control: () => undefined });
  t.throws(() => framer.push(Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x01])), /remaining length/);
});

t.test('pubacks writes one 4-byte PUBACK per id, as mqtt-packet parses them', async (t) => {
  const parsed: Packet[] = [];
  const parser = mqttPacket.parser({ protocolVersion: 4 });
  parser.on('packet', (p: Packet) => parsed.push(p));
  parser.parse(pubacks([1, 256, 65_535]));
  t.same(
    parsed.map((p) => (p.cmd === 'puback' ? p.messageId : -1)),
    [1, 256, 65_535],
  );
});
