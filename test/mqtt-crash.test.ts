import t from 'tap';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './helpers/broker.js';
import { startBrokerProcess } from '../kit/broker-process.js';
import { mqttClient, until } from './helpers/mqtt.js';

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
