import t from 'tap';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './helpers/broker.js';
import { startBrokerProcess } from '../kit/broker-process.js';
import { mqttClient, until } from './helpers/mqtt.js';
import { PERSISTENT_OPTIONS_CLIENT, expectOptionsHonoured, subscribeWithOptions } from './helpers/subscription-options.js';

t.test('kill -9: a persistent MQTT session loses no acknowledged QoS 1 message', async (t) => {
  const port = await freePort();
  const mqttPort = await freePort();
  const dataDir = mkdtempSync(join(tmpdir(), 'relaymesh-mqtt-crash-'));
  const args = ['--mqtt-port', String(mqttPort)];
  const broker = await startBrokerProcess(port, dataDir, args);
  t.teardown(() => broker.child.kill('SIGKILL'));
  const url = `mqtt://127.0.0.1:${mqttPort}`;
  const device = await mqttClient(t, url, { clientId: 'survivor', clean: false });
  await device.subscribeAsync('orders/#', { qos: 1 });
  await device.endAsync();
  const publisher = await mqttClient(t, url, { clientId: 'shop' });
  const count = 50;
  for (let i = 0; i < count; i++) await publisher.publishAsync(`orders/${i}`, `order ${i}`, { qos: 1 });
  broker.child.kill('SIGKILL');
  await broker.exited;

  const restarted = await startBrokerProcess(port, dataDir, args);
  t.teardown(() => restarted.child.kill('SIGKILL'));
  const back = await mqttClient(t, url, { clientId: 'survivor', clean: false });
  await until(() => new Set(back.received.map((m) => m.payload.toString())).size === count, `${count} orders after the restart`, 30_000);
  t.same(
    [...new Set(back.received.map((m) => m.payload.toString()))].sort(),
    Array.from({ length: count }, (_, i) => `order ${i}`).sort(),
    'every acknowledged message arrives',
  );
  restarted.child.kill('SIGTERM');
  await restarted.exited;
});

t.test('kill -9: a persistent session keeps its $share subscription', async (t) => {
  const port = await freePort();
  const mqttPort = await freePort();
  const dataDir = mkdtempSync(join(tmpdir(), 'relaymesh-mqtt-crash-share-'));
  const args = ['--mqtt-port', String(mqttPort)];
  const broker = await startBrokerProcess(port, dataDir, args);
  t.teardown(() => broker.child.kill('SIGKILL'));
  const url = `mqtt://127.0.0.1:${mqttPort}`;
  const member = await mqttClient(t, url, { clientId: 'pool-member', protocolVersion: 5, clean: false, properties: { sessionExpiryInterval: 3600 } });
  await member.subscribeAsync('$share/pool/jobs/#', { qos: 1 });
  // Store writes commit in order: once this QoS 1 publish is acknowledged, the session is on disk.
  const fence = await mqttClient(t, url, { clientId: 'fence' });
  await fence.publishAsync('fence', 'f', { qos: 1 });
  broker.child.kill('SIGKILL');
  await broker.exited;

  const restarted = await startBrokerProcess(port, dataDir, args);
  t.teardown(() => restarted.child.kill('SIGKILL'));
  const back = await mqttClient(t, url, { clientId: 'pool-member', protocolVersion: 5, clean: false, properties: { sessionExpiryInterval: 3600 } });
  const publisher = await mqttClient(t, url, { clientId: 'dispatcher' });
  await publisher.publishAsync('jobs/1', 'job 1', { qos: 1 });
  await until(() => back.received.some((m) => m.payload.toString() === 'job 1'), 'the job at the member, which did not subscribe again', 30_000);
  t.pass('the group subscription came back with the session');
  restarted.child.kill('SIGTERM');
  await restarted.exited;
});

t.test('kill -9: a persistent session keeps its subscriptions\' No Local, Retain As Published and Subscription Identifiers', async (t) => {
  const port = await freePort();
  const mqttPort = await freePort();
  const dataDir = mkdtempSync(join(tmpdir(), 'relaymesh-mqtt-crash-subopts-'));
  const args = ['--mqtt-port', String(mqttPort)];
  const broker = await startBrokerProcess(port, dataDir, args);
  t.teardown(() => broker.child.kill('SIGKILL'));
  const url = `mqtt://127.0.0.1:${mqttPort}`;
  const before = await mqttClient(t, url, PERSISTENT_OPTIONS_CLIENT);
  await subscribeWithOptions(before);
  // Store writes commit in order: once this QoS 1 publish is acknowledged, the session is on disk.
  const fence = await mqttClient(t, url, { clientId: 'fence' });
  await fence.publishAsync('fence', 'f', { qos: 1 });
  broker.child.kill('SIGKILL');
  await broker.exited;

  const restarted = await startBrokerProcess(port, dataDir, args);
  t.teardown(() => restarted.child.kill('SIGKILL'));
  const after = await mqttClient(t, url, PERSISTENT_OPTIONS_CLIENT);
  await expectOptionsHonoured(t, url, after);
  restarted.child.kill('SIGTERM');
  await restarted.exited;
});
