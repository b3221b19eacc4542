import t from 'tap';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestBroker } from './helpers/broker.js';
import { mqttClient, until } from './helpers/mqtt.js';
import { RawMqtt, isConnack } from './helpers/raw-mqtt.js';

t.test('a retained message is delivered on subscribe, replaced by the next, cleared by an empty payload', async (t) => {
  const broker = await startTestBroker(t, { mqtt: { port: 0 } });
  const url = `mqtt://127.0.0.1:${broker.mqttPort}`;
  const pub = await mqttClient(t, url, { clientId: 'thermostat' });
  await pub.publishAsync('home/temp', '20', { qos: 1, retain: true });
  await pub.publishAsync('home/temp', '21', { qos: 1, retain: true });
  await pub.publishAsync('home/door', 'open', { qos: 1, retain: true });
  const late = await mqttClient(t, url, { clientId: 'late' });
  await late.subscribeAsync('home/#', { qos: 1 });
  await until(() => late.received.length === 2, 'two retained messages');
  t.same(
    late.received.map((m) => [m.topic, m.payload.toString(), m.retain]).sort(),
    [
      ['home/door', 'open', true],
      ['home/temp', '21', true],
    ],
  );
  await pub.publishAsync('home/door', '', { qos: 1, retain: true });
  const later = await mqttClient(t, url, { clientId: 'later', protocolVersion: 5 });
  await later.subscribeAsync('home/#', { qos: 0 });
  await until(() => later.received.length === 1, 'one retained message');
  t.equal(later.received[0]!.topic, 'home/temp', 'the cleared one is gone');
});

t.test('retained messages survive a broker restart (LMDB)', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'relaymesh-retained-'));
  const first = await startTestBroker(t, { mqtt: { port: 0 }, dataDir });
  const pub = await mqttClient(t, `mqtt://127.0.0.1:${first.mqttPort}`, { clientId: 'pub' });
  await pub.publishAsync('status/gw-1', 'online', { qos: 1, retain: true });
  await pub.endAsync();
  await first.close();
  const second = await startTestBroker(t, { mqtt: { port: 0 }, dataDir });
  const sub = await mqttClient(t, `ws://127.0.0.1:${second.port}/mqtt`, { clientId: 'sub' });
  await sub.subscribeAsync('status/+', { qos: 1 });
  await until(() => sub.received.length === 1, 'the retained message');
  t.equal(sub.received[0]!.payload.toString(), 'online');
});

t.test('the will is published when a client vanishes, not after DISCONNECT', async (t) => {
  const broker = await startTestBroker(t, { mqtt: { port: 0 } });
  const url = `mqtt://127.0.0.1:${broker.mqttPort}`;
  const watcher = await mqttClient(t, url, { clientId: 'watcher' });
  await watcher.subscribeAsync('wills/#', { qos: 1 });
  const polite = await mqttClient(t, url, { clientId: 'polite', will: { topic: 'wills/polite', payload: Buffer.from('gone'), qos: 1, retain: false } });
  await polite.endAsync();
  const rude = await RawMqtt.open(broker.mqttPort!, 4);
  rude.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId: 'rude', clean: true, keepalive: 30, will: { topic: 'wills/rude', payload: Buffer.from('lost'), qos: 1, retain: true } });
  await rude.waitFor(isConnack);
  rude.destroy();
  await until(() => watcher.received.length === 1, 'the will of the vanished client');
  t.same([watcher.received[0]!.topic, watcher.received[0]!.payload.toString()], ['wills/rude', 'lost']);
  const newcomer = await mqttClient(t, url, { clientId: 'newcomer' });
  await newcomer.subscribeAsync('wills/#', { qos: 0 });
  await until(() => newcomer.received.length === 1, 'the retained will');
  t.equal(newcomer.received[0]!.topic, 'wills/rude', 'a retained will is retained; the polite client left none');
});

t.test('5.0 will delay: a client back within the delay cancels its will; otherwise it goes out after the delay', async (t) => {
  const broker = await startTestBroker(t, { mqtt: { port: 0 } });
  const url = `mqtt://127.0.0.1:${broker.mqttPort}`;
  const watcher = await mqttClient(t, url, { clientId: 'watcher' });
  await watcher.subscribeAsync('wills/#', { qos: 1 });
  const connectWithWill = async (clientId: string, delay: number) => {
    const raw = await RawMqtt.open(broker.mqttPort!, 5);
    raw.send({
      cmd: 'connect',
      protocolId: 'MQTT',
      protocolVersion: 5,
      clientId,
      clean: false,
      keepalive: 30,
      properties: { sessionExpiryInterval: 3600 },
      will: { topic: `wills/${clientId}`, payload: Buffer.from('gone'), qos: 1, retain: false, properties: { willDelayInterval: delay } },
    });
    await raw.waitFor(isConnack);
    return raw;
  };
  const flaky = await connectWithWill('flaky', 3600);
  flaky.destroy();
  await until(() => broker.device('flaky') === undefined, 'flaky to drop');
  const back = await connectWithWill('flaky', 3600);
  const brief = await connectWithWill('brief', 1);
  brief.destroy();
  await until(() => watcher.received.length === 1, 'the delayed will of brief');
  t.same(watcher.received.map((m) => m.topic), ['wills/brief'], 'flaky came back in time: no will');
  back.destroy();
});
