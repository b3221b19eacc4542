import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Test } from 'tap';
import { FrameKind, type BrokerOptions, type Frame } from '../../src/index.js';
import { startBrokerChild, type BrokerChild } from './broker-child.js';
import { freePort } from './broker.js';
import { deviceHomedOn } from './homes.js';
import { RawClient } from './raw-client.js';

/**
 * A three-node cluster (a, b, c) for SENDs whose destination node dies. The target device's home
 * is b (c once b has left). Links never time out on silence, so a b frozen with SIGSTOP stays a
 * live node until it is killed and its sockets close; look-ups and hops time out after 500 ms,
 * senders get their retriable ERROR after 200 ms.
 */
export const NODES = ['a', 'b', 'c'];
const SECRET = 'cluster-secret-0123456789';
const NEVER = 600_000;
const TIMING = { linkTimeoutMs: NEVER, nodeTimeoutMs: NEVER, ackTimeoutMs: 500, forwardTimeoutMs: 200 };

export async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export const clusterView = async (port: number) => (await (await fetch(`http://127.0.0.1:${port}/cluster`)).json()) as { nodes: unknown[]; queued: number };

/** Cluster ports and per-node broker options; each node is started in or out of this process by the test. */
export async function planFrozenHomeCluster() {
  const clusterPorts = Object.fromEntries(await Promise.all(NODES.map(async (n) => [n, await freePort()] as const)));
  const options = async (n: string): Promise<BrokerOptions> => ({
    nodeId: n,
    host: '127.0.0.1',
    port: await freePort(),
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
  });
  return { options, target: deviceHomedOn(NODES, 'b', 'c', 'truck') };
}

/** A node in its own process, killed when the test ends. */
export async function childNode(t: Test, options: BrokerOptions): Promise<BrokerChild> {
  const node = await startBrokerChild(options);
  t.teardown(() => node.child.kill('SIGKILL'));
  return node;
}

/** Waits until a, b and c see each other, then connects the target device to c and a sender to a. */
export async function joinAndConnect(t: Test, nodes: Record<'a' | 'b' | 'c', { port: number; url: string }>, target: string) {
  const all = [nodes.a, nodes.b, nodes.c];
  await until('every node to see the other two', async () => (await Promise.all(all.map((n) => clusterView(n.port)))).every((v) => v.nodes.length === NODES.length));
  const device = await RawClient.connect(nodes.c.url, target);
  const sender = await RawClient.connect(nodes.a.url, 'dispatch');
  t.teardown(() => [device, sender].forEach((x) => x.close()));
  return { device, sender };
}

/** Sends a QoS 1 SEND and waits for its OK or ERROR. */
export async function sendQos1(sender: RawClient, target: string, text: string): Promise<Frame> {
  const seq = sender.nextSeq();
  sender.send({ kind: FrameKind.SEND, seq, target, payload: Buffer.from(text), qos: 1 });
  return sender.waitFor((f) => (f.kind === FrameKind.OK || f.kind === FrameKind.ERROR) && f.ref === seq, 60_000);
}

export const received = (device: RawClient, text: string) =>
  device.waitFor((f) => f.kind === FrameKind.MSG && Buffer.from(f.payload).toString() === text, 60_000);
