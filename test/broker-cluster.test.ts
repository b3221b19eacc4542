import t, { type Test } from 'tap';
import { HashRing } from '../src/cluster/index.js';
import { FrameKind, type Broker, type MsgFrame } from '../src/index.js';
import { freePort, startTestBroker } from './helpers/broker.js';
import { RawClient } from './helpers/raw-client.js';

const SECRET = 'cluster-secret-0123456789';

async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

interface Snapshot {
  nodes: string[];
  links: { from: string; to: string; cost: number }[];
  routes: Record<string, string>;
  spanningTree: { origin: string; edges: unknown[] };
}

const snapshot = async (b: Broker & { url: string }) => (await (await fetch(`http://127.0.0.1:${b.port}/cluster`)).json()) as Snapshot;

/** Starts brokers a, b, c, d linked as given (each pair listed once), with optional link delays. */
async function startCluster(t: Test, links: [string, string][], delays: Record<string, Record<string, number>> = {}) {
  const names = [...new Set(links.flat())].sort();
  const ports = Object.fromEntries(await Promise.all(names.map(async (n) => [n, await freePort()] as const)));
  const brokers: Record<string, Broker & { url: string }> = {};
  for (const name of names) {
    const peers = links.filter((l) => l.includes(name)).map((l) => (l[0] === name ? l[1] : l[0])).map((p) => `${p}@127.0.0.1:${ports[p]}`);
    brokers[name] = await startTestBroker(t, {
      nodeId: name,
      cluster: { host: '127.0.0.1', port: ports[name]!, secret: SECRET, peers, ...(delays[name] ? { linkDelays: delays[name] } : {}) },
    });
  }
  await until('every node to see every other', async () => (await Promise.all(names.map(async (n) => (await snapshot(brokers[n]!)).nodes.length))).every((count) => count === names.length));
  return brokers;
}

t.test('SEND reaches a device on another node; QoS 1 is acknowledged once stored there', async (t) => {
  const nodes = await startCluster(t, [['a', 'b'], ['b', 'c'], ['a', 'c']]);
  const target = await RawClient.connect(nodes.c!.url, 'truck-9');
  const sender = await RawClient.connect(nodes.a!.url, 'dispatch');
  t.teardown(() => [target, sender].forEach((c) => c.close()));
  await until('the location to reach the home', async () => {
    sender.send({ kind: FrameKind.SEND, seq: sender.nextSeq(), target: 'truck-9', payload: Buffer.from('probe') });
    return (await target.waitFor((f) => f.kind === FrameKind.MSG, 200).catch(() => undefined)) !== undefined;
  });
  const ok = await sender.request({ kind: FrameKind.SEND, seq: sender.nextSeq(), target: 'truck-9', payload: Buffer.from('load 42'), qos: 1, traceId: 'tr-x' });
  t.equal(ok.kind, FrameKind.OK);
  const msg = await target.waitFor((f) => f.kind === FrameKind.MSG && Buffer.from(f.payload).toString() === 'load 42');
  t.equal(msg.kind === FrameKind.MSG && msg.traceId, 'tr-x', 'the trace id crossed the cluster');
  t.same(msg.kind === FrameKind.MSG && msg.hops?.[0], 'a', 'the hops start at the origin node');
  t.same(msg.kind === FrameKind.MSG && msg.hops?.at(-1), 'c');
});

t.test('a stored message replayed after a reconnect still lists the nodes it crossed', async (t) => {
  const nodes = await startCluster(t, [['a', 'b']]);
  const target = await RawClient.connect(nodes.b!.url, 'replayed');
  const sender = await RawClient.connect(nodes.a!.url, 'origin');
  t.teardown(() => sender.close());
  await until('the location to reach the home', async () => {
    sender.send({ kind: FrameKind.SEND, seq: sender.nextSeq(), target: 'replayed', payload: Buffer.from('probe') });
    return (await target.waitFor((f) => f.kind === FrameKind.MSG, 200).catch(() => undefined)) !== undefined;
  });
  const ok = await sender.request({ kind: FrameKind.SEND, seq: sender.nextSeq(), target: 'replayed', payload: Buffer.from('keep'), qos: 1 });
  t.equal(ok.kind, FrameKind.OK);
  const live = (await target.waitFor((f) => f.kind === FrameKind.MSG && f.qos === 1, 10_000)) as MsgFrame;
  t.same(live.hops, ['a', 'b'], 'live delivery lists the hops');
  target.close(); // unacknowledged: it waits in b's store
  await target.closed();
  const back = await RawClient.connect(nodes.b!.url, 'replayed');
  t.teardown(() => back.close());
  const replayed = (await back.waitFor((f) => f.kind === FrameKind.MSG && f.qos === 1, 10_000)) as MsgFrame;
  t.equal(Buffer.from(replayed.payload).toString(), 'keep');
  t.same(replayed.hops, ['a', 'b'], 'the replay from the store lists them too');
});

t.test('a message handed on by the home node keeps the whole path', async (t) => {
  // A line, so that the path is the only one whatever the measured link costs.
  const nodes = await startCluster(t, [['a', 'b'], ['b', 'c']]);
  const ring = new HashRing(['a', 'b', 'c']);
  const deviceId = Array.from({ length: 200 }, (_, i) => `roamer-${i}`).find((d) => ring.locate(d) === 'b')!;
  const sender = await RawClient.connect(nodes.a!.url, 'dispatcher');
  t.teardown(() => sender.close());
  // Not connected anywhere: the message is stored at its home, b.
  const ok = await sender.request({ kind: FrameKind.SEND, seq: sender.nextSeq(), target: deviceId, payload: Buffer.from('parcel'), qos: 1 });
  t.equal(ok.kind, FrameKind.OK);
  // It connects to c; b hands the stored message on.
  const device = await RawClient.connect(nodes.c!.url, deviceId);
  t.teardown(() => device.close());
  const msg = (await device.waitFor((f) => f.kind === FrameKind.MSG, 20_000)) as MsgFrame;
  t.equal(Buffer.from(msg.payload).toString(), 'parcel');
  t.same(msg.hops, ['a', 'b', 'c']);
});

t.test('a publish reaches subscribers on every node exactly once', async (t) => {
  const nodes = await startCluster(t, [['a', 'b'], ['b', 'c'], ['a', 'c']]);
  const subs = await Promise.all(['a', 'b', 'c'].map((n) => RawClient.connect(nodes[n]!.url, `sub-${n}`)));
  t.teardown(() => subs.forEach((c) => c.close()));
  await Promise.all(subs.map((c) => c.request({ kind: FrameKind.SUB, seq: 1, filters: ['fleet/#'] })));
  await nodes.b!.publish('fleet/news', 'hello all');
  for (const c of subs) t.equal(Buffer.from((await c.next(FrameKind.MSG)).payload).toString(), 'hello all');
  await new Promise((r) => setTimeout(r, 300));
  t.equal(subs.reduce((n, c) => n + c.frames.filter((f) => f.kind === FrameKind.MSG).length, 0), 0, 'no duplicates');
});

t.test('point-to-point follows the Dijkstra path, not the slow direct link', async (t) => {
  // a–d is direct but slow (200 ms each way); a–b–d is fast.
  const nodes = await startCluster(t, [['a', 'b'], ['b', 'd'], ['a', 'd']], { a: { d: 200 }, d: { a: 200 } });
  await until('the slow link to be measured and routes to settle', async () => {
    const view = await snapshot(nodes.a!);
    return view.routes.d === 'b' && view.links.some((l) => l.from === 'a' && l.to === 'd');
  });
  const target = await RawClient.connect(nodes.d!.url, 'far-device');
  t.teardown(() => target.close());
  await until('the device to be reachable', async () => {
    await nodes.a!.send('far-device', 'probe');
    return (await target.waitFor((f) => f.kind === FrameKind.MSG, 300).catch(() => undefined)) !== undefined;
  });
  await nodes.a!.send('far-device', 'routed', { qos: 1 });
  const msg = await target.waitFor((f) => f.kind === FrameKind.MSG && Buffer.from(f.payload).toString() === 'routed');
  t.same(msg.kind === FrameKind.MSG && msg.hops, ['a', 'b', 'd'], 'the recorded hops are the shortest path');
  const view = await snapshot(nodes.a!);
  t.comment(`links seen from a: ${JSON.stringify(view.links)}`);
  const direct = view.links.find((l) => l.from === 'a' && l.to === 'd');
  const viaB = view.links.filter((l) => (l.from === 'a' && l.to === 'b') || (l.from === 'b' && l.to === 'd')).reduce((sum, l) => sum + l.cost, 0);
  t.ok(direct && direct.cost > viaB, 'GET /cluster shows the slow link costing more than the two-hop path');
  t.equal(view.spanningTree.origin, 'a');
});

t.test('a node with the wrong cluster secret is not admitted', async (t) => {
  const nodes = await startCluster(t, [['a', 'b']]);
  const port = await freePort();
  const intruder = await startTestBroker(t, {
    nodeId: 'evil',
    cluster: { host: '127.0.0.1', port, secret: 'not-the-cluster-secret', peers: [`a@127.0.0.1:${nodes.a!.options.cluster!.port}`] },
  }).catch(() => undefined);
  await new Promise((r) => setTimeout(r, 1500));
  t.notOk((await snapshot(nodes.a!)).nodes.includes('evil'), 'the intruder never joins the graph');
  await intruder?.close();
});
