import t from 'tap';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, startTestBroker } from './helpers/broker.js';
import { mqttClient, until } from './helpers/mqtt.js';
import { isPublish, silentSubscriber, type RawMqtt } from './helpers/raw-mqtt.js';

t.test('$share at QoS 1: each stored message goes to exactly one member, at QoS 1, 5.0 and 3.1.1 members alike', async (t) => {
  const broker = await startTestBroker(t, { mqtt: { port: 0 } });
  const url = `mqtt://127.0.0.1:${broker.mqttPort}`;
  const members = [await mqttClient(t, url, { clientId: 'w5', protocolVersion: 5 }), await mqttClient(t, `ws://127.0.0.1:${broker.port}/mqtt`, { clientId: 'w4', protocolVersion: 4 })];
  for (const m of members) t.same((await m.subscribeAsync('$share/pool/jobs/#', { qos: 1 })).map((g) => g.qos), [1], 'granted QoS 1');
  const pub = await mqttClient(t, url, { clientId: 'pub', protocolVersion: 5 });
  const count = 20;
  for (let i = 0; i < count; i++) await pub.publishAsync(`jobs/${i}`, `job ${i}`, { qos: 1 });
  await until(() => members[0]!.received.length + members[1]!.received.length === count, 'every job at one member');
  const all = members.flatMap((m) => m.received);
  t.equal(new Set(all.map((m) => m.payload.toString())).size, count, 'no job twice');
  t.ok(all.every((m) => m.qos === 1 && !m.dup), 'all at QoS 1, first delivery');
  t.same(members.map((m) => m.received.length), [count / 2, count / 2], 'the load is spread');
});

t.test('$share at QoS 1: what a member received but did not acknowledge goes to another member, with DUP=1, when it disconnects', async (t) => {
  const broker = await startTestBroker(t, { mqtt: { port: 0 } });
  const url = `mqtt://127.0.0.1:${broker.mqttPort}`;
  const silent = await silentSubscriber(t, broker.mqttPort!, 'silent', '$share/pool/jobs/#');
  const worker = await mqttClient(t, url, { clientId: 'worker', protocolVersion: 4 });
  await worker.subscribeAsync('$share/pool/jobs/#', { qos: 1 });
  const pub = await mqttClient(t, url, { clientId: 'pub', protocolVersion: 5 });
  const count = 10;
  for (let i = 0; i < count; i++) await pub.publishAsync(`jobs/${i}`, `job ${i}`, { qos: 1 });
  await until(() => silent.packets.filter(isPublish).length + worker.received.length === count, 'every job handed out');
  const unacked = silent.packets.filter(isPublish).map((p) => p.payload.toString());
  t.ok(unacked.length > 0, `the silent member holds ${unacked.length} unacknowledged`);
  silent.destroy();
  await until(() => new Set(worker.received.map((m) => m.payload.toString())).size === count, 'every job at the remaining worker');
  const redelivered = worker.received.filter((m) => unacked.includes(m.payload.toString()));
  t.equal(redelivered.length, unacked.length, 'the silent member’s jobs went to the worker');
  t.ok(redelivered.every((m) => m.dup && m.qos === 1), 'with DUP=1 at QoS 1');
});

t.test('$share at QoS 1: acknowledged messages are not handed on when a member leaves', async (t) => {
  const broker = await startTestBroker(t, { mqtt: { port: 0 } });
  const url = `mqtt://127.0.0.1:${broker.mqttPort}`;
  const a = await mqttClient(t, url, { clientId: 'a', protocolVersion: 5 });
  const b = await mqttClient(t, url, { clientId: 'b', protocolVersion: 5 });
  for (const m of [a, b]) await m.subscribeAsync('$share/g/tasks', { qos: 1 });
  const pub = await mqttClient(t, url, { clientId: 'pub', protocolVersion: 5 });
  for (let i = 0; i < 4; i++) await pub.publishAsync('tasks', `t${i}`, { qos: 1 });
  await until(() => a.received.length + b.received.length === 4, 'four tasks');
  // MQTT.js acknowledges as it receives; an unsubscribe then a marker shows nothing was handed on.
  await a.unsubscribeAsync('$share/g/tasks');
  await pub.publishAsync('tasks', 'marker', { qos: 1 });
  await until(() => b.received.some((m) => m.payload.toString() === 'marker'), 'the marker at b');
  t.equal(a.received.length + b.received.length, 5, 'no task delivered twice');
});

/** A broker on a fixed MQTT port and data dir; `restart` closes it and starts it again. */
async function restartableBroker(t: { teardown(fn: () => unknown): void }): Promise<{ url: string; restart(): Promise<void> }> {
  const dataDir = mkdtempSync(join(tmpdir(), 'relaymesh-share-'));
  const mqttPort = await freePort();
  let broker = await startTestBroker(t, { dataDir, mqtt: { port: mqttPort } });
  return {
    url: `mqtt://127.0.0.1:${mqttPort}`,
    async restart() {
      await broker.close();
      broker = await startTestBroker(t, { dataDir, mqtt: { port: mqttPort } });
    },
  };
}

t.test('$share in a persistent session: the group subscription survives a reconnect and a broker restart, and the member counts again', async (t) => {
  const { url, restart } = await restartableBroker(t);
  const keeper = await mqttClient(t, url, { clientId: 'keeper', clean: false });
  t.same((await keeper.subscribeAsync('$share/pool/jobs/#', { qos: 1 })).map((g) => g.qos), [1]);
  const v5 = await mqttClient(t, url, { clientId: 'keeper5', protocolVersion: 5, clean: false, properties: { sessionExpiryInterval: 3600 } });
  await v5.subscribeAsync('$share/pool/jobs/#', { qos: 1 });
  await keeper.endAsync();
  await v5.endAsync();
  await restart();
  const back = await mqttClient(t, url, { clientId: 'keeper', clean: false });
  const back5 = await mqttClient(t, url, { clientId: 'keeper5', protocolVersion: 5, clean: false, properties: { sessionExpiryInterval: 3600 } });
  const pub = await mqttClient(t, url, { clientId: 'pub' });
  const count = 10;
  for (let i = 0; i < count; i++) await pub.publishAsync(`jobs/${i}`, `job ${i}`, { qos: 1 });
  await until(() => back.received.length + back5.received.length === count, 'every job at one restored member, without subscribing again');
  t.equal(new Set([...back.received, ...back5.received].map((m) => m.payload.toString())).size, count, 'no job twice');
  t.same([back.received.length, back5.received.length], [count / 2, count / 2], 'both restored members take turns (3.1.1 and 5.0)');
});

t.test('$share (5.0): deliveries carry the subscription identifier and, with retain as published, the RETAIN flag; kept across a broker restart', async (t) => {
  const { url, restart } = await restartableBroker(t);
  const persistent = { clientId: 'tagged', protocolVersion: 5, clean: false, properties: { sessionExpiryInterval: 3600 } } as const;
  const member = await mqttClient(t, url, persistent);
  await member.subscribeAsync('$share/pool/jobs/#', { qos: 1, rap: true, properties: { subscriptionIdentifier: 42 } });
  await member.subscribeAsync('$share/plain/chores/#', { qos: 1 });
  const expectTagged = async (client: typeof member, round: string) => {
    const pub = await mqttClient(t, url, { clientId: `pub-${round}`, protocolVersion: 5 });
    await pub.publishAsync('jobs/1', `retained ${round}`, { qos: 1, retain: true });
    await pub.publishAsync('jobs/2', `plain ${round}`, { qos: 0 });
    await pub.publishAsync('chores/1', `chore ${round}`, { qos: 1, retain: true });
    await until(() => client.received.length === 3, `three deliveries (${round})`);
    const seen = Object.fromEntries(client.received.map((m) => [m.payload.toString(), [m.retain, m.properties?.subscriptionIdentifier]]));
    t.same(seen, { [`retained ${round}`]: [true, 42], [`plain ${round}`]: [false, 42], [`chore ${round}`]: [false, undefined] }, round);
  };
  await expectTagged(member, 'live');
  await member.endAsync();
  await restart();
  await expectTagged(await mqttClient(t, url, persistent), 'after the restart, without subscribing again');
});

t.test('$share in a clean session: the group subscription ends with the connection', async (t) => {
  const broker = await startTestBroker(t, { mqtt: { port: 0 } });
  const url = `mqtt://127.0.0.1:${broker.mqttPort}`;
  const once = await mqttClient(t, url, { clientId: 'once' });
  await once.subscribeAsync('$share/pool/jobs/#', { qos: 1 });
  await once.endAsync();
  // Gone from the broker first: a CONNECT while it is still there is a takeover, which carries the session on.
  await until(() => broker.device('once') === undefined, 'the clean session ended');
  const back = await mqttClient(t, url, { clientId: 'once', clean: false });
  await back.subscribeAsync('jobs/marker', { qos: 1 });
  const pub = await mqttClient(t, url, { clientId: 'pub' });
  await pub.publishAsync('jobs/1', 'job', { qos: 1 });
  await pub.publishAsync('jobs/marker', 'marker', { qos: 1 });
  await until(() => back.received.some((m) => m.topic === 'jobs/marker'), 'the marker');
  t.same(back.received.map((m) => m.topic), ['jobs/marker'], 'no group message after a clean session ended');
});

/** A member of `$share/pool/jobs/#` that never acknowledges, with receive maximum `receiveMaximum`. */
function silentMember(t: { teardown(fn: () => unknown): void }, port: number, clientId: string, receiveMaximum: number): Promise<RawMqtt> {
  return silentSubscriber(t, port, clientId, '$share/pool/jobs/#', receiveMaximum);
}

t.test('$share and receive maximum: a member whose window is full is skipped for another member', async (t) => {
  const broker = await startTestBroker(t, { mqtt: { port: 0 } });
  const url = `mqtt://127.0.0.1:${broker.mqttPort}`;
  const slow = await silentMember(t, broker.mqttPort!, 'slow', 2);
  const worker = await mqttClient(t, url, { clientId: 'worker', protocolVersion: 5 });
  await worker.subscribeAsync('$share/pool/jobs/#', { qos: 1 });
  const pub = await mqttClient(t, url, { clientId: 'pub' });
  const count = 12;
  for (let i = 0; i < count; i++) await pub.publishAsync(`jobs/${i}`, `job ${i}`, { qos: 1 });
  await until(() => slow.packets.filter(isPublish).length + worker.received.length === count, 'every job handed out');
  t.equal(slow.packets.filter(isPublish).length, 2, 'the member that acknowledges nothing got only its receive maximum');
  t.equal(worker.received.length, count - 2, 'the other member got the rest');
});

t.test('$share and receive maximum: when every member is full, QoS 1 messages wait and go out as acknowledgements make room', async (t) => {
  const broker = await startTestBroker(t, { mqtt: { port: 0 } });
  const members = [await silentMember(t, broker.mqttPort!, 'm1', 1), await silentMember(t, broker.mqttPort!, 'm2', 1)];
  const pub = await mqttClient(t, `mqtt://127.0.0.1:${broker.mqttPort}`, { clientId: 'pub' });
  const count = 6;
  for (let i = 0; i < count; i++) await pub.publishAsync(`jobs/${i}`, `job ${i}`, { qos: 1 });
  const sent = () => members.flatMap((m) => m.packets.filter(isPublish));
  await until(() => sent().length === 2, 'one job at each member');
  t.same(members.map((m) => m.packets.filter(isPublish).length), [1, 1], 'each within its window of one');
  // Acknowledge one at a time: each PUBACK lets exactly one waiting job out.
  const acked = new Set<string>();
  for (let round = 0; round < count + 2 && acked.size < count; round++) {
    for (const m of members) {
      for (const p of m.packets.filter(isPublish)) {
        const key = `${p.payload.toString()}`;
        if (acked.has(key)) continue;
        acked.add(key);
        m.send({ cmd: 'puback', messageId: p.messageId! });
      }
    }
    await until(() => sent().length > acked.size || acked.size === count, 'the next job after an acknowledgement');
    t.ok(members.every((m) => m.packets.filter(isPublish).length - [...m.packets.filter(isPublish)].filter((p) => acked.has(p.payload.toString())).length <= 1), 'never more than one unacknowledged per member');
  }
  t.equal(new Set(sent().map((p) => p.payload.toString())).size, count, 'every job delivered: none dropped');
  t.equal(sent().length, count, 'none twice');
});

t.test('$share with every member away with a stored session: QoS 1 messages are kept for the first member that comes back', async (t) => {
  const broker = await startTestBroker(t, { mqtt: { port: 0 } });
  const url = `mqtt://127.0.0.1:${broker.mqttPort}`;
  const member = await mqttClient(t, url, { clientId: 'away', protocolVersion: 5, clean: false, properties: { sessionExpiryInterval: 3600 } });
  await member.subscribeAsync('$share/pool/jobs/#', { qos: 1 });
  await member.endAsync();
  const pub = await mqttClient(t, url, { clientId: 'pub' });
  const count = 5;
  for (let i = 0; i < count; i++) await pub.publishAsync(`jobs/${i}`, `job ${i}`, { qos: 1 });
  await pub.publishAsync('jobs/late', 'late', { qos: 0 });
  const back = await mqttClient(t, url, { clientId: 'away', protocolVersion: 5, clean: false, properties: { sessionExpiryInterval: 3600 } });
  await until(() => back.received.length >= count, 'the kept jobs at the member that came back');
  t.same(back.received.map((m) => m.payload.toString()), Array.from({ length: count }, (_, i) => `job ${i}`), 'every QoS 1 job, in order (QoS 0 ones are not kept)');
});

t.test('$share with every member away: a member coming back with a clean start gets nothing that was kept', async (t) => {
  const broker = await startTestBroker(t, { mqtt: { port: 0 } });
  const url = `mqtt://127.0.0.1:${broker.mqttPort}`;
  const member = await mqttClient(t, url, { clientId: 'away', clean: false });
  await member.subscribeAsync('$share/pool/jobs/#', { qos: 1 });
  await member.endAsync();
  const pub = await mqttClient(t, url, { clientId: 'pub' });
  await pub.publishAsync('jobs/1', 'job 1', { qos: 1 });
  const fresh = await mqttClient(t, url, { clientId: 'away', clean: true });
  await fresh.subscribeAsync('$share/pool/jobs/#', { qos: 1 });
  await pub.publishAsync('jobs/2', 'job 2', { qos: 1 });
  await until(() => fresh.received.length > 0, 'the next job');
  t.same(fresh.received.map((m) => m.payload.toString()), ['job 2'], 'only what was published after it joined');
});

t.test('$share with every member away across a broker restart: the stored session is parked again, and messages wait for it', async (t) => {
  const { url, restart } = await restartableBroker(t);
  const member = await mqttClient(t, url, { clientId: 'away', clean: false });
  await member.subscribeAsync('$share/pool/jobs/#', { qos: 1 });
  await member.endAsync();
  await restart();
  const pub = await mqttClient(t, url, { clientId: 'pub' });
  await pub.publishAsync('jobs/1', 'job 1', { qos: 1 });
  const back = await mqttClient(t, url, { clientId: 'away', clean: false });
  await until(() => back.received.length > 0, 'the job published while it was away');
  t.equal(back.received[0]!.payload.toString(), 'job 1');
});
