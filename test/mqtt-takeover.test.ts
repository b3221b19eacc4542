import t from 'tap';
import { startTestBroker } from './helpers/broker.js';
import { mqttClient, until } from './helpers/mqtt.js';
import { RawMqtt, isConnack, isDisconnect, isPublish, isSuback } from './helpers/raw-mqtt.js';
import { PERSISTENT_OPTIONS_CLIENT, expectOptionsHonoured, subscribeWithOptions } from './helpers/subscription-options.js';

/**
 * A persistent session taken over by a new connection of its client id while QoS 1 messages
 * wait in it (delivered, never acknowledged): the new connection resumes the session, gets
 * every one of them and the subscription goes on.
 */
const cases = [
  { name: '3.1.1 clean session 0', protocolVersion: 4, expiry: undefined },
  { name: '5.0 clean start 0, session expiry 0', protocolVersion: 5, expiry: 0 },
  { name: '5.0 clean start 0, session expiry 3600', protocolVersion: 5, expiry: 3600 },
] as const;

for (const c of cases) {
  t.test(`${c.name}: takeover while QoS 1 messages are stored loses none of them`, async (t) => {
    const broker = await startTestBroker(t, { mqtt: { port: 0 } });
    const first = await RawMqtt.open(broker.mqttPort!, c.protocolVersion);
    t.teardown(() => first.destroy());
    first.send({
      cmd: 'connect',
      protocolId: 'MQTT',
      protocolVersion: c.protocolVersion,
      clientId: 'twin',
      clean: false,
      keepalive: 30,
      ...(c.expiry !== undefined ? { properties: { sessionExpiryInterval: c.expiry } } : {}),
    });
    await first.waitFor(isConnack);
    first.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'jobs/#', qos: 1 }] });
    await first.waitFor(isSuback);
    for (let i = 1; i <= 5; i++) await broker.publish(`jobs/${i}`, `job ${i}`, { qos: 1 });
    await until(() => first.packets.filter(isPublish).length === 5, 'five deliveries, none acknowledged');

    const second = await mqttClient(t, `mqtt://127.0.0.1:${broker.mqttPort}`, {
      clientId: 'twin',
      protocolVersion: c.protocolVersion,
      clean: false,
      ...(c.expiry !== undefined ? { properties: { sessionExpiryInterval: c.expiry } } : {}),
    });
    await first.waitClosed();
    if (c.protocolVersion === 5) t.equal((await first.waitFor(isDisconnect)).reasonCode, 0x8e, 'the first connection was told');
    for (let i = 6; i <= 8; i++) await broker.publish(`jobs/${i}`, `job ${i}`, { qos: 1 });
    await until(() => new Set(second.received.map((m) => m.payload.toString())).size === 8, 'all eight messages', 20_000).catch(() => undefined);
    const got = [...new Set(second.received.map((m) => m.payload.toString()))].sort();
    t.same(got, ['job 1', 'job 2', 'job 3', 'job 4', 'job 5', 'job 6', 'job 7', 'job 8'], 'none lost');
    t.ok(second.received.filter((m) => Number(m.payload.toString().slice(4)) <= 5).every((m) => m.dup), 'the unacknowledged ones come again with DUP');
  });
}

for (const expiry of [0, 3600]) {
  t.test(`5.0 clean start 0, session expiry ${expiry}: the connection that takes over keeps No Local, Retain As Published and Subscription Identifiers`, async (t) => {
    const broker = await startTestBroker(t, { mqtt: { port: 0 } });
    const url = `mqtt://127.0.0.1:${broker.mqttPort}`;
    const options = { ...PERSISTENT_OPTIONS_CLIENT, properties: { sessionExpiryInterval: expiry } };
    const first = await mqttClient(t, url, options);
    await subscribeWithOptions(first);
    const closed = new Promise<void>((resolve) => first.once('close', () => resolve()));
    const second = await mqttClient(t, url, options);
    await closed;
    await expectOptionsHonoured(t, url, second);
  });
}
