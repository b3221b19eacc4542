import t from 'tap';
import { freePort, startTestBroker } from './helpers/broker.js';
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

t.test('$share across two cluster nodes: a group is per node, each message reaches one member on each node that has members', async (t) => {
  const secret = 'cluster-secret-0123456789';
  const [portA, portB] = [await freePort(), await freePort()];
  const a = await startTestBroker(t, { nodeId: 'a', mqtt: { port: 0 }, cluster: { host: '127.0.0.1', port: portA, secret, peers: [`b@127.0.0.1:${portB}`] } });
  const b = await startTestBroker(t, { nodeId: 'b', mqtt: { port: 0 }, cluster: { host: '127.0.0.1', port: portB, secret, peers: [`a@127.0.0.1:${portA}`] } });
  const onA = [await mqttClient(t, `mqtt://127.0.0.1:${a.mqttPort}`, { clientId: 'a1', protocolVersion: 5 }), await mqttClient(t, `mqtt://127.0.0.1:${a.mqttPort}`, { clientId: 'a2' })];
  const onB = await mqttClient(t, `mqtt://127.0.0.1:${b.mqttPort}`, { clientId: 'b1', protocolVersion: 5 });
  for (const m of [...onA, onB]) await m.subscribeAsync('$share/g/work/#', { qos: 1 });
  const pub = await mqttClient(t, `mqtt://127.0.0.1:${a.mqttPort}`, { clientId: 'pub', protocolVersion: 5 });
  // Until the nodes are linked, node b hears nothing: warm up until it does.
  for (let i = 0; onB.received.length === 0 && i < 300; i++) {
    await pub.publishAsync('work/warmup', 'w', { qos: 1 });
    await until(() => onB.received.length > 0, 'a warm-up message on node b', 200).catch(() => undefined);
  }
  await pub.publishAsync('work/fence', 'fence', { qos: 1 });
  await until(() => onB.received.some((m) => m.topic === 'work/fence') && onA.some((c) => c.received.some((m) => m.topic === 'work/fence')), 'the fence on both nodes');
  const jobsAt = (clients: typeof onA) => clients.flatMap((c) => c.received.filter((m) => m.topic === 'work/job'));
  const count = 6;
  for (let i = 0; i < count; i++) await pub.publishAsync('work/job', `job ${i}`, { qos: 1 });
  await until(() => jobsAt(onA).length === count && jobsAt([onB]).length === count, 'every job once on each node');
  t.equal(new Set(jobsAt(onA).map((m) => m.payload.toString())).size, count, 'node a: each job at one of its two members');
  t.same(onA.map((c) => jobsAt([c]).length), [count / 2, count / 2], 'node a spreads the jobs over its members');
  t.equal(jobsAt([onB]).length, count, 'node b: its one member gets every job too');
});
