import t from 'tap';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RelaymeshClient } from '../packages/client/src/index.js';
import { startTestBroker } from './helpers/broker.js';
import { mqttClient, until, type Received, mqttTransports } from './helpers/mqtt.js';
import { RawMqtt, isConnack, isDisconnect, isSuback } from './helpers/raw-mqtt.js';
import { PERSISTENT_OPTIONS_CLIENT, expectOptionsHonoured, subscribeWithOptions } from './helpers/subscription-options.js';

const retainOf = (received: Received[]) => Object.fromEntries(received.map((m) => [m.payload.toString(), m.retain]));

for (const transport of mqttTransports) {
  for (const protocolVersion of [4, 5] as const) {
    t.test(`${transport.name}, MQTT ${protocolVersion === 4 ? '3.1.1' : '5.0'} without retain-as-published: RETAIN 0 when forwarded, 1 only on the retained message sent for a new subscription`, async (t) => {
      const broker = await startTestBroker(t, { mqtt: { port: 0 } });
      const url = transport.url(broker);
      const sub = await mqttClient(t, url, { clientId: 'sub', protocolVersion });
      await sub.subscribeAsync('st/#', { qos: 1 });
      const pub = await mqttClient(t, url, { clientId: 'pub', protocolVersion });
      await pub.publishAsync('st/a', 'retained-q1', { qos: 1, retain: true });
      await pub.publishAsync('st/b', 'retained-q0', { qos: 0, retain: true });
      await pub.publishAsync('st/c', 'plain', { qos: 1 });
      await until(() => sub.received.length === 3, 'three deliveries');
      t.same(retainOf(sub.received), { 'retained-q1': false, 'retained-q0': false, plain: false }, 'forwarded with RETAIN 0');
      const late = await mqttClient(t, url, { clientId: 'late', protocolVersion });
      await late.subscribeAsync('st/#', { qos: 1 });
      await until(() => late.received.length === 2, 'the two retained messages');
      t.same(retainOf(late.received), { 'retained-q1': true, 'retained-q0': true }, 'sent for the new subscription with RETAIN 1');
    });
  }

  t.test(`${transport.name}, 5.0 retain-as-published: forwarded messages keep the RETAIN flag they were published with, live and replayed from the stored session`, async (t) => {
    const broker = await startTestBroker(t, { mqtt: { port: 0 } });
    const url = transport.url(broker);
    const persistent = { clientId: 'rap', protocolVersion: 5, clean: false, properties: { sessionExpiryInterval: 3600 } } as const;
    const first = await mqttClient(t, url, persistent);
    await first.subscribeAsync('st/#', { qos: 1, rap: true });
    const pub = await mqttClient(t, url, { clientId: 'pub', protocolVersion: 5 });
    await pub.publishAsync('st/a', 'retained-q1', { qos: 1, retain: true });
    await pub.publishAsync('st/b', 'retained-q0', { qos: 0, retain: true });
    await pub.publishAsync('st/c', 'plain', { qos: 1 });
    await until(() => first.received.length === 3, 'three deliveries');
    t.same(retainOf(first.received), { 'retained-q1': true, 'retained-q0': true, plain: false }, 'live');

    await first.endAsync();
    await until(() => broker.device('rap') === undefined, 'the first connection to be gone');
    await pub.publishAsync('st/d', 'retained-while-away', { qos: 1, retain: true });
    await pub.publishAsync('st/e', 'plain-while-away', { qos: 1 });
    const second = await mqttClient(t, url, persistent);
    await until(() => second.received.length === 2, 'the two stored messages');
    t.same(retainOf(second.received), { 'retained-while-away': true, 'plain-while-away': false }, 'replayed from LMDB with the flag');
  });

  t.test(`${transport.name}, 5.0 no local: a client does not get its own messages on that subscription, QoS 0 or 1; others' still come`, async (t) => {
    const broker = await startTestBroker(t, { mqtt: { port: 0 } });
    const url = transport.url(broker);
    const persistent = { clientId: 'chatty', protocolVersion: 5, clean: false, properties: { sessionExpiryInterval: 3600 } } as const;
    const self = await mqttClient(t, url, persistent);
    await self.subscribeAsync('chat/#', { qos: 1, nl: true });
    const other = await mqttClient(t, url, { clientId: 'other', protocolVersion: 5 });
    await self.publishAsync('chat/room', 'mine-q0', { qos: 0 });
    await self.publishAsync('chat/room', 'mine-q1', { qos: 1 });
    await other.publishAsync('chat/room', 'theirs', { qos: 1 });
    await until(() => self.received.length > 0, 'the other client\'s message');
    t.same(self.received.map((m) => m.payload.toString()), ['theirs'], 'only the other client\'s message');

    // The passed-over QoS 1 message moved the cursor: it is not replayed to the resumed session.
    await self.endAsync();
    await until(() => broker.device('chatty') === undefined, 'gone');
    await other.publishAsync('chat/room', 'while-away', { qos: 1 });
    const back = await mqttClient(t, url, persistent);
    await until(() => back.received.length > 0, 'the stored message');
    await back.publishAsync('chat/room', 'mine-again', { qos: 1 });
    await other.publishAsync('chat/room', 'marker', { qos: 1 });
    await until(() => back.received.some((m) => m.payload.toString() === 'marker'), 'the marker');
    t.same(back.received.map((m) => m.payload.toString()), ['while-away', 'marker'], 'no local still applies after the reconnect, nothing replayed twice');
  });
}

t.test('5.0 no local on one filter, not on an overlapping one: the message comes (once); 3.1.1 clients get their own messages', async (t) => {
  const broker = await startTestBroker(t, { mqtt: { port: 0 } });
  const url = `mqtt://127.0.0.1:${broker.mqttPort}`;
  const v5 = await mqttClient(t, url, { clientId: 'v5', protocolVersion: 5 });
  await v5.subscribeAsync({ 'chat/#': { qos: 1, nl: true }, 'chat/room': { qos: 1 } });
  await v5.publishAsync('chat/room', 'own', { qos: 1 });
  await v5.publishAsync('chat/other', 'own-nl-only', { qos: 1 });
  await v5.publishAsync('chat/room', 'end', { qos: 1 });
  await until(() => v5.received.some((m) => m.payload.toString() === 'end'), 'the end marker');
  t.same(v5.received.map((m) => m.payload.toString()), ['own', 'end'], 'chat/room has a subscription without no local; chat/other does not');

  const v4 = await mqttClient(t, url, { clientId: 'v4', protocolVersion: 4 });
  await v4.subscribeAsync('chat/#', { qos: 1 });
  await v4.publishAsync('chat/room', 'echo', { qos: 1 });
  await until(() => v4.received.length === 1, 'its own message');
});

t.test('5.0 no local on a shared subscription is a protocol error: DISCONNECT 0x82', async (t) => {
  const broker = await startTestBroker(t, { mqtt: { port: 0 } });
  const raw = await RawMqtt.open(broker.mqttPort!, 5);
  t.teardown(() => raw.destroy());
  raw.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clientId: 'nl-share', clean: true, keepalive: 30 });
  await raw.waitFor(isConnack);
  raw.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: '$share/g/jobs/#', qos: 1, nl: true, rap: false, rh: 0 }] });
  const disconnect = await raw.waitFor(isDisconnect);
  t.equal(disconnect.reasonCode, 0x82);
  t.notOk(raw.packets.some(isSuback), 'no SUBACK');
  await raw.waitClosed();
});

for (const transport of mqttTransports) {
  t.test(`${transport.name}, 5.0 subscription identifiers come back on the PUBLISHes of their subscriptions, retained ones included, and after a reconnect`, async (t) => {
    const broker = await startTestBroker(t, { mqtt: { port: 0 } });
    const url = transport.url(broker);
    const pub = await mqttClient(t, url, { clientId: 'pub', protocolVersion: 5 });
    await pub.publishAsync('fleet/car-1/state', 'parked', { qos: 1, retain: true });
    const persistent = { clientId: 'ids', protocolVersion: 5, clean: false, properties: { sessionExpiryInterval: 3600 } } as const;
    const idsOf = (m: Received | undefined) => {
      const ids = m?.properties?.subscriptionIdentifier;
      return ids === undefined ? [] : ([] as number[]).concat(ids).sort((a, b) => a - b);
    };
    const first = await mqttClient(t, url, persistent);
    await first.subscribeAsync('fleet/#', { qos: 1, properties: { subscriptionIdentifier: 7 } });
    await until(() => first.received.length === 1, 'the retained message');
    t.same([first.received[0]!.retain, idsOf(first.received[0])], [true, [7]], 'the retained message carries the identifier');
    await first.subscribeAsync('fleet/+/speed', { qos: 1, properties: { subscriptionIdentifier: 9 } });
    await first.subscribeAsync('other', { qos: 1 });
    await pub.publishAsync('fleet/car-1/speed', '88', { qos: 1 });
    await pub.publishAsync('other', 'no id', { qos: 0 });
    await until(() => first.received.length === 3, 'two live messages');
    t.same(idsOf(first.received[1]), [7, 9], 'overlapping subscriptions: both identifiers, one PUBLISH');
    t.same(idsOf(first.received[2]), [], 'a subscription without an identifier');

    await first.endAsync();
    await until(() => broker.device('ids') === undefined, 'gone');
    await pub.publishAsync('fleet/car-2/speed', '12', { qos: 1 });
    const second = await mqttClient(t, url, persistent);
    await until(() => second.received.length === 1, 'the stored message');
    t.same(idsOf(second.received[0]), [7, 9], 'kept with the session');
  });
}

t.test('5.0, broker restart: a resumed session keeps No Local, Retain As Published and Subscription Identifiers without subscribing again', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'relaymesh-subopts-'));
  const first = await startTestBroker(t, { mqtt: { port: 0 }, dataDir });
  const before = await mqttClient(t, `mqtt://127.0.0.1:${first.mqttPort}`, PERSISTENT_OPTIONS_CLIENT);
  await subscribeWithOptions(before);
  await before.endAsync();
  await first.close();

  const second = await startTestBroker(t, { mqtt: { port: 0 }, dataDir });
  const url = `mqtt://127.0.0.1:${second.mqttPort}`;
  const after = await mqttClient(t, url, PERSISTENT_OPTIONS_CLIENT);
  await expectOptionsHonoured(t, url, after);
});

t.test('5.0 CONNACK advertises what the broker does', async (t) => {
  const broker = await startTestBroker(t, { mqtt: { port: 0 }, maxFrameBytes: 65_536 });
  const raw = await RawMqtt.open(broker.mqttPort!, 5);
  t.teardown(() => raw.destroy());
  raw.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clientId: 'props', clean: true, keepalive: 30 });
  const connack = await raw.waitFor(isConnack);
  t.same(
    connack.properties,
    {
      maximumQoS: 1,
      retainAvailable: true,
      sharedSubscriptionAvailable: true,
      wildcardSubscriptionAvailable: true,
      subscriptionIdentifiersAvailable: true,
      topicAliasMaximum: 64,
      maximumPacketSize: 65_536,
    },
    'no receive maximum (65,535: the broker does not limit inbound QoS 1) and no server keep alive (the client\'s is used)',
  );
  raw.send({ cmd: 'subscribe', messageId: 1, properties: { subscriptionIdentifier: 0 }, subscriptions: [{ topic: 'a', qos: 0, nl: false, rap: false, rh: 0 }] });
  const disconnect = await raw.waitFor(isDisconnect);
  t.equal(disconnect.reasonCode, 0x82, 'subscription identifier 0 is a protocol error');
});

t.test('an SDK subscriber gets MQTT publishes made with RETAIN (the flag travels in MSG), QoS 0 and 1', async (t) => {
  const broker = await startTestBroker(t, { mqtt: { port: 0 } });
  const sdk = new RelaymeshClient({ url: broker.url, deviceId: 'sdk-backend', reconnect: false });
  t.teardown(() => sdk.close());
  const atSdk: string[] = [];
  sdk.on('message', (m) => atSdk.push(Buffer.from(m.payload).toString()));
  await sdk.connect();
  await sdk.subscribe(['st/#'], { qos: 1 });
  const pub = await mqttClient(t, `mqtt://127.0.0.1:${broker.mqttPort}`, { clientId: 'pub', protocolVersion: 5 });
  await pub.publishAsync('st/a', 'q0', { qos: 0, retain: true });
  await pub.publishAsync('st/b', 'q1', { qos: 1, retain: true });
  await until(() => atSdk.length === 2, 'both messages');
  t.same(atSdk.sort(), ['q0', 'q1']);
});
