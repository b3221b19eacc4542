import t from 'tap';
import { startTestBroker } from './helpers/broker.js';
import { until } from './helpers/mqtt.js';
import { RawMqtt, isConnack, isPublish, isSuback } from './helpers/raw-mqtt.js';

async function rawSession(port: number, clientId: string, options: { protocolVersion?: 4 | 5; clean: boolean; expiry?: number }) {
  const protocolVersion = options.protocolVersion ?? 4;
  const raw = await RawMqtt.open(port, protocolVersion);
  raw.send({
    cmd: 'connect',
    protocolId: 'MQTT',
    protocolVersion,
    clientId,
    clean: options.clean,
    keepalive: 30,
    ...(options.expiry !== undefined ? { properties: { sessionExpiryInterval: options.expiry } } : {}),
  });
  const connack = await raw.waitFor(isConnack);
  return { raw, sessionPresent: connack.sessionPresent };
}

t.test('3.1.1 clean session: nothing survives the connection', async (t) => {
  const broker = await startTestBroker(t, { mqtt: { port: 0 } });
  const first = await rawSession(broker.mqttPort!, 'c1', { clean: true });
  first.raw.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'a/#', qos: 1 }] });
  await first.raw.waitFor(isSuback);
  first.raw.destroy();
  await until(() => broker.device('c1') === undefined, 'the first connection to be gone');
  await broker.publish('a/x', 'while away', { qos: 1 });
  const second = await rawSession(broker.mqttPort!, 'c1', { clean: false });
  t.equal(second.sessionPresent, false);
  await broker.publish('a/y', 'after', { qos: 1 });
  second.raw.send({ cmd: 'pingreq' });
  await second.raw.waitFor((p): p is typeof p => p.cmd === 'pingresp');
  t.notOk(second.raw.packets.some((p) => p.cmd === 'publish'), 'no subscription, no stored message');
  second.raw.destroy();
});

t.test('a persistent session keeps subscriptions and QoS 1 messages; unacknowledged ones come again with DUP', async (t) => {
  const broker = await startTestBroker(t, { mqtt: { port: 0 } });
  const first = await rawSession(broker.mqttPort!, 'p1', { clean: false });
  t.equal(first.sessionPresent, false);
  first.raw.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'jobs/#', qos: 1 }] });
  await first.raw.waitFor(isSuback);
  await broker.publish('jobs/1', 'one', { qos: 1 });
  const delivered = await first.raw.waitFor(isPublish);
  t.equal(delivered.dup, false);
  first.raw.destroy(); // never acknowledged
  await until(() => broker.device('p1') === undefined, 'the first connection to be gone');
  await broker.publish('jobs/2', 'two', { qos: 1 });

  const second = await rawSession(broker.mqttPort!, 'p1', { clean: false });
  t.equal(second.sessionPresent, true);
  await until(() => second.raw.packets.filter(isPublish).length === 2, 'both messages');
  const [again, next] = second.raw.packets.filter(isPublish);
  t.same([again!.topic, again!.payload.toString(), again!.dup, again!.qos], ['jobs/1', 'one', true, 1], 'redelivered with DUP');
  t.same([next!.topic, next!.payload.toString(), next!.dup], ['jobs/2', 'two', false], 'then the one stored while away');
  second.raw.send({ cmd: 'puback', messageId: again!.messageId! });
  second.raw.send({ cmd: 'puback', messageId: next!.messageId! });
  second.raw.send({ cmd: 'pingreq' });
  await second.raw.waitFor((p): p is typeof p => p.cmd === 'pingresp');
  second.raw.destroy();
  await until(() => broker.device('p1') === undefined, 'the second connection to be gone');

  const third = await rawSession(broker.mqttPort!, 'p1', { clean: false });
  await broker.publish('jobs/3', 'three', { qos: 1 });
  const only = await third.raw.waitFor(isPublish);
  t.equal(only.payload.toString(), 'three', 'acknowledged messages are not sent again');
  third.raw.destroy();
});

t.test('5.0: clean start drops the session; session expiry 0 ends it with the connection', async (t) => {
  const broker = await startTestBroker(t, { mqtt: { port: 0 } });
  const kept = await rawSession(broker.mqttPort!, 'v5', { protocolVersion: 5, clean: false, expiry: 3600 });
  kept.raw.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'x', qos: 1 }] });
  await kept.raw.waitFor(isSuback);
  kept.raw.destroy();
  await until(() => broker.device('v5') === undefined, 'gone');
  const resumed = await rawSession(broker.mqttPort!, 'v5', { protocolVersion: 5, clean: false, expiry: 0 });
  t.equal(resumed.sessionPresent, true, 'expiry 3600: the session is there');
  resumed.raw.destroy();
  await until(() => broker.device('v5') === undefined, 'gone');
  const afterZero = await rawSession(broker.mqttPort!, 'v5', { protocolVersion: 5, clean: false, expiry: 3600 });
  t.equal(afterZero.sessionPresent, false, 'expiry 0: the session ended with the connection');
  afterZero.raw.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'x', qos: 1 }] });
  await afterZero.raw.waitFor(isSuback);
  afterZero.raw.destroy();
  await until(() => broker.device('v5') === undefined, 'gone');
  const clean = await rawSession(broker.mqttPort!, 'v5', { protocolVersion: 5, clean: true, expiry: 3600 });
  t.equal(clean.sessionPresent, false, 'clean start: no session');
  clean.raw.destroy();
});

t.test('5.0 receive maximum is the QoS 1 inflight window', async (t) => {
  const broker = await startTestBroker(t, { mqtt: { port: 0 } });
  const raw = await RawMqtt.open(broker.mqttPort!, 5);
  raw.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clientId: 'small', clean: true, keepalive: 30, properties: { receiveMaximum: 2 } });
  await raw.waitFor(isConnack);
  raw.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'w/#', qos: 1 }] });
  await raw.waitFor(isSuback);
  for (let i = 1; i <= 5; i++) await broker.publish(`w/${i}`, `m${i}`, { qos: 1 });
  const publishes = () => raw.packets.filter(isPublish);
  await until(() => publishes().length >= 2, 'the first two');
  raw.send({ cmd: 'pingreq' });
  await raw.waitFor((p): p is typeof p => p.cmd === 'pingresp');
  t.equal(publishes().length, 2, 'no third before an ack');
  let acked = 0;
  while (acked < 5) {
    await until(() => publishes().length > acked, `delivery ${acked + 1}`);
    t.ok(publishes().length - acked <= 2, 'never more than 2 unacknowledged');
    raw.send({ cmd: 'puback', messageId: publishes()[acked]!.messageId! });
    acked++;
  }
  t.same(publishes().map((p) => p.payload.toString()), ['m1', 'm2', 'm3', 'm4', 'm5'], 'all, in order');
  raw.destroy();
});
