import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { RelaymeshClient } from '../packages/client/src/index.js';
import { startTestBroker } from './helpers/broker.js';
import { mqttClient, until, mqttTransports } from './helpers/mqtt.js';
import { RawClient } from './helpers/raw-client.js';
import { FrameKind } from '../src/protocol/index.js';

for (const transport of mqttTransports) {
  for (const protocolVersion of [4, 5] as const) {
    t.test(`${transport.name}, MQTT ${protocolVersion === 4 ? '3.1.1' : '5.0'}: QoS 0 and 1 publish reach a wildcard subscriber`, async (t) => {
      const broker = await startTestBroker(t, { mqtt: { port: 0 } });
      const url = transport.url(broker);
      const sub = await mqttClient(t, url, { clientId: 'sub', protocolVersion });
      const granted = await sub.subscribeAsync({ 'fleet/+/speed': { qos: 1 }, 'fleet/+/gps': { qos: 0 } });
      t.same(granted.map((g) => g.qos), [1, 0], 'SUBACK grants each filter its QoS');
      const pub = await mqttClient(t, url, { clientId: 'pub', protocolVersion });
      await pub.publishAsync('fleet/car-1/gps', 'here', { qos: 0 });
      const puback = await pub.publishAsync('fleet/car-1/speed', Buffer.from([0, 1, 2, 255]), { qos: 1 });
      t.ok(puback, 'QoS 1 publish acknowledged');
      await until(() => sub.received.length === 2, 'two deliveries');
      const byTopic = new Map(sub.received.map((m) => [m.topic, m]));
      t.equal(byTopic.get('fleet/car-1/gps')?.payload.toString(), 'here');
      t.equal(byTopic.get('fleet/car-1/gps')?.qos, 0);
      t.same([...byTopic.get('fleet/car-1/speed')!.payload], [0, 1, 2, 255], 'payload bytes unchanged');
      t.equal(byTopic.get('fleet/car-1/speed')?.qos, 1);
    });
  }
}

t.test('unsubscribe stops deliveries; ping is answered', async (t) => {
  const broker = await startTestBroker(t, { mqtt: { port: 0 } });
  const url = `mqtt://127.0.0.1:${broker.mqttPort}`;
  const sub = await mqttClient(t, url, { clientId: 'unsub' });
  await sub.subscribeAsync('a/b', { qos: 0 });
  await sub.unsubscribeAsync('a/b');
  await sub.subscribeAsync('a/c', { qos: 0 });
  await broker.publish('a/b', 'dropped');
  await broker.publish('a/c', 'marker');
  await until(() => sub.received.length > 0, 'the marker');
  t.same(sub.received.map((m) => m.topic), ['a/c'], 'nothing on the unsubscribed filter');
  const pong = new Promise<void>((resolve) => sub.once('packetreceive', (p) => p.cmd === 'pingresp' && resolve()));
  sub.stream.write(Buffer.from([0xc0, 0x00])); // PINGREQ
  await pong;
  t.pass('PINGRESP');
});

t.test('an MQTT client and an SDK client on the same topic see each other (payload bytes unchanged)', async (t) => {
  const broker = await startTestBroker(t, { mqtt: { port: 0 } });
  const device = await mqttClient(t, `mqtt://127.0.0.1:${broker.mqttPort}`, { clientId: 'mqtt-car' });
  await device.subscribeAsync('fleet/cmd', { qos: 1 });
  const sdk = new RelaymeshClient({ url: broker.url, deviceId: 'sdk-backend', reconnect: false });
  t.teardown(() => sdk.close());
  const atSdk: { stream: string; payload: Uint8Array; from?: string }[] = [];
  sdk.on('message', (m) => atSdk.push(m));
  await sdk.connect();
  await sdk.subscribe(['fleet/telemetry/#'], { qos: 1 });
  await device.publishAsync('fleet/telemetry/mqtt-car', Buffer.from([9, 8, 7]), { qos: 1 });
  await until(() => atSdk.length === 1, 'the SDK to receive the MQTT publish');
  t.same([...atSdk[0]!.payload], [9, 8, 7]);
  t.equal(atSdk[0]!.from, 'mqtt-car', 'the sender is the MQTT client id');
  await sdk.publish('fleet/cmd', new Uint8Array([1, 2, 3]), { qos: 1 });
  await until(() => device.received.length === 1, 'the MQTT client to receive the SDK publish');
  t.same([...device.received[0]!.payload], [1, 2, 3]);
});

t.test('an SDK send to device id X reaches MQTT client X on $inbox/X, and back', async (t) => {
  const broker = await startTestBroker(t, { mqtt: { port: 0 } });
  const device = await mqttClient(t, `ws://127.0.0.1:${broker.port}/mqtt`, { clientId: 'truck-9' });
  const sdk = new RelaymeshClient({ url: broker.url, deviceId: 'dispatcher', reconnect: false });
  t.teardown(() => sdk.close());
  const atSdk: { stream: string; payload: Uint8Array }[] = [];
  sdk.on('message', (m) => atSdk.push(m));
  await sdk.connect();
  await sdk.send('truck-9', 'go', { qos: 1 });
  await until(() => device.received.length === 1, 'the inbox message');
  t.equal(device.received[0]!.topic, '$inbox/truck-9');
  t.equal(device.received[0]!.payload.toString(), 'go');
  await device.publishAsync('$inbox/dispatcher', 'on my way', { qos: 1 });
  await until(() => atSdk.length === 1, 'the reply');
  t.equal(atSdk[0]!.stream, '$inbox/dispatcher');
  t.equal(Buffer.from(atSdk[0]!.payload).toString(), 'on my way');
});

t.test('MQTT over TLS uses the broker key and certificate', async (t) => {
  const fixtures = join(import.meta.dirname, 'fixtures');
  const broker = await startTestBroker(t, { mqtt: { port: 0 }, tls: { keyFile: join(fixtures, 'server.key'), certFile: join(fixtures, 'server.crt') } });
  const client = await mqttClient(t, `mqtts://127.0.0.1:${broker.mqttPort}`, { clientId: 'secure', ca: readFileSync(join(fixtures, 'ca.crt')) });
  await client.subscribeAsync('s', { qos: 1 });
  await client.publishAsync('s', 'sealed', { qos: 1 });
  await until(() => client.received.length === 1, 'the message over TLS');
  t.equal(client.received[0]!.payload.toString(), 'sealed');
});

t.test('$share/<group>/<filter>: each QoS 0 message goes to one member of the group, in turn; others still get every one', async (t) => {
  const broker = await startTestBroker(t, { mqtt: { port: 0 } });
  const url = `mqtt://127.0.0.1:${broker.mqttPort}`;
  const workers = [await mqttClient(t, url, { clientId: 'w1', protocolVersion: 5 }), await mqttClient(t, `ws://127.0.0.1:${broker.port}/mqtt`, { clientId: 'w2' })];
  for (const w of workers) t.same((await w.subscribeAsync('$share/pool/jobs/#', { qos: 1 })).map((g) => g.qos), [1], 'granted QoS 1');
  const audit = await mqttClient(t, url, { clientId: 'audit' });
  await audit.subscribeAsync('jobs/#', { qos: 0 });
  for (let i = 0; i < 10; i++) await broker.publish(`jobs/${i}`, `job ${i}`);
  await until(() => audit.received.length === 10 && workers[0]!.received.length + workers[1]!.received.length === 10, 'all jobs');
  t.same(workers.map((w) => w.received.length), [5, 5], 'the load is spread evenly');
  await workers[0]!.unsubscribeAsync('$share/pool/jobs/#');
  for (let i = 10; i < 14; i++) await broker.publish(`jobs/${i}`, `job ${i}`);
  await until(() => workers[1]!.received.length === 9, 'the remaining member to take every job');
  t.equal(workers[0]!.received.length, 5, 'the member that left gets nothing more');
});

t.test('/metrics counts connections and messages per protocol (relaymesh, mqtt)', async (t) => {
  const broker = await startTestBroker(t, { mqtt: { port: 0 } });
  const tcp = await mqttClient(t, `mqtt://127.0.0.1:${broker.mqttPort}`, { clientId: 'm1' });
  const ws = await mqttClient(t, `ws://127.0.0.1:${broker.port}/mqtt`, { clientId: 'm2' });
  const sdk = await RawClient.connect(broker.url, 'r1');
  await sdk.request({ kind: FrameKind.SUB, seq: 1, filters: ['p/#'], qos: 0 });
  await ws.subscribeAsync('p/#', { qos: 0 });
  // In: 2 from MQTT, 1 from relaymesh. Out: 3 to each side (one subscriber per protocol).
  await tcp.publishAsync('p/1', 'a', { qos: 1 });
  await tcp.publishAsync('p/2', 'b', { qos: 1 });
  sdk.send({ kind: FrameKind.PUB, seq: 2, topic: 'p/3', payload: new TextEncoder().encode('c'), qos: 0 });
  await until(() => ws.received.length === 3, 'the MQTT subscriber to get all three');
  for (let i = 0; i < 3; i++) await sdk.next(FrameKind.MSG);
  const text = await (await fetch(`http://127.0.0.1:${broker.port}/metrics`)).text();
  for (const series of [
    'relaymesh_device_connections{protocol="relaymesh"} 1',
    'relaymesh_device_connections{protocol="mqtt"} 2',
    'relaymesh_device_messages_in_total{protocol="relaymesh"} 1',
    'relaymesh_device_messages_in_total{protocol="mqtt"} 2',
    'relaymesh_device_messages_out_total{protocol="relaymesh"} 3',
    'relaymesh_device_messages_out_total{protocol="mqtt"} 3',
  ]) {
    t.ok(text.includes(series), series);
  }
  sdk.close();
});
