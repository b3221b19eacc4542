import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { FrameKind, type Frame } from '../src/index.js';
import { EtcdServer } from '../kit/etcd-server.js';
import { startBrokerProcess, type BrokerProcess } from '../kit/broker-process.js';
import { freePort } from './helpers/broker.js';
import { sendQos1, until } from './helpers/frozen-home.js';
import { deviceHomedOn } from './helpers/homes.js';
import { RawClient } from './helpers/raw-client.js';

// Three cold broker processes on a shared 2-core machine: slow to start.
t.setTimeout(600_000);

const SECRET = 'etcd-reroute-secret-0123456789';
const MESSAGES = 150;
const IN_FLIGHT = 8;
/** b dies once this many SENDs were acknowledged: mid-stream. */
const KILL_AFTER = 40;
/** a's frames to c wait this long: the direct link costs more than the path through b. */
const SLOW_LINK_MS = 250;
const WAIT_MS = 120_000;

interface View {
  nodes: { nodeId: string; live: boolean }[];
  routes: Record<string, string>;
}

type Node = BrokerProcess & { port: number };

const view = async (n: Node): Promise<View> => (await (await fetch(`http://127.0.0.1:${n.port}/cluster`)).json()) as View;
const live = async (n: Node): Promise<string> => (await view(n)).nodes.filter((x) => x.live).map((x) => x.nodeId).sort().join();

/** `relaymesh start` in its own process, finding the others only through etcd. */
async function startNode(nodeId: string, endpoint: string, prefix: string, configFile?: string): Promise<Node> {
  const port = await freePort();
  const node = await startBrokerProcess(port, mkdtempSync(join(tmpdir(), `relaymesh-reroute-${nodeId}-`)), [
    '--node-id', nodeId, '--cluster-host', '127.0.0.1', '--cluster-port', String(await freePort()), '--cluster-secret', SECRET,
    '--discovery', 'etcd', '--etcd-endpoints', endpoint, '--etcd-prefix', prefix, '--etcd-lease-ttl', '2',
    ...(configFile ? ['--config', configFile] : []),
  ], 180_000);
  return Object.assign(node, { port });
}

t.test('nodes joined through etcd: a node on the path killed with SIGKILL mid-stream, QoS 1 SENDs rerouted, none lost', async (t) => {
  const etcd = await EtcdServer.start();
  t.teardown(() => etcd.destroy());
  const prefix = `/relaymesh-reroute/${process.pid}`;
  const config = join(mkdtempSync(join(tmpdir(), 'relaymesh-reroute-config-')), 'a.json');
  writeFileSync(config, JSON.stringify({ cluster: { linkDelays: { c: SLOW_LINK_MS } } }));
  const [a, b, c] = await Promise.all([startNode('a', etcd.endpoint, prefix, config), startNode('b', etcd.endpoint, prefix), startNode('c', etcd.endpoint, prefix)]);
  t.teardown(() => [a, b, c].forEach((n) => n.child.kill('SIGKILL')));
  await until('a, b and c to see each other', async () => (await Promise.all([a, b, c].map(live))).every((l) => l === 'a,b,c'), WAIT_MS);
  await until('a to route to c through b (its direct link is slow)', async () => (await view(a)).routes.c === 'b', WAIT_MS);

  // The target's home is c, whoever leaves: only the path changes.
  const target = deviceHomedOn(['a', 'b', 'c'], 'c', 'a', 'meter');
  const device = await RawClient.connect(c.url, target);
  const sender = await RawClient.connect(a.url, 'dispatch');
  t.teardown(() => [device, sender].forEach((x) => x.close()));
  const received = new Map<string, number>();
  let read = 0;
  const collect = (): void => {
    for (; read < device.frames.length; read++) {
      const f = device.frames[read]!;
      if (f.kind !== FrameKind.MSG) continue;
      const text = Buffer.from(f.payload).toString();
      received.set(text, (received.get(text) ?? 0) + 1);
      if (f.qos === 1) device.send({ kind: FrameKind.ACK, seq: device.nextSeq(), stream: f.stream, offset: f.offset });
    }
  };
  const collector = setInterval(collect, 20);
  t.teardown(() => clearInterval(collector));

  const answers = new Map<string, Frame>();
  let next = 0;
  let killed = false;
  const lane = async (): Promise<void> => {
    while (next < MESSAGES) {
      const text = `reading-${next++}`;
      answers.set(text, await sendQos1(sender, target, text));
      if (!killed && [...answers.values()].filter((f) => f.kind === FrameKind.OK).length >= KILL_AFTER) {
        killed = true;
        b.child.kill('SIGKILL');
      }
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, lane));
  t.ok(killed, 'b was killed mid-stream');
  await b.exited;

  await until('b to leave the graph and routes of a and c', async () => {
    const views = await Promise.all([a, c].map(view));
    return views.every((v) => v.nodes.every((n) => n.nodeId !== 'b' || !n.live) && !('b' in v.routes));
  }, WAIT_MS);
  t.equal((await view(a)).routes.c, 'c', 'a routes to c over the direct link now');
  const metrics = await (await fetch(`http://127.0.0.1:${a.port}/metrics`)).text();
  const forwardedTo = (hop: string): number => Number(metrics.split('\n').find((l) => l.startsWith(`relaymesh_cluster_forwarded_total{next_hop="${hop}"} `))?.split(' ')[1] ?? 0);
  t.ok(forwardedTo('b') > 0 && forwardedTo('c') > 0, 'the stream went through b, then straight to c');

  const acked = [...answers].filter(([, f]) => f.kind === FrameKind.OK).map(([text]) => text);
  const late = [...answers].filter(([, f]) => f.kind === FrameKind.ERROR).map(([text]) => text);
  t.equal(acked.length + late.length, MESSAGES, 'every SEND was answered');
  for (const [, f] of answers) if (f.kind === FrameKind.ERROR) t.equal(f.code, 501, 'the only error is the retriable UNAVAILABLE');
  await until('every acknowledged SEND to reach the device', () => acked.every((text) => received.has(text)), WAIT_MS);
  // UNAVAILABLE promises the message is kept and still delivered.
  await until('every SEND answered UNAVAILABLE to reach the device too', () => late.every((text) => received.has(text)), WAIT_MS);
  const duplicates = [...received].filter(([, n]) => n > 1).map(([text]) => text);
  t.same([...received.keys()].filter((text) => !answers.has(text)), [], 'nothing the sender did not send');
  t.comment(`${acked.length} OK, ${late.length} UNAVAILABLE, ${duplicates.length} delivered more than once (told apart by payload id)`);
});
