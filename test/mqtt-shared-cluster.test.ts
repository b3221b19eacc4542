import t from 'tap';
import { freePort, startTestBroker } from './helpers/broker.js';
import { mqttClient, until, type Received } from './helpers/mqtt.js';
import { isPublish, silentSubscriber } from './helpers/raw-mqtt.js';

const SECRET = 'cluster-secret-0123456789';

/** Two linked nodes, `a` and `b`, each with an MQTT TCP listener. */
async function twoNodes(t: { teardown(fn: () => unknown): void }) {
  const [portA, portB] = [await freePort(), await freePort()];
  const a = await startTestBroker(t, { nodeId: 'a', mqtt: { port: 0 }, cluster: { host: '127.0.0.1', port: portA, secret: SECRET, peers: [`b@127.0.0.1:${portB}`] } });
  const b = await startTestBroker(t, { nodeId: 'b', mqtt: { port: 0 }, cluster: { host: '127.0.0.1', port: portB, secret: SECRET, peers: [`a@127.0.0.1:${portA}`] } });
  return { a, b, urlA: `mqtt://127.0.0.1:${a.mqttPort}`, urlB: `mqtt://127.0.0.1:${b.mqttPort}` };
}

type Client = Awaited<ReturnType<typeof mqttClient>>;

/**
 * Publishes warm-up messages from `publisher` until one reaches a member in `far`: from then on
 * the publisher's node knows the group has members on the far node.
 */
async function untilGroupSpans(publisher: Client, far: { received: Received[] }[], tag: string): Promise<void> {
  const reached = () => far.some((c) => c.received.some((m) => m.topic === `work/warm-${tag}`));
  for (let i = 0; !reached() && i < 300; i++) {
    await publisher.publishAsync(`work/warm-${tag}`, 'w', { qos: 1 });
    await until(reached, 'a warm-up message on the far node', 200).catch(() => undefined);
  }
  if (!reached()) throw new Error(`the group never spanned the nodes (${tag})`);
}

const jobs = (clients: { received: Received[] }[]) => clients.flatMap((c) => c.received.filter((m) => m.topic === 'work/job').map((m) => m.payload.toString()));

t.test('$share across two cluster nodes: each message, published on either node, reaches exactly one member cluster-wide, spread over both nodes', async (t) => {
  const { urlA, urlB } = await twoNodes(t);
  const onA = [await mqttClient(t, urlA, { clientId: 'a1', protocolVersion: 5 }), await mqttClient(t, urlA, { clientId: 'a2' })];
  const onB = [await mqttClient(t, urlB, { clientId: 'b1', protocolVersion: 5 })];
  for (const m of [...onA, ...onB]) await m.subscribeAsync('$share/g/work/#', { qos: 1 });
  const pubA = await mqttClient(t, urlA, { clientId: 'pub-a', protocolVersion: 5 });
  const pubB = await mqttClient(t, urlB, { clientId: 'pub-b' });
  await untilGroupSpans(pubA, onB, 'a');
  await untilGroupSpans(pubB, onA, 'b');

  const count = 30;
  for (let i = 0; i < count; i++) {
    await pubA.publishAsync('work/job', `A${i}`, { qos: 1 });
    await pubB.publishAsync('work/job', `B${i}`, { qos: 1 });
  }
  const members = [...onA, ...onB];
  await until(() => new Set(jobs(members)).size === 2 * count, 'every job at some member');
  // A tail published after: were any job delivered twice, the total would exceed the distinct count.
  for (let i = 0; i < 4; i++) await pubA.publishAsync('work/job', `tail${i}`, { qos: 1 });
  await until(() => new Set(jobs(members)).size === 2 * count + 4, 'the tail');
  const all = jobs(members);
  t.equal(all.length, 2 * count + 4, 'no job delivered twice');
  const perId = new Map<string, number>();
  for (const id of all) perId.set(id, (perId.get(id) ?? 0) + 1);
  t.ok([...perId.values()].every((n) => n === 1), 'each message id counted once');
  const fromA = (clients: Client[]) => jobs(clients).filter((id) => id.startsWith('A')).length;
  const fromB = (clients: Client[]) => jobs(clients).filter((id) => id.startsWith('B')).length;
  t.ok(fromA(onA) > 0 && fromA(onB) > 0, `published on a: ${fromA(onA)} on node a, ${fromA(onB)} on node b`);
  t.ok(fromB(onA) > 0 && fromB(onB) > 0, `published on b: ${fromB(onA)} on node a, ${fromB(onB)} on node b`);
  t.ok(jobs([onA[0]!]).length > 0 && jobs([onA[1]!]).length > 0, 'both members on node a get some');
  t.ok(members.every((c) => c.received.filter((m) => m.topic === 'work/job').every((m) => m.qos === 1 && !m.dup)), 'all at QoS 1, first delivery');
});

t.test('$share across two cluster nodes at QoS 0: each message reaches one member', async (t) => {
  const { urlA, urlB } = await twoNodes(t);
  const a1 = await mqttClient(t, urlA, { clientId: 'a1' });
  const b1 = await mqttClient(t, urlB, { clientId: 'b1' });
  for (const m of [a1, b1]) await m.subscribeAsync('$share/g/work/#', { qos: 0 });
  const pub = await mqttClient(t, urlA, { clientId: 'pub' });
  await untilGroupSpans(pub, [b1], 'a');
  const count = 20;
  for (let i = 0; i < count; i++) await pub.publishAsync('work/job', `J${i}`, { qos: 1 });
  await until(() => new Set(jobs([a1, b1])).size === count, 'every job at some member');
  await pub.publishAsync('work/job', 'tail', { qos: 1 });
  await until(() => jobs([a1, b1]).includes('tail'), 'the tail');
  t.equal(jobs([a1, b1]).length, count + 1, 'none twice');
  t.ok(jobs([a1]).length > 0 && jobs([b1]).length > 0, `spread: ${jobs([a1]).length} on a, ${jobs([b1]).length} on b`);
});

t.test('$share across two cluster nodes: what a member on the far node had not acknowledged when it left goes to a member on the publishing node, DUP=1', async (t) => {
  const { urlA, b } = await twoNodes(t);
  const worker = await mqttClient(t, urlA, { clientId: 'worker', protocolVersion: 5 });
  await worker.subscribeAsync('$share/pool/work/#', { qos: 1 });
  const silent = await silentSubscriber(t, b.mqttPort!, 'silent', '$share/pool/work/#');
  const pub = await mqttClient(t, urlA, { clientId: 'pub', protocolVersion: 5 });
  const atSilent = () => silent.packets.filter(isPublish).map((p) => p.payload.toString());
  for (let i = 0; atSilent().length === 0 && i < 300; i++) {
    await pub.publishAsync('work/warm', 'w', { qos: 1 });
    await until(() => atSilent().length > 0, 'a warm-up at the far member', 200).catch(() => undefined);
  }
  t.ok(atSilent().length > 0, 'the far member takes part');
  const count = 20;
  for (let i = 0; i < count; i++) await pub.publishAsync('work/job', `J${i}`, { qos: 1 });
  const heldBySilent = () => silent.packets.filter(isPublish).filter((p) => p.topic === 'work/job').map((p) => p.payload.toString());
  await until(() => heldBySilent().length + jobs([worker]).length === count, 'every job handed out');
  const unacked = heldBySilent();
  t.ok(unacked.length > 0, `the far member holds ${unacked.length} unacknowledged`);
  silent.destroy();
  await until(() => new Set(jobs([worker])).size === count, 'every job at the remaining worker');
  const redelivered = worker.received.filter((m) => m.topic === 'work/job' && unacked.includes(m.payload.toString()));
  t.equal(redelivered.length, unacked.length, 'none lost: the far member’s jobs went to the worker');
  t.ok(redelivered.every((m) => m.dup && m.qos === 1), 'with DUP=1 at QoS 1');
});

t.test('$share across two cluster nodes: with the only member away (stored session) on the far node, QoS 1 messages wait there for it', async (t) => {
  const { urlA, urlB } = await twoNodes(t);
  const opts = { clientId: 'away', protocolVersion: 5 as const, clean: false, properties: { sessionExpiryInterval: 3600 } };
  const member = await mqttClient(t, urlB, opts);
  await member.subscribeAsync('$share/pool/work/#', { qos: 1 });
  const pub = await mqttClient(t, urlA, { clientId: 'pub', protocolVersion: 5 });
  await untilGroupSpans(pub, [member], 'a');
  await member.endAsync();
  const count = 5;
  for (let i = 0; i < count; i++) await pub.publishAsync('work/job', `J${i}`, { qos: 1 });
  const back = await mqttClient(t, urlB, opts);
  await until(() => jobs([back]).length >= count, 'the jobs at the member once it is back');
  t.same(jobs([back]).sort(), Array.from({ length: count }, (_, i) => `J${i}`).sort(), 'every job, once');
});

t.test('$share across two cluster nodes: once the far node is gone, QoS 1 messages go to the members that are left', async (t) => {
  const { b, urlA, urlB } = await twoNodes(t);
  const a1 = await mqttClient(t, urlA, { clientId: 'a1', protocolVersion: 5 });
  const b1 = await mqttClient(t, urlB, { clientId: 'b1', protocolVersion: 5 });
  for (const m of [a1, b1]) await m.subscribeAsync('$share/g/work/#', { qos: 1 });
  const pub = await mqttClient(t, urlA, { clientId: 'pub', protocolVersion: 5 });
  await untilGroupSpans(pub, [b1], 'a');
  await b.close();
  const count = 10;
  for (let i = 0; i < count; i++) await pub.publishAsync('work/job', `J${i}`, { qos: 1 });
  await until(() => new Set(jobs([a1])).size === count, 'every job published after node b closed at the member on node a', 60_000);
  t.equal(jobs([b1]).length, 0, 'none went to the closed node');
});

t.test('$share across two cluster nodes: a member on the far node leaving mid-stream at QoS 1 loses no message', async (t) => {
  const { urlA, urlB } = await twoNodes(t);
  const a1 = await mqttClient(t, urlA, { clientId: 'a1', protocolVersion: 5 });
  const b1 = await mqttClient(t, urlB, { clientId: 'b1', protocolVersion: 5 });
  for (const m of [a1, b1]) await m.subscribeAsync('$share/g/work/#', { qos: 1 });
  const pub = await mqttClient(t, urlA, { clientId: 'pub', protocolVersion: 5 });
  await untilGroupSpans(pub, [b1], 'a');
  const count = 60;
  const published = Array.from({ length: count }, (_, i) => `J${i}`);
  for (const id of published.slice(0, count / 2)) await pub.publishAsync('work/job', id, { qos: 1 });
  await until(() => jobs([b1]).length > 0, 'some jobs at the far member');
  // The second half is on its way (not awaited) when the far member leaves.
  const secondHalf = published.slice(count / 2).map((id) => pub.publishAsync('work/job', id, { qos: 1 }));
  b1.end(true);
  await Promise.all(secondHalf);
  await until(() => published.every((id) => jobs([a1, b1]).includes(id)), 'every job at some member', 60_000);
  t.ok(jobs([b1]).length > 0, `the far member took ${jobs([b1]).length} before it left`);
  const seen = new Set<string>();
  const repeats = a1.received.filter((m) => m.topic === 'work/job').filter((m) => {
    const id = m.payload.toString();
    const again = seen.has(id) || jobs([b1]).includes(id);
    seen.add(id);
    return again;
  });
  t.ok(repeats.every((m) => m.dup), `a job the far member may have seen comes again only with DUP=1 (${repeats.length} did)`);
});
