/**
 * The MQTT packet decoder shares one mqtt-packet parser per protocol version among every
 * connection: what one client sends (a malformed packet, a CONNECT of another version) must
 * never change how the next client's packets decode.
 */
import t from 'tap';
import mqttPacket, { type Packet } from 'mqtt-packet';
import { decodePacket } from '../src/mqtt/packet-decoder.js';

const encode = (packet: Packet, protocolVersion: 4 | 5): Buffer => mqttPacket.generate(packet, { protocolVersion });
const subscribe = (protocolVersion: 4 | 5): Buffer =>
  encode({ cmd: 'subscribe', messageId: 7, subscriptions: [{ topic: 'a/+', qos: 1 }], ...(protocolVersion === 5 ? { properties: { userProperties: { k: 'v' } } } : {}) }, protocolVersion);
const publish5 = encode({ cmd: 'publish', topic: 'a/b', payload: Buffer.from('x'), qos: 1, messageId: 3, dup: false, retain: false, properties: { contentType: 'text/plain' } }, 5);

function decoded(bytes: Buffer, version: 4 | 5): Packet {
  const result = decodePacket(bytes, version);
  if (!result.ok) throw new Error(`not decoded: ${result.message}`);
  return result.packet;
}

t.test('a packet decodes the same before and after another client sent a malformed one', async (t) => {
  for (const version of [4, 5] as const) {
    const before = decoded(subscribe(version), version);
    // A SUBSCRIBE whose only filter has QoS 3: malformed half way through its payload.
    const malformed = Buffer.from([0x82, 0x06, 0x00, 0x01, 0x00, 0x01, 0x61, 0x03]);
    t.equal(decodePacket(malformed, version).ok, false, `MQTT ${version}: the malformed packet is refused`);
    t.same(decoded(subscribe(version), version), before, `MQTT ${version}: the next packet decodes as before`);
  }
});

t.test('a PUBLISH whose topic runs past its end is refused, and the next packet decodes', async (t) => {
  for (const version of [4, 5] as const) {
    const cut = Buffer.from([0x30, 0x03, 0x00, 0x0a, 0x61]); // topic length 10, one byte of it
    t.equal(decodePacket(cut, version).ok, false, `MQTT ${version}: refused`);
    t.equal((decoded(publish5, 5) as { topic: string }).topic, 'a/b');
    t.equal(decoded(Buffer.from([0xc0, 0x00]), version).cmd, 'pingreq');
  }
});

t.test('CONNECTs of either version leave the shared parsers at their own versions', async (t) => {
  const connect = (protocolVersion: 4 | 5): Buffer => encode({ cmd: 'connect', protocolId: 'MQTT', protocolVersion, clientId: `c${protocolVersion}`, clean: true, keepalive: 10 }, protocolVersion);
  t.equal((decoded(connect(5), 4) as { protocolVersion: number }).protocolVersion, 5, 'a 5.0 CONNECT decodes whatever version is asked');
  t.same((decoded(subscribe(4), 4) as { subscriptions: unknown[] }).subscriptions, [{ topic: 'a/+', qos: 1 }], '3.1.1 SUBSCRIBE still decodes as 3.1.1');
  t.equal((decoded(connect(4), 5) as { protocolVersion: number }).protocolVersion, 4);
  t.equal((decoded(publish5, 5) as { properties?: { contentType?: string } }).properties?.contentType, 'text/plain', '5.0 PUBLISH still decodes its properties');
});

t.test('3.1.1 and 5.0 packets interleaved decode each by its own version', async (t) => {
  for (let i = 0; i < 3; i++) {
    t.equal((decoded(publish5, 5) as { messageId?: number }).messageId, 3);
    t.equal(decoded(subscribe(4), 4).cmd, 'subscribe');
    t.same((decoded(subscribe(5), 5) as { properties?: unknown }).properties, { userProperties: { k: 'v' } });
  }
});
