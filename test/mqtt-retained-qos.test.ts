import t from 'tap';
import { startTestBroker } from './helpers/broker.js';
import { mqttClient, until } from './helpers/mqtt.js';
import { RawMqtt, isConnack, isPublish, isSuback } from './helpers/raw-mqtt.js';

for (const protocolVersion of [4, 5] as const) {
  t.test(`MQTT ${protocolVersion === 4 ? '3.1.1' : '5.0'}: a retained message goes out at the lower of its QoS and the subscription's, retain flag set`, async (t) => {
    const broker = await startTestBroker(t, { mqtt: { port: 0 } });
    const url = `mqtt://127.0.0.1:${broker.mqttPort}`;
    const pub = await mqttClient(t, url, { clientId: 'pub', protocolVersion });
    await pub.publishAsync('state/q1', 'one', { qos: 1, retain: true });
    await pub.publishAsync('state/q0', 'zero', { qos: 0, retain: true });
    const atQos1 = await mqttClient(t, url, { clientId: 'sub1', protocolVersion });
    await atQos1.subscribeAsync('state/+', { qos: 1 });
    const atQos0 = await mqttClient(t, url, { clientId: 'sub0', protocolVersion });
    await atQos0.subscribeAsync('state/+', { qos: 0 });
    await until(() => atQos1.received.length === 2 && atQos0.received.length === 2, 'two retained messages each');
    const qosOf = (received: typeof atQos1.received) => Object.fromEntries(received.map((m) => [m.topic, [m.qos, m.retain]]));
    t.same(qosOf(atQos1.received), { 'state/q1': [1, true], 'state/q0': [0, true] }, 'QoS 1 subscription: min(retained QoS, 1)');
    t.same(qosOf(atQos0.received), { 'state/q1': [0, true], 'state/q0': [0, true] }, 'QoS 0 subscription: QoS 0');
  });
}

t.test('a QoS 1 retained message has a packet id of its own; after its PUBACK live QoS 1 delivery goes on', async (t) => {
  const broker = await startTestBroker(t, { mqtt: { port: 0 } });
  const pub = await mqttClient(t, `mqtt://127.0.0.1:${broker.mqttPort}`, { clientId: 'pub', protocolVersion: 5 });
  await pub.publishAsync('cfg/a', 'A', { qos: 1, retain: true });
  const raw = await RawMqtt.open(broker.mqttPort!, 5);
  t.teardown(() => raw.destroy());
  raw.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clientId: 'raw', clean: true, keepalive: 30 });
  await raw.waitFor(isConnack);
  raw.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'cfg/#', qos: 1 }] });
  await raw.waitFor(isSuback);
  const retained = await raw.waitFor(isPublish);
  t.equal(retained.qos, 1);
  t.equal(retained.retain, true);
  t.ok(retained.messageId! > 0, 'with a packet id');
  raw.send({ cmd: 'puback', messageId: retained.messageId! });
  // A live QoS 1 message after the PUBACK still arrives, and still with the retain flag off.
  await pub.publishAsync('cfg/a', 'B', { qos: 1 });
  await until(() => raw.packets.filter(isPublish).length === 2, 'the live message');
  const live = raw.packets.filter(isPublish)[1]!;
  t.same([live.payload.toString(), live.qos, live.retain], ['B', 1, false]);
});

t.test('5.0 retain handling 2: no retained messages for that subscription', async (t) => {
  const broker = await startTestBroker(t, { mqtt: { port: 0 } });
  const url = `mqtt://127.0.0.1:${broker.mqttPort}`;
  const pub = await mqttClient(t, url, { clientId: 'pub', protocolVersion: 5 });
  await pub.publishAsync('cfg/x', 'retained', { qos: 1, retain: true });
  const sub = await mqttClient(t, url, { clientId: 'sub', protocolVersion: 5 });
  await sub.subscribeAsync('cfg/#', { qos: 1, rh: 2 });
  await pub.publishAsync('cfg/marker', 'live', { qos: 1 });
  await until(() => sub.received.some((m) => m.topic === 'cfg/marker'), 'the marker');
  t.same(sub.received.map((m) => m.topic), ['cfg/marker'], 'the retained message was not sent');
});
