import t from 'tap';
import { startTestBroker } from './helpers/broker.js';
import { mqttClient, until } from './helpers/mqtt.js';
import { RawMqtt, isConnack, isDisconnect } from './helpers/raw-mqtt.js';

t.test('MQTT.js publishes through a topic alias and subscribers (5.0 and 3.1.1) get the full topic', async (t) => {
  const broker = await startTestBroker(t, { mqtt: { port: 0 } });
  const url = `mqtt://127.0.0.1:${broker.mqttPort}`;
  const v5 = await mqttClient(t, url, { clientId: 'sub5', protocolVersion: 5 });
  const v4 = await mqttClient(t, url, { clientId: 'sub4', protocolVersion: 4 });
  await v5.subscribeAsync('fleet/#', { qos: 1 });
  await v4.subscribeAsync('fleet/#', { qos: 1 });
  const pub = await mqttClient(t, url, { clientId: 'pub', protocolVersion: 5 });
  await pub.publishAsync('fleet/truck-7/gps', 'first', { qos: 1, properties: { topicAlias: 3 } });
  await pub.publishAsync('', 'second', { qos: 1, properties: { topicAlias: 3 } });
  await pub.publishAsync('fleet/truck-7/speed', 'third', { qos: 0, properties: { topicAlias: 3 } });
  await pub.publishAsync('', 'fourth', { qos: 0, properties: { topicAlias: 3 } });
  for (const sub of [v5, v4]) {
    await until(() => sub.received.length === 4, 'four messages');
    t.same(
      sub.received.map((m) => [m.topic, m.payload.toString()]),
      [
        ['fleet/truck-7/gps', 'first'],
        ['fleet/truck-7/gps', 'second'],
        ['fleet/truck-7/speed', 'third'],
        ['fleet/truck-7/speed', 'fourth'],
      ],
      'an alias resolves to the topic it was last set to',
    );
  }
  t.ok(v5.received.every((m) => m.properties?.topicAlias === undefined), 'the publisher’s alias is not passed on');
});

t.test('an alias out of range is Topic Alias invalid (0x94); an alias never set is a Protocol Error (0x82)', async (t) => {
  const broker = await startTestBroker(t, { mqtt: { port: 0 } });
  const cases = [
    { alias: 65, topic: 'a/b', reason: 0x94 },
    { alias: 0, topic: 'a/b', reason: 0x94 },
    { alias: 9, topic: '', reason: 0x82 },
  ];
  for (const { alias, topic, reason } of cases) {
    const raw = await RawMqtt.open(broker.mqttPort!, 5);
    t.teardown(() => raw.destroy());
    raw.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clientId: `alias-${alias}`, clean: true, keepalive: 30 });
    const connack = await raw.waitFor(isConnack);
    t.equal(connack.properties?.topicAliasMaximum, 64, 'CONNACK announces the topic alias maximum');
    raw.send({ cmd: 'publish', topic, payload: Buffer.from('x'), qos: 0, dup: false, retain: false, properties: { topicAlias: alias } });
    const disconnect = await raw.waitFor(isDisconnect);
    t.equal(disconnect.reasonCode, reason, `alias ${alias} with topic ${JSON.stringify(topic)}`);
    await raw.waitClosed();
  }
});
