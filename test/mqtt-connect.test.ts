import t from 'tap';
import { SignJWT } from 'jose';
import { startTestBroker } from './helpers/broker.js';
import { connectOutcome, mqttClient, until } from './helpers/mqtt.js';
import mqttPacket from 'mqtt-packet';
import { RawMqtt, isConnack, isDisconnect, isSuback } from './helpers/raw-mqtt.js';

const SECRET = 'relaymesh-test-secret-0123456789';
const token = (sub: string, scope?: string) =>
  new SignJWT(scope ? { scope } : {}).setProtectedHeader({ alg: 'HS256' }).setSubject(sub).setExpirationTime('1h').sign(new TextEncoder().encode(SECRET));

t.test('CONNECT is authenticated by the broker authenticator: the password is the JWT', async (t) => {
  const broker = await startTestBroker(t, { anonymous: false, jwt: { secret: SECRET }, mqtt: { port: 0 } });
  const url = `mqtt://127.0.0.1:${broker.mqttPort}`;
  const good = await connectOutcome(url, { clientId: 'car-1', username: 'car-1', password: await token('car-1'), protocolVersion: 4 });
  t.ok(good.connected, 'a valid token connects');
  good.client.end(true);
  const cases = [
    { name: '3.1.1, token of another device', protocolVersion: 4 as const, password: await token('car-2'), code: 4 },
    { name: '3.1.1, no password', protocolVersion: 4 as const, password: undefined, code: 5 },
    { name: '5.0, bad token', protocolVersion: 5 as const, password: 'not.a.jwt', code: 0x86 },
    { name: '5.0, no password', protocolVersion: 5 as const, password: undefined, code: 0x87 },
  ];
  for (const c of cases) {
    // 3.1.1 sends a password only with a user name; relaymesh ignores the user name.
    const outcome = await connectOutcome(url, { clientId: 'car-1', protocolVersion: c.protocolVersion, ...(c.password ? { username: 'any', password: c.password } : {}) });
    t.notOk(outcome.connected, c.name);
    t.equal(outcome.code, c.code, `${c.name}: CONNACK code ${c.code}`);
  }
});

t.test('JWT scope applies: a denied SUBSCRIBE filter and a denied PUBLISH get their reason codes', async (t) => {
  const broker = await startTestBroker(t, { anonymous: false, jwt: { secret: SECRET }, mqtt: { port: 0 } });
  const client = await mqttClient(t, `mqtt://127.0.0.1:${broker.mqttPort}`, {
    clientId: 'car-1',
    protocolVersion: 5,
    username: 'car-1',
    password: await token('car-1', 'pub:fleet/car-1/# sub:cmd/car-1/#'),
  });
  // MQTT.js rejects a SUBACK with any refusal; the packet rides on the error.
  const suback = await client.subscribeAsync({ 'cmd/car-1/#': { qos: 1 }, 'cmd/car-2/#': { qos: 1 } }).catch((err: { packet: { granted: number[] } }) => err.packet);
  t.same('granted' in suback ? suback.granted : [], [1, 0x87], 'allowed filter granted, denied one refused with 0x87');
  const refused = await client.publishAsync('fleet/car-2/speed', 'x', { qos: 1 }).then(
    () => undefined,
    (err: Error & { code?: number }) => err.code,
  );
  t.equal(refused, 0x87, 'PUBACK 0x87 (not authorized)');
  await client.publishAsync('fleet/car-1/speed', 'ok', { qos: 1 });
  t.pass('an allowed publish is acknowledged');
});

t.test('3.1.1: a denied SUBSCRIBE filter gets 0x80; QoS 2 is granted as 1', async (t) => {
  const broker = await startTestBroker(t, { mqtt: { port: 0 } });
  const raw = await RawMqtt.open(broker.mqttPort!, 4);
  raw.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId: 'v4', clean: true, keepalive: 30 });
  await raw.waitFor(isConnack);
  raw.send({
    cmd: 'subscribe',
    messageId: 7,
    subscriptions: [
      { topic: 'a/#', qos: 2 },
      { topic: 'bad/#/x', qos: 0 },
      { topic: '$inbox/someone-else', qos: 0 },
    ],
  });
  const suback = await raw.waitFor(isSuback);
  t.equal(suback.messageId, 7);
  t.same(suback.granted, [1, 0x80, 0x80]);
  raw.destroy();
});

t.test('an empty client id gets one assigned (3.1.1 clean session; 5.0 in CONNACK)', async (t) => {
  const broker = await startTestBroker(t, { mqtt: { port: 0 } });
  const raw = await RawMqtt.open(broker.mqttPort!, 5);
  raw.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clientId: '', clean: true, keepalive: 30 });
  const connack = await raw.waitFor(isConnack);
  t.equal(connack.reasonCode, 0);
  t.match(connack.properties?.assignedClientIdentifier, /^mqtt-/);
  t.equal(connack.properties?.maximumQoS, 1, 'CONNACK says QoS 2 is not supported');
  raw.destroy();
  const v4 = await RawMqtt.open(broker.mqttPort!, 4);
  // mqtt-packet refuses to encode this CONNECT: clear the clean-session flag of a valid one.
  const connect = mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId: '', clean: true, keepalive: 30 });
  connect[9]! &= ~0x02;
  v4.sendBytes(connect);
  t.equal((await v4.waitFor(isConnack)).returnCode, 2, 'persistent session without a client id: identifier rejected');
  await v4.waitClosed();
});

t.test('QoS 2 PUBLISH is refused: 5.0 DISCONNECT 0x9B, 3.1.1 connection closed', async (t) => {
  const broker = await startTestBroker(t, { mqtt: { port: 0 } });
  for (const protocolVersion of [4, 5] as const) {
    const raw = await RawMqtt.open(broker.mqttPort!, protocolVersion);
    raw.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion, clientId: `q2-${protocolVersion}`, clean: true, keepalive: 30 });
    await raw.waitFor(isConnack);
    raw.send({ cmd: 'publish', topic: 'a/b', payload: Buffer.from('x'), qos: 2, messageId: 1, dup: false, retain: false });
    await raw.waitClosed();
    if (protocolVersion === 5) t.equal((await raw.waitFor(isDisconnect)).reasonCode, 0x9b);
    else t.notOk(raw.packets.some((p) => p.cmd === 'pubrec'), 'no PUBREC');
  }
});

t.test('QoS 2 elsewhere: a will with QoS 2 (5.0 CONNACK 0x9B; 3.1.1 accepted, published at QoS 1), a PUBREL (DISCONNECT 0x9B)', async (t) => {
  const broker = await startTestBroker(t, { mqtt: { port: 0 } });
  const will = { topic: 'wills/q2', payload: Buffer.from('gone'), qos: 2 as const, retain: false };
  const v5 = await RawMqtt.open(broker.mqttPort!, 5);
  t.teardown(() => v5.destroy());
  v5.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clientId: 'will-v5', clean: true, keepalive: 30, will });
  t.equal((await v5.waitFor(isConnack)).reasonCode, 0x9b, '5.0: QoS not supported');

  const watcher = await mqttClient(t, `mqtt://127.0.0.1:${broker.mqttPort}`, { clientId: 'watcher' });
  await watcher.subscribeAsync('wills/#', { qos: 1 });
  const v4 = await RawMqtt.open(broker.mqttPort!, 4);
  t.teardown(() => v4.destroy());
  v4.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId: 'will-v4', clean: true, keepalive: 30, will });
  t.equal((await v4.waitFor(isConnack)).returnCode, 0, '3.1.1: accepted');
  v4.destroy();
  await until(() => watcher.received.length === 1, 'the will');
  t.same([watcher.received[0]!.payload.toString(), watcher.received[0]!.qos], ['gone', 1], 'published at QoS 1');

  const rel = await RawMqtt.open(broker.mqttPort!, 5);
  t.teardown(() => rel.destroy());
  rel.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clientId: 'pubrel', clean: true, keepalive: 30 });
  await rel.waitFor(isConnack);
  rel.send({ cmd: 'pubrel', messageId: 1 });
  t.equal((await rel.waitFor(isDisconnect)).reasonCode, 0x9b);
});

t.test('a silent client is closed after 1.5 × its keep-alive', async (t) => {
  const broker = await startTestBroker(t, { mqtt: { port: 0 } });
  const raw = await RawMqtt.open(broker.mqttPort!, 5);
  raw.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clientId: 'quiet', clean: true, keepalive: 1 });
  await raw.waitFor(isConnack);
  await raw.waitClosed();
  t.equal((await raw.waitFor(isDisconnect)).reasonCode, 0x8d, 'DISCONNECT 0x8D keep-alive timeout');
  await until(() => broker.device('quiet') === undefined, 'the device to be gone');
});

t.test('a second connection with the same client id takes over (5.0: DISCONNECT 0x8E)', async (t) => {
  const broker = await startTestBroker(t, { mqtt: { port: 0 } });
  const first = await RawMqtt.open(broker.mqttPort!, 5);
  first.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clientId: 'twin', clean: true, keepalive: 30 });
  await first.waitFor(isConnack);
  const second = await mqttClient(t, `ws://127.0.0.1:${broker.port}/mqtt`, { clientId: 'twin', protocolVersion: 5 });
  await first.waitClosed();
  t.equal((await first.waitFor(isDisconnect)).reasonCode, 0x8e);
  await second.subscribeAsync('x', { qos: 0 });
  await broker.publish('x', 'still here');
  await until(() => second.received.length === 1, 'the new connection to work');
});

t.test('bad input: garbage, a packet before CONNECT, an oversize packet: a clean close, never a crash', async (t) => {
  const broker = await startTestBroker(t, { mqtt: { port: 0 }, maxFrameBytes: 1024 });
  const garbage = await RawMqtt.open(broker.mqttPort!);
  garbage.sendBytes(Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0x02]));
  await garbage.waitClosed();
  const early = await RawMqtt.open(broker.mqttPort!);
  early.send({ cmd: 'pingreq' });
  await early.waitClosed();
  const big = await RawMqtt.open(broker.mqttPort!, 5);
  big.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clientId: 'big', clean: true, keepalive: 30 });
  await big.waitFor(isConnack);
  big.send({ cmd: 'publish', topic: 'a', payload: Buffer.alloc(4096), qos: 0, dup: false, retain: false });
  await big.waitClosed();
  t.equal((await big.waitFor(isDisconnect)).reasonCode, 0x95, 'DISCONNECT 0x95 packet too large');
  const bad = await RawMqtt.open(broker.mqttPort!, 5);
  bad.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clientId: 'bad', clean: true, keepalive: 30 });
  await bad.waitFor(isConnack);
  bad.sendBytes(Buffer.from([0x82, 0x02, 0x00, 0x01])); // SUBSCRIBE without a single filter
  await bad.waitClosed();
  const fine = await mqttClient(t, `mqtt://127.0.0.1:${broker.mqttPort}`, { clientId: 'after' });
  await fine.subscribeAsync('ok', { qos: 1 });
  t.pass('the broker still serves clients');
});
