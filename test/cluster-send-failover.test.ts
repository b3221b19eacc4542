import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { ErrorCode, FrameKind, type BrokerOptions, type Frame } from '../src/index.js';
import { startBrokerChild, type BrokerChild } from './helpers/broker-child.js';
import { freePort, startTestBroker } from './helpers/broker.js';
import { deviceHomedOn } from './helpers/homes.js';
import { RawClient } from './helpers/raw-client.js';

/**
 * A QoS 1 SEND whose destination node dies: the sender gets a retriable ERROR in bounded time, the
 * origin picks the destination again, and the message survives a restart of the origin too.
 *
 * Node b is frozen (SIGSTOP) while the SEND is on its way, then killed. Links here never time out
 * on silence, so the frozen b stays a live node — the home of the target device — until it is
 * killed and its sockets close; look-ups and hops time out after 500 ms, senders after 200 ms.
 */

const SECRET = 'cluster-secret-0123456789';
const NEVER = 600_000;
const NODES = ['a', 'b', 'c'];
const TIMING = { linkTimeoutMs: NEVER, nodeTimeoutMs: NEVER, ackTimeoutMs: 500, forwardTimeoutMs: 200 };

async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const clusterView = async (port: number) => (await (await fetch(`http://127.0.0.1:${port}/cluster`)).json()) as { nodes: unknown[]; queued: number };

/** Ports and options of a three-node cluster; each node is started in or out of this process by the test. */
async function plan() {
  const clusterPorts = Object.fromEntries(await Promise.all(NODES.map(async (n) => [n, await freePort()] as const)));
  const options = (n: string, extra: BrokerOptions = {}): BrokerOptions => ({
    nodeId: n,
    host: '127.0.0.1',
    anonymous: true,
    logLevel: 'silent',
    dataDir: mkdtempSync(join(tmpdir(), `relaymesh-${n}-`)),
    cluster: {
      host: '127.0.0.1',
      port: clusterPorts[n]!,
      secret: SECRET,
      peers: NODES.filter((m) => m !== n).map((m) => `${m}@127.0.0.1:${clusterPorts[m]}`),
      ...TIMING,
    },
    ...extra,
  });
  return { options, target: deviceHomedOn(NODES, 'b', 'c', 'truck') };
}

async function child(t: Test, options: BrokerOptions): Promise<BrokerChild> {
  const node = await startBrokerChild({ ...options, port: options.port ?? (await freePort()) });
  t.teardown(() => node.child.kill('SIGKILL'));
  return node;
}

const joined = (ports: number[]) => until('every node to see the other two', async () => (await Promise.all(ports.map(clusterView))).every((v) => v.nodes.length === 3));

/** Sends a QoS 1 SEND and waits for its OK or ERROR. */
async function sendQos1(sender: RawClient, target: string, text: string): Promise<Frame> {
  const seq = sender.nextSeq();
  sender.send({ kind: FrameKind.SEND, seq, target, payload: Buffer.from(text), qos: 1 });
  return sender.waitFor((f) => (f.kind === FrameKind.OK || f.kind === FrameKind.ERROR) && f.ref === seq, 30_000);
}

const received = (device: RawClient, text: string) =>
  device.waitFor((f) => f.kind === FrameKind.MSG && Buffer.from(f.payload).toString() === text, 30_000);

t.test('a QoS 1 SEND whose destination node dies gets a retriable ERROR, then reaches the device through the next destination', async (t) => {
  const { options, target } = await plan();
  const b = await child(t, options('b'));
  const a = await startTestBroker(t, options('a'));
  const c = await startTestBroker(t, options('c'));
  await joined([a.port, b.port, c.port]);
  const device = await RawClient.connect(c.url, target);
  const sender = await RawClient.connect(a.url, 'dispatch');
  t.teardown(() => [device, sender].forEach((x) => x.close()));

  b.child.kill('SIGSTOP');
  const answer = await sendQos1(sender, target, 'load 7');
  t.match(answer, { kind: FrameKind.ERROR, code: ErrorCode.UNAVAILABLE }, 'ERROR 501: not stored yet, retriable');
  await until('a to hold the message for b, the home of the device', async () => (await clusterView(a.port)).queued >= 1);

  b.child.kill('SIGKILL');
  await b.exited;
  t.ok(await received(device, 'load 7'), 'b left the graph: a picked another destination and the device got the message');
  t.equal((await clusterView(a.port)).queued, 0, 'nothing waits for b any more');
});

t.test('a QoS 1 SEND not yet handed on when its origin node is killed is delivered after the origin restarts', async (t) => {
  const { options, target } = await plan();
  const originOptions = options('a', { port: await freePort() });
  let a = await child(t, originOptions);
  const b = await child(t, options('b'));
  const c = await startTestBroker(t, options('c'));
  await joined([a.port, b.port, c.port]);
  const device = await RawClient.connect(c.url, target);
  const sender = await RawClient.connect(a.url, 'dispatch');
  t.teardown(() => [device, sender].forEach((x) => x.close()));

  b.child.kill('SIGSTOP');
  t.match(await sendQos1(sender, target, 'load 8'), { kind: FrameKind.ERROR, code: ErrorCode.UNAVAILABLE }, 'accepted, journalled, not stored at a destination yet');
  a.child.kill('SIGKILL');
  b.child.kill('SIGKILL');
  await Promise.all([a.exited, b.exited]);

  a = await child(t, originOptions);
  t.ok(await received(device, 'load 8'), 'the restarted origin handed it on from its forward journal');
});
