import t from 'tap';
import { startTestBroker } from './helpers/broker.js';
import { mqttClient, until } from './helpers/mqtt.js';
import { RawMqtt, isConnack, isPublish, isSuback } from './helpers/raw-mqtt.js';

t.test('$share at QoS 1: each stored message goes to exactly one member, at QoS 1, 5.0 and 3.1.1 members alike', async (t) => {
  const broker = await startTestBroker(t, { mqtt: { port: 0 } });
  const url = `mqtt://127.0.0.1:${broker.mqttPort}`;
  const members = [await mqttClient(t, url, { clientId: 'w5', protocolVersion: 5 }), await mqttClient(t, `ws://127.0.0.1:${broker.port}/mqtt`, { clientId: 'w4', protocolVersion: 4 })];
  for (const m of members) t.same((await m.subscribeAsync('$share/pool/jobs/#', { qos: 1 })).map((g) => g.qos), [1], 'granted QoS 1');
  const pub = await mqttClient(t, url, { clientId: 'pub', protocolVersion: 5 });
  const count = 20;
  for (let i = 0; i < count; i++) await pub.publishAsync(`jobs/${i}`, `job ${i}`, { qos: 1 });
  await until(() => members[0]!.received.length + members[1]!.received.length === count, 'every job at one member');
  const all = members.flatMap((m) => m.received);
  t.equal(new Set(all.map((m) => m.payload.toString())).size, count, 'no job twice');
  t.ok(all.every((m) => m.qos === 1 && !m.dup), 'all at QoS 1, first delivery');
  t.same(members.map((m) => m.received.length), [count / 2, count / 2], 'the load is spread');
});

t.test('$share at QoS 1: what a member received but did not acknowledge goes to another member, with DUP=1, when it disconnects', async (t) => {
  const broker = await startTestBroker(t, { mqtt: { port: 0 } });
  const url = `mqtt://127.0.0.1:${broker.mqttPort}`;
  const silent = await RawMqtt.open(broker.mqttPort!, 5);
  t.teardown(() => silent.destroy());
  silent.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clientId: 'silent', clean: true, keepalive: 60 });
  await silent.waitFor(isConnack);
  silent.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: '$share/pool/jobs/#', qos: 1 }] });
  await silent.waitFor(isSuback);
  const worker = await mqttClient(t, url, { clientId: 'worker', protocolVersion: 4 });
  await worker.subscribeAsync('$share/pool/jobs/#', { qos: 1 });
  const pub = await mqttClient(t, url, { clientId: 'pub', protocolVersion: 5 });
  const count = 10;
  for (let i = 0; i < count; i++) await pub.publishAsync(`jobs/${i}`, `job ${i}`, { qos: 1 });
  await until(() => silent.packets.filter(isPublish).length + worker.received.length === count, 'every job handed out');
  const unacked = silent.packets.filter(isPublish).map((p) => p.payload.toString());
  t.ok(unacked.length > 0, `the silent member holds ${unacked.length} unacknowledged`);
  silent.destroy();
  await until(() => new Set(worker.received.map((m) => m.payload.toString())).size === count, 'every job at the remaining worker');
  const redelivered = worker.received.filter((m) => unacked.includes(m.payload.toString()));
  t.equal(redelivered.length, unacked.length, 'the silent member’s jobs went to the worker');
  t.ok(redelivered.every((m) => m.dup && m.qos === 1), 'with DUP=1 at QoS 1');
});

t.test('$share at QoS 1: acknowledged messages are not handed on when a member leaves', async (t) => {
  const broker = await startTestBroker(t, { mqtt: { port: 0 } });
  const url = `mqtt://127.0.0.1:${broker.mqttPort}`;
  const a = await mqttClient(t, url, { clientId: 'a', protocolVersion: 5 });
  const b = await mqttClient(t, url, { clientId: 'b', protocolVersion: 5 });
  for (const m of [a, b]) await m.subscribeAsync('$share/g/tasks', { qos: 1 });
  const pub = await mqttClient(t, url, { clientId: 'pub', protocolVersion: 5 });
  for (let i = 0; i < 4; i++) await pub.publishAsync('tasks', `t${i}`, { qos: 1 });
  await until(() => a.received.length + b.received.length === 4, 'four tasks');
  // MQTT.js acknowledges as it receives; an unsubscribe then a marker shows nothing was handed on.
  await a.unsubscribeAsync('$share/g/tasks');
  await pub.publishAsync('tasks', 'marker', { qos: 1 });
  await until(() => b.received.some((m) => m.payload.toString() === 'marker'), 'the marker at b');
  t.equal(a.received.length + b.received.length, 5, 'no task delivered twice');
});
