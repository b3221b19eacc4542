import t from 'tap';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, startTestBroker } from './helpers/broker.js';
import { startBrokerProcess } from '../kit/broker-process.js';
import { mqttClient } from './helpers/mqtt.js';
import { RawMqtt, isConnack, isPublish, isSuback } from './helpers/raw-mqtt.js';

/** A persistent-session client that never acknowledges (raw packets). */
async function silentClient(t: { teardown(fn: () => unknown): void }, port: number, protocolVersion: 4 | 5, subscribe: boolean): Promise<RawMqtt> {
  const raw = await RawMqtt.open(port, protocolVersion);
  t.teardown(() => raw.destroy());
  raw.send({
    cmd: 'connect',
    protocolId: 'MQTT',
    protocolVersion,
    clientId: 'forgetful',
    clean: false,
    keepalive: 60,
    ...(protocolVersion === 5 ? { properties: { sessionExpiryInterval: 3600 } } : {}),
  });
  await raw.waitFor(isConnack);
  if (subscribe) {
    raw.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'jobs/#', qos: 1 }] });
    await raw.waitFor(isSuback);
  }
  return raw;
}

t.test('5.0, broker restart: a QoS 1 message sent but not acknowledged comes again with DUP=1; a new one with DUP=0', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'relaymesh-dup-'));
  const first = await startTestBroker(t, { mqtt: { port: 0 }, dataDir });
  const before = await silentClient(t, first.mqttPort!, 5, true);
  const pub = await mqttClient(t, `mqtt://127.0.0.1:${first.mqttPort}`, { clientId: 'pub', protocolVersion: 5 });
  await pub.publishAsync('jobs/1', 'unacked', { qos: 1 });
  const original = await before.waitFor(isPublish);
  t.equal(original.dup, false, 'first delivery: DUP=0');
  await pub.endAsync();
  await first.close();
  before.destroy();

  const second = await startTestBroker(t, { mqtt: { port: 0 }, dataDir });
  const after = await silentClient(t, second.mqttPort!, 5, false);
  const again = await after.waitFor(isPublish);
  t.same([again.topic, again.payload.toString(), again.qos, again.dup], ['jobs/1', 'unacked', 1, true], 'redelivered with DUP=1');
  after.send({ cmd: 'puback', messageId: again.messageId! });
  const pub2 = await mqttClient(t, `mqtt://127.0.0.1:${second.mqttPort}`, { clientId: 'pub2', protocolVersion: 5 });
  await pub2.publishAsync('jobs/2', 'fresh', { qos: 1 });
  const fresh = await after.waitFor((p): p is Extract<typeof p, { cmd: 'publish' }> => isPublish(p) && p.topic === 'jobs/2');
  t.equal(fresh.dup, false, 'a message stored after the restart: DUP=0');
});

t.test('3.1.1, kill -9: a QoS 1 message sent but not acknowledged comes again with DUP=1', async (t) => {
  const [port, mqttPort] = [await freePort(), await freePort()];
  const dataDir = mkdtempSync(join(tmpdir(), 'relaymesh-dup-kill-'));
  const args = ['--mqtt-port', String(mqttPort)];
  const broker = await startBrokerProcess(port, dataDir, args);
  t.teardown(() => broker.child.kill('SIGKILL'));
  const before = await silentClient(t, mqttPort, 4, true);
  const pub = await mqttClient(t, `mqtt://127.0.0.1:${mqttPort}`, { clientId: 'pub' });
  await pub.publishAsync('jobs/9', 'in flight', { qos: 1 });
  t.equal((await before.waitFor(isPublish)).dup, false);
  broker.child.kill('SIGKILL');
  await broker.exited;
  before.destroy();

  const restarted = await startBrokerProcess(port, dataDir, args);
  t.teardown(() => restarted.child.kill('SIGKILL'));
  const after = await silentClient(t, mqttPort, 4, false);
  const again = await after.waitFor(isPublish, 30_000);
  t.same([again.payload.toString(), again.qos, again.dup], ['in flight', 1, true]);
  restarted.child.kill('SIGTERM');
  await restarted.exited;
});
