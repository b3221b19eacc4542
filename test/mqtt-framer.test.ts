import t from 'tap';
import mqttPacket from 'mqtt-packet';
import { PacketFramer } from '../src/mqtt/packet-framer.js';

const publish = (topic: string, size: number): Buffer =>
  mqttPacket.generate({ cmd: 'publish', topic, payload: Buffer.alloc(size, topic.length), qos: 0, dup: false, retain: false });

const stream = [publish('a', 3), publish('telemetry/s1/dev-7', 64), mqttPacket.generate({ cmd: 'pingreq' }), publish('big', 300), publish('b', 0)];
const whole = Buffer.concat(stream);

/** Pushes `whole` cut at `cuts`, overwriting each chunk after the push (as uWS reuses its buffer). */
function framed(cuts: number[]): Buffer[] {
  const framer = new PacketFramer(1024);
  const packets: Buffer[] = [];
  let at = 0;
  for (const end of [...cuts, whole.length]) {
    const chunk = new Uint8Array(whole.subarray(at, end));
    const result = framer.push(chunk);
    if (!result.ok) throw new Error(result.reason);
    packets.push(...result.packets);
    chunk.fill(0xee);
    at = end;
  }
  return packets.map((p) => Buffer.from(p));
}

t.test('packets come out whole and unchanged however the stream is cut', async (t) => {
  t.same(framed([]), stream, 'one chunk');
  t.same(
    framed(Array.from({ length: whole.length - 1 }, (_, i) => i + 1)),
    stream,
    'one byte per chunk',
  );
  // As mqtt.js over WebSocket sends a PUBLISH: header byte, length, topic length, topic, payload.
  const second = stream[0]!.length;
  t.same(framed([second + 1, second + 2, second + 4, second + 22]), stream, 'split by field');
  let seed = 7;
  for (let round = 0; round < 50; round++) {
    const cuts: number[] = [];
    for (let at = 0; ; ) {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      at += 1 + (seed % 97);
      if (at >= whole.length) break;
      cuts.push(at);
    }
    t.same(framed(cuts), stream, `random cuts ${round}`);
  }
});

t.test('a packet over the limit is refused from its header, before its body arrives', async (t) => {
  const framer = new PacketFramer(100);
  const big = publish('big', 300);
  t.same(framer.push(big.subarray(0, 3)), { ok: false, reason: 'too-large', size: big.length });
});

t.test('a remaining length longer than four bytes is malformed', async (t) => {
  const framer = new PacketFramer(1024);
  t.same(framer.push(Uint8Array.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x01])), { ok: false, reason: 'malformed' });
});
