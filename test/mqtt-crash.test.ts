import t from 'tap';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './helpers/broker.js';
import { startBrokerProcess } from '../kit/broker-process.js';
import { mqttClient, until } from './helpers/mqtt.js';
import { PERSISTENT_OPTIONS_CLIENT, expectOptionsHonoured, subscribeWithOptions } from './helpers/subscription-options.js';

/** A broker process with MQTT over TCP, which a test kills with SIGKILL and starts again on the same ports and data. */
async function killableBroker(t: { teardown(fn: () => unknown): void }, name: string): Promise<{ url: string; killAndRestart(): Promise<void> }> {
  const port = await freePort();
  const mqttPort = await freePort();
  const dataDir = mkdtempSync(join(tmpdir(), `relaymesh-mqtt-crash-${name}-`));
  const args = ['--mqtt-port', String(mqttPort)];
  let broker = await startBrokerProcess(port, dataDir, args);
  t.teardown(async () => {
    broker.child.kill('SIGTERM');
    await broker.exited;
  });
  return {
    url: `mqtt://127.0.0.1:${mqttPort}`,
    async killAndRestart() {
      broker.child.kill('SIGKILL');
      await broker.exited;
      broker = await startBrokerProcess(port, dataDir, args);
    },
  };
}

t.test('kill -9: a persistent MQTT session loses no acknowledged QoS 1 message', async (t) => {
  const broker = await killableBroker(t, 'qos1');
  const device = await mqttClient(t, broker.url, { clientId: 'survivor', clean: false });
  await device.subscribeAsync('orders/#', { qos: 1 });
  await device.endAsync();
  const publisher = await mqttClient(t, broker.url, { clientId: 'shop' });
  const count = 50;
  for (let i = 0; i < count; i++) await publisher.publishAsync(`orders/${i}`, `order ${i}`, { qos: 1 });
  await broker.killAndRestart();

  const back = await mqttClient(t, broker.url, { clientId: 'survivor', clean: false });
  await until(() => new Set(back.received.map((m) => m.payload.toString())).size === count, `${count} orders after the restart`, 30_000);
  t.same(
    [...new Set(back.received.map((m) => m.payload.toString()))].sort(),
    Array.from({ length: count }, (_, i) => `order ${i}`).sort(),
    'every acknowledged message arrives',
  );
});

/** Store writes commit in order: once this QoS 1 publish is acknowledged, the sessions saved before it are on disk. */
async function fence(t: { teardown(fn: () => unknown): void }, url: string): Promise<void> {
  const client = await mqttClient(t, url, { clientId: 'fence' });
  await client.publishAsync('fence', 'f', { qos: 1 });
}

t.test('kill -9: a persistent session keeps its $share subscription', async (t) => {
  const broker = await killableBroker(t, 'share');
  const persistent = { clientId: 'pool-member', protocolVersion: 5, clean: false, properties: { sessionExpiryInterval: 3600 } } as const;
  const member = await mqttClient(t, broker.url, persistent);
  await member.subscribeAsync('$share/pool/jobs/#', { qos: 1 });
  await fence(t, broker.url);
  await broker.killAndRestart();

  const back = await mqttClient(t, broker.url, persistent);
  const publisher = await mqttClient(t, broker.url, { clientId: 'dispatcher' });
  await publisher.publishAsync('jobs/1', 'job 1', { qos: 1 });
  await until(() => back.received.some((m) => m.payload.toString() === 'job 1'), 'the job at the member, which did not subscribe again', 30_000);
  t.pass('the group subscription came back with the session');
});

t.test("kill -9: a persistent session keeps its subscriptions' No Local, Retain As Published and Subscription Identifiers", async (t) => {
  const broker = await killableBroker(t, 'subopts');
  const before = await mqttClient(t, broker.url, PERSISTENT_OPTIONS_CLIENT);
  await subscribeWithOptions(before);
  await fence(t, broker.url);
  await broker.killAndRestart();

  const after = await mqttClient(t, broker.url, PERSISTENT_OPTIONS_CLIENT);
  await expectOptionsHonoured(t, broker.url, after);
});
