import { Etcd3 } from 'etcd3';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { FrameKind, type Broker } from '../src/index.js';
import { startBrokerProcess } from '../kit/broker-process.js';
import { freePort, startTestBroker } from './helpers/broker.js';
import { EtcdServer } from '../kit/etcd-server.js';
import { RawClient } from './helpers/raw-client.js';
import { until } from './helpers/until.js';

const SECRET = 'etcd-cluster-secret-0123456789';
/** Short leases keep the tests quick; etcd itself rounds a TTL up to its minimum. */
const TTL_SECONDS = 2;

let etcd: EtcdServer;
let prefixes = 0;

t.before(async () => {
  etcd = await EtcdServer.start();
});
t.teardown(() => etcd.destroy());

/** A fresh key prefix per test: the tests share one etcd. */
const newPrefix = () => `/relaymesh-test/${process.pid}-${++prefixes}`;

type TestBroker = Broker & { url: string };

async function startNode(t: Test, nodeId: string, prefix: string, endpoint = etcd.endpoint): Promise<TestBroker> {
  return startTestBroker(t, {
    nodeId,
    cluster: { host: '127.0.0.1', port: await freePort(), secret: SECRET, etcd: { endpoints: [endpoint], prefix, leaseTtlSeconds: TTL_SECONDS } },
  });
}

interface View {
  nodes: { nodeId: string; live: boolean }[];
  routes: Record<string, string>;
}

const view = async (b: TestBroker): Promise<View> => (await (await fetch(`http://127.0.0.1:${b.port}/cluster`)).json()) as View;
const liveNodes = async (b: TestBroker) => (await view(b)).nodes.filter((n) => n.live).map((n) => n.nodeId).join();
const readyz = async (b: TestBroker) => (await fetch(`http://127.0.0.1:${b.port}/readyz`)).status;

/** The node ids registered under `prefix`, read straight from etcd. */
async function registered(prefix: string): Promise<string[]> {
  const client = new Etcd3({ hosts: etcd.endpoint });
  try {
    const keys = await client.getAll().prefix(`${prefix}/nodes/`).keys();
    return keys.map((k) => k.slice(`${prefix}/nodes/`.length)).sort();
  } finally {
    client.close();
  }
}

t.test('3 then 5 nodes given only etcd find each other and are ready', async (t) => {
  const prefix = newPrefix();
  const nodes = [await startNode(t, 'a', prefix), await startNode(t, 'b', prefix), await startNode(t, 'c', prefix)];
  await until('every node to see a, b and c', async () => (await Promise.all(nodes.map(liveNodes))).every((live) => live === 'a,b,c'));
  t.same(await registered(prefix), ['a', 'b', 'c']);
  for (const node of nodes) t.equal(await readyz(node), 200);
  t.same(Object.keys((await view(nodes[0]!)).routes).sort(), ['b', 'c']);

  nodes.push(await startNode(t, 'd', prefix), await startNode(t, 'e', prefix));
  await until('d and e to appear in every graph', async () => (await Promise.all(nodes.map(liveNodes))).every((live) => live === 'a,b,c,d,e'));
  t.same(await registered(prefix), ['a', 'b', 'c', 'd', 'e']);
  t.same(Object.keys((await view(nodes[0]!)).routes).sort(), ['b', 'c', 'd', 'e']);
});

t.test('a SIGKILLed node leaves etcd when its lease lapses and leaves every graph', async (t) => {
  const prefix = newPrefix();
  const a = await startNode(t, 'a', prefix);
  const b = await startNode(t, 'b', prefix);
  const port = await freePort();
  const clusterPort = await freePort();
  const c = await startBrokerProcess(port, mkdtempSync(join(tmpdir(), 'relaymesh-etcd-node-')), [
    '--node-id', 'c', '--cluster-port', String(clusterPort), '--cluster-secret', SECRET,
    '--discovery', 'etcd', '--etcd-endpoints', etcd.endpoint, '--etcd-prefix', prefix, '--etcd-lease-ttl', String(TTL_SECONDS),
  ], 90_000); // a cold process loads the broker and the gRPC client: slow on a busy 2-core machine
  t.teardown(() => c.child.kill('SIGKILL'));
  await until('a, b and c to see each other', async () => (await Promise.all([a, b].map(liveNodes))).every((live) => live === 'a,b,c'));
  t.same(await registered(prefix), ['a', 'b', 'c']);

  c.child.kill('SIGKILL');
  await c.exited;
  await until("c's lease to lapse", async () => (await registered(prefix)).join() === 'a,b');
  await until('c to leave the graphs and routes of a and b', async () => {
    const views = await Promise.all([a, b].map(view));
    return views.every((v) => v.nodes.every((n) => n.nodeId !== 'c' || !n.live) && !('c' in v.routes));
  });
  t.equal((await view(a)).routes.b, 'b', 'a still routes to b');
});

t.test('a gracefully stopped node is deregistered at once', async (t) => {
  const prefix = newPrefix();
  const a = await startNode(t, 'a', prefix);
  const b = await startNode(t, 'b', prefix);
  await until('a and b to link', async () => (await liveNodes(a)) === 'a,b');
  await b.close();
  // No waiting for a TTL: the lease was revoked before close resolved.
  t.same(await registered(prefix), ['a']);
  await until('b to leave the graph of a', async () => (await liveNodes(a)) === 'a');
});

t.test('with etcd down the cluster keeps routing; after its restart nodes re-register once', async (t) => {
  const prefix = newPrefix();
  const a = await startNode(t, 'a', prefix);
  const b = await startNode(t, 'b', prefix);
  const c = await startNode(t, 'c', prefix);
  await until('a, b and c to link', async () => (await Promise.all([a, b, c].map(liveNodes))).every((live) => live === 'a,b,c'));
  const target = await RawClient.connect(c.url, 'truck-7');
  const sender = await RawClient.connect(a.url, 'dispatch');
  t.teardown(() => [target, sender].forEach((client) => client.close()));

  await etcd.stop();
  t.teardown(async () => {
    if (!etcd.running) await etcd.start();
  });
  // Outlive every lease: the etcd client gives a lease up after twice its TTL without renewal.
  await new Promise((r) => setTimeout(r, 3 * TTL_SECONDS * 1000));
  for (const node of [a, b, c]) {
    t.equal(await liveNodes(node), 'a,b,c', 'peers kept while etcd is down');
    t.equal(await readyz(node), 200, 'a node that joined stays ready');
  }
  await until('the SEND to reach truck-7 on c', async () => {
    const reply = await sender.request({ kind: FrameKind.SEND, seq: sender.nextSeq(), target: 'truck-7', payload: Buffer.from('still routing'), qos: 1 });
    if (reply.kind !== FrameKind.OK) return false;
    return (await target.waitFor((f) => f.kind === FrameKind.MSG && Buffer.from(f.payload).toString() === 'still routing', 2000).catch(() => undefined)) !== undefined;
  });

  await etcd.start();
  await until('every node to re-register', async () => (await registered(prefix)).join() === 'a,b,c');
  t.equal(await liveNodes(a), 'a,b,c');
});

t.test('a node that cannot reach etcd starts not ready and joins once etcd is up', async (t) => {
  const late = await EtcdServer.start();
  t.teardown(() => late.destroy());
  await late.stop();
  const prefix = newPrefix();
  const a = await startNode(t, 'a', prefix, late.endpoint);
  const body = (await (await fetch(`http://127.0.0.1:${a.port}/readyz`)).json()) as { ready: boolean; checks: Record<string, boolean> };
  t.equal(body.ready, false);
  t.equal(body.checks.clusterJoined, false);
  await late.start();
  await until('a to register and become ready', async () => (await readyz(a)) === 200);
});
