import t from 'tap';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { RelaymeshClient, type Message } from '../packages/client/src/index.js';
import { startTestBroker } from './helpers/broker.js';
import { mqttClient, until } from './helpers/mqtt.js';
import { RawMqtt, isConnack } from './helpers/raw-mqtt.js';

const PROPERTIES = {
  contentType: 'application/json',
  responseTopic: 'replies/backend',
  correlationData: Buffer.from([1, 2, 3, 250]),
  payloadFormatIndicator: true,
  userProperties: { site: 'north', tag: ['a', 'b'] },
};

/** A 5.0 client whose session outlives its connection. */
const persistent = (clientId: string) => ({ clientId, protocolVersion: 5 as const, clean: false, properties: { sessionExpiryInterval: 3600 } });

t.test('5.0 publication properties reach 5.0 subscribers unchanged, QoS 0 and 1; a 3.1.1 subscriber gets the message without them', async (t) => {
  const broker = await startTestBroker(t, { mqtt: { port: 0 } });
  const url = `mqtt://127.0.0.1:${broker.mqttPort}`;
  const v5 = await mqttClient(t, url, { clientId: 'v5', protocolVersion: 5 });
  await v5.subscribeAsync({ 'props/q1': { qos: 1 }, 'props/q0': { qos: 0 } });
  const v4 = await mqttClient(t, `ws://127.0.0.1:${broker.port}/mqtt`, { clientId: 'v4', protocolVersion: 4 });
  await v4.subscribeAsync('props/#', { qos: 1 });
  const pub = await mqttClient(t, url, { clientId: 'pub', protocolVersion: 5 });
  await pub.publishAsync('props/q1', '{"v":1}', { qos: 1, properties: { ...PROPERTIES, messageExpiryInterval: 3600 } });
  await pub.publishAsync('props/q0', '{"v":0}', { qos: 0, properties: PROPERTIES });
  await until(() => v5.received.length === 2 && v4.received.length === 2, 'both messages at both subscribers');
  const byTopic = new Map(v5.received.map((m) => [m.topic, m]));
  for (const topic of ['props/q1', 'props/q0']) {
    const p = byTopic.get(topic)!.properties!;
    t.equal(p.contentType, 'application/json', `${topic}: content type`);
    t.equal(p.responseTopic, 'replies/backend', `${topic}: response topic`);
    t.same([...p.correlationData!], [1, 2, 3, 250], `${topic}: correlation data`);
    t.equal(p.payloadFormatIndicator, true, `${topic}: payload format indicator`);
    t.same(p.userProperties, { site: 'north', tag: ['a', 'b'] }, `${topic}: user properties, repeated names in order`);
  }
  const expiry = byTopic.get('props/q1')!.properties!.messageExpiryInterval!;
  t.ok(expiry > 0 && expiry <= 3600, 'the expiry interval is what remains of it');
  t.equal(byTopic.get('props/q0')!.properties!.messageExpiryInterval, undefined, 'no expiry when the publisher set none');
  t.ok(v4.received.every((m) => m.properties === undefined), '3.1.1 has no properties');
});

t.test('SDK clients send and see the same properties (message.props)', async (t) => {
  const broker = await startTestBroker(t, { mqtt: { port: 0 } });
  const mqttSub = await mqttClient(t, `mqtt://127.0.0.1:${broker.mqttPort}`, { clientId: 'mqtt-sub', protocolVersion: 5 });
  await mqttSub.subscribeAsync('cmd/#', { qos: 1 });
  const sdk = new RelaymeshClient({ url: broker.url, deviceId: 'sdk', reconnect: false });
  t.teardown(() => sdk.close());
  const atSdk: Message[] = [];
  sdk.on('message', (m) => atSdk.push(m));
  await sdk.connect();
  await sdk.subscribe('telemetry/#', { qos: 1 });

  await sdk.publish('cmd/reboot', 'now', { qos: 1, props: { responseTopic: 'cmd/replies', correlationData: Uint8Array.of(9), userProperties: [['by', 'ops'], ['by', 'night-shift']], expirySeconds: 60 } });
  await until(() => mqttSub.received.length === 1, 'the SDK publish at the MQTT subscriber');
  const p = mqttSub.received[0]!.properties!;
  t.equal(p.responseTopic, 'cmd/replies');
  t.same([...p.correlationData!], [9]);
  t.same(p.userProperties, { by: ['ops', 'night-shift'] });
  t.ok(p.messageExpiryInterval! > 0 && p.messageExpiryInterval! <= 60);

  const mqttPub = await mqttClient(t, `mqtt://127.0.0.1:${broker.mqttPort}`, { clientId: 'mqtt-pub', protocolVersion: 5 });
  await mqttPub.publishAsync('telemetry/t1', '21.5', { qos: 1, properties: { contentType: 'text/plain', userProperties: { unit: 'C' } } });
  await until(() => atSdk.length === 1, 'the MQTT publish at the SDK subscriber');
  t.same(atSdk[0]!.props, { contentType: 'text/plain', userProperties: [['unit', 'C']] });
});

t.test('a stored QoS 1 message keeps its properties through replay after a broker restart', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'relaymesh-props-'));
  const first = await startTestBroker(t, { mqtt: { port: 0 }, dataDir });
  const sub = await mqttClient(t, `mqtt://127.0.0.1:${first.mqttPort}`, persistent('sleeper'));
  await sub.subscribeAsync('jobs/#', { qos: 1 });
  await sub.endAsync();
  const pub = await mqttClient(t, `mqtt://127.0.0.1:${first.mqttPort}`, { clientId: 'pub', protocolVersion: 5 });
  await pub.publishAsync('jobs/1', 'work', { qos: 1, properties: { ...PROPERTIES, messageExpiryInterval: 3600 } });
  await pub.endAsync();
  await first.close();

  const second = await startTestBroker(t, { mqtt: { port: 0 }, dataDir });
  const back = await mqttClient(t, `mqtt://127.0.0.1:${second.mqttPort}`, persistent('sleeper'));
  await until(() => back.received.length === 1, 'the replayed message');
  const p = back.received[0]!.properties!;
  t.equal(p.contentType, 'application/json');
  t.same([...p.correlationData!], [1, 2, 3, 250]);
  t.same(p.userProperties, { site: 'north', tag: ['a', 'b'] });
  t.ok(p.messageExpiryInterval! <= 3600);
});

t.test('message expiry: an expired stored message is not delivered; a live one carries what remains of its interval', async (t) => {
  const broker = await startTestBroker(t, { mqtt: { port: 0 } });
  const url = `mqtt://127.0.0.1:${broker.mqttPort}`;
  const sub = await mqttClient(t, url, persistent('offline'));
  await sub.subscribeAsync('alerts/#', { qos: 1 });
  await sub.endAsync();
  const pub = await mqttClient(t, url, { clientId: 'pub', protocolVersion: 5 });
  await pub.publishAsync('alerts/short', 'stale soon', { qos: 1, properties: { messageExpiryInterval: 1 } });
  await pub.publishAsync('alerts/long', 'still good', { qos: 1, properties: { messageExpiryInterval: 3600 } });
  // Waiting longer only makes the first message more expired: no margin to get wrong.
  await sleep(2100);
  await pub.publishAsync('alerts/marker', 'no expiry', { qos: 1 });
  const back = await mqttClient(t, url, persistent('offline'));
  await until(() => back.received.some((m) => m.topic === 'alerts/marker'), 'the marker');
  t.same(back.received.map((m) => m.topic), ['alerts/long', 'alerts/marker'], 'the expired message was passed over');
  const remaining = back.received[0]!.properties!.messageExpiryInterval!;
  t.ok(remaining < 3600 && remaining > 0, `the remaining interval (${remaining} s) is less than the publisher's 3600 s`);
  t.equal(back.received[1]!.properties?.messageExpiryInterval, undefined);
});

t.test('an expired retained message is not delivered on subscribe', async (t) => {
  const broker = await startTestBroker(t, { mqtt: { port: 0 } });
  const url = `mqtt://127.0.0.1:${broker.mqttPort}`;
  const pub = await mqttClient(t, url, { clientId: 'pub', protocolVersion: 5 });
  await pub.publishAsync('status/a', 'short-lived', { qos: 1, retain: true, properties: { messageExpiryInterval: 1 } });
  await pub.publishAsync('status/b', 'kept', { qos: 1, retain: true, properties: { messageExpiryInterval: 3600, userProperties: { k: 'v' } } });
  await sleep(2100);
  const sub = await mqttClient(t, url, { clientId: 'sub', protocolVersion: 5 });
  await sub.subscribeAsync('status/+', { qos: 1 });
  await pub.publishAsync('status/marker', 'x', { qos: 1 });
  await until(() => sub.received.some((m) => m.topic === 'status/marker'), 'the marker');
  t.same(sub.received.map((m) => m.topic), ['status/b', 'status/marker']);
  t.same(sub.received[0]!.properties!.userProperties, { k: 'v' }, 'a retained message keeps its properties');
  t.ok(sub.received[0]!.properties!.messageExpiryInterval! < 3600);
});

t.test('a 5.0 will carries its will properties', async (t) => {
  const broker = await startTestBroker(t, { mqtt: { port: 0 } });
  const watcher = await mqttClient(t, `mqtt://127.0.0.1:${broker.mqttPort}`, { clientId: 'watcher', protocolVersion: 5 });
  await watcher.subscribeAsync('wills/#', { qos: 1 });
  const raw = await RawMqtt.open(broker.mqttPort!, 5);
  t.teardown(() => raw.destroy());
  raw.send({
    cmd: 'connect',
    protocolId: 'MQTT',
    protocolVersion: 5,
    clientId: 'gateway-3',
    clean: true,
    keepalive: 30,
    will: { topic: 'wills/gateway-3', payload: Buffer.from('offline'), qos: 1, retain: false, properties: { contentType: 'text/plain', userProperties: { site: 'dock' } } },
  });
  await raw.waitFor(isConnack);
  raw.destroy();
  await until(() => watcher.received.length === 1, 'the will');
  t.equal(watcher.received[0]!.properties?.contentType, 'text/plain');
  t.same(watcher.received[0]!.properties?.userProperties, { site: 'dock' });
});

t.test('the server-side API publishes and sends with properties; invalid ones are refused', async (t) => {
  const broker = await startTestBroker(t, { mqtt: { port: 0 } });
  const device = await mqttClient(t, `mqtt://127.0.0.1:${broker.mqttPort}`, { clientId: 'dev-1', protocolVersion: 5 });
  await device.subscribeAsync('ota/#', { qos: 1 });
  await broker.publish('ota/notice', 'v2', { qos: 1, props: { contentType: 'text/plain', expirySeconds: 600 } });
  await broker.send('dev-1', 'direct', { qos: 1, props: { userProperties: [['from', 'api']] } });
  await until(() => device.received.length === 2, 'both messages');
  const byTopic = new Map(device.received.map((m) => [m.topic, m]));
  t.equal(byTopic.get('ota/notice')!.properties?.contentType, 'text/plain');
  t.same(byTopic.get('$inbox/dev-1')!.properties?.userProperties, { from: 'api' });
  await t.rejects(broker.publish('ota/x', 'y', { props: { payloadFormat: 7 } as never }), /props/);
});
