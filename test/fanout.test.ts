import t, { type Test } from 'tap';
import { CloseCode, FrameKind, type MsgFrame } from '../src/index.js';
import { startTestBroker } from './helpers/broker.js';
import { RawClient } from './helpers/raw-client.js';

const topologies = [
  { name: 'flat', branching: 1, leafSize: 1_000_000 },
  { name: 'tree b2', branching: 2, leafSize: 2 },
  { name: 'tree b4', branching: 4, leafSize: 3 },
  { name: 'tree b16', branching: 16, leafSize: 16 },
];
const MESSAGES = 20;

async function connectFleet(url: string, size: number, prefix: string): Promise<RawClient[]> {
  const clients: RawClient[] = [];
  for (let start = 0; start < size; start += 100) {
    const batch = Array.from({ length: Math.min(100, size - start) }, (_, i) => RawClient.connect(url, `${prefix}-${start + i}`));
    clients.push(...(await Promise.all(batch)));
  }
  return clients;
}

/** Waits until `client` has `count` MSG frames on `stream`, and returns their payloads in arrival order. */
async function collect(client: RawClient, stream: string, count: number): Promise<string[]> {
  const got: string[] = [];
  for (let i = 0; i < count; i++) {
    const msg = (await client.waitFor((f) => f.kind === FrameKind.MSG && f.stream === stream, 20_000)) as MsgFrame;
    got.push(Buffer.from(msg.payload).toString());
  }
  return got;
}

for (const topology of topologies) {
  t.test(`${topology.name}: every subscriber gets every message once, in order, for every fleet size`, async (t) => {
    const broker = await startTestBroker(t, { fanout: { branching: topology.branching, leafSize: topology.leafSize } });
    const b = topology.branching;
    const sizes = [...new Set([0, 1, b, b + 1, b * b + 1, 1000])];
    const clients = await connectFleet(broker.url, 1000, 'fleet');
    t.teardown(() => clients.forEach((c) => c.close()));
    // Client i subscribes to the topic of every fleet size larger than i.
    await Promise.all(
      clients.map((c, i) => {
        const filters = sizes.filter((n) => i < n).map((n) => `size/${n}`);
        return c.request({ kind: FrameKind.SUB, seq: c.nextSeq(), filters });
      }),
    );
    const expected = Array.from({ length: MESSAGES }, (_, m) => `m${m}`);
    for (const n of sizes) {
      for (const payload of expected) t.equal(await broker.publish(`size/${n}`, payload), n);
      const received = await Promise.all(clients.slice(0, n).map((c) => collect(c, `size/${n}`, MESSAGES)));
      t.equal(received.filter((r) => JSON.stringify(r) === JSON.stringify(expected)).length, n, `fleet of ${n}: all in order`);
    }
    // Nothing extra arrived anywhere: no duplicates, no deliveries to non-subscribers.
    await broker.publish('size/1', 'fence');
    await collect(clients[0]!, 'size/1', 1);
    t.equal(clients.reduce((sum, c) => sum + c.frames.filter((f) => f.kind === FrameKind.MSG).length, 0), 0, 'no stray or duplicate deliveries');
  });
}

t.test('joins and leaves during a broadcast storm: stable subscribers miss nothing, churners see gapless runs', async (t) => {
  const broker = await startTestBroker(t, { fanout: { branching: 2, leafSize: 2 } });
  const stable = await connectFleet(broker.url, 30, 'stable');
  const churners = await connectFleet(broker.url, 30, 'churn');
  t.teardown(() => [...stable, ...churners].forEach((c) => c.close()));
  await Promise.all(stable.map((c) => c.request({ kind: FrameKind.SUB, seq: c.nextSeq(), filters: ['storm'] })));
  const TOTAL = 400;
  const publisher = (async () => {
    for (let i = 0; i < TOTAL; i++) {
      await broker.publish('storm', String(i));
      if (i % 10 === 0) await new Promise((r) => setImmediate(r));
    }
  })();
  const churning = (async () => {
    for (let round = 0; round < 6; round++) {
      await Promise.all(churners.map((c, i) => ((i + round) % 2 === 0 ? c.request({ kind: FrameKind.SUB, seq: c.nextSeq(), filters: ['storm'] }) : c.request({ kind: FrameKind.UNSUB, seq: c.nextSeq(), filters: ['storm'] }))));
    }
  })();
  await Promise.all([publisher, churning]);
  const expected = Array.from({ length: TOTAL }, (_, i) => String(i));
  const received = await Promise.all(stable.map((c) => collect(c, 'storm', TOTAL)));
  t.equal(received.filter((r) => JSON.stringify(r) === JSON.stringify(expected)).length, stable.length, 'stable subscribers got all, in order');
  await new Promise((r) => setTimeout(r, 200));
  let churnDeliveries = 0;
  for (const c of churners) {
    const got = c.frames.filter((f): f is MsgFrame => f.kind === FrameKind.MSG).map((f) => Number(Buffer.from(f.payload).toString()));
    churnDeliveries += got.length;
    t.ok(got.every((v, i) => i === 0 || v > got[i - 1]!), 'a churner never sees a duplicate or an older message after a newer one');
  }
  t.ok(churnDeliveries > 0, `churners received ${churnDeliveries} messages while subscribed`);
});

async function floodWithSlowConsumer(t: Test, limits: { maxBackpressureBytes: number; softBackpressureBytes: number }) {
  const broker = await startTestBroker(t, limits);
  const fast = await connectFleet(broker.url, 5, 'fast');
  const slow = await RawClient.connect(broker.url, 'slow');
  t.teardown(() => [...fast, slow].forEach((c) => c.close()));
  await Promise.all([...fast, slow].map((c) => c.request({ kind: FrameKind.SUB, seq: c.nextSeq(), filters: ['firehose'] })));
  // The slow device stops reading: its kernel buffers fill, then the broker's.
  (slow.ws as unknown as { _socket: { pause(): void } })._socket.pause();
  // Enough to overflow the loopback socket buffers of the paused client (several MB).
  const TOTAL = 1500;
  const payload = 'x'.repeat(16 * 1024);
  for (let i = 0; i < TOTAL; i++) {
    await broker.publish('firehose', `${i}:${payload}`);
    if (i % 20 === 0) await new Promise((r) => setImmediate(r));
  }
  const received = await Promise.all(fast.map((c) => collect(c, 'firehose', TOTAL)));
  t.ok(received.every((r) => r.length === TOTAL && r.every((p, i) => p.startsWith(`${i}:`))), 'every fast consumer got everything in order');
  return { broker, slow };
}

t.test('a slow consumer loses QoS 0 messages (counted) without holding up the others', async (t) => {
  const { broker, slow } = await floodWithSlowConsumer(t, { maxBackpressureBytes: 256 * 1024 * 1024, softBackpressureBytes: 64 * 1024 });
  const dropped = broker.device('slow')?.counters.dropped ?? 0;
  t.ok(dropped > 0, `${dropped} QoS 0 deliveries dropped for the slow consumer`);
  t.equal(slow.closeEvent, undefined, 'still connected');
});

t.test('a slow consumer over the hard limit is closed with SLOW_CONSUMER', async (t) => {
  const { broker, slow } = await floodWithSlowConsumer(t, { maxBackpressureBytes: 64 * 1024, softBackpressureBytes: 64 * 1024 });
  t.equal(broker.device('slow'), undefined, 'the broker let go of the slow consumer');
  // The close frame queues behind the data the client has not read; if the peer's window stays
  // shut, uWS may cut TCP first and the client sees an abnormal close instead.
  (slow.ws as unknown as { _socket: { resume(): void } })._socket.resume();
  t.match((await slow.closed(10_000)).code, new RegExp(`^(${CloseCode.SLOW_CONSUMER}|1006)$`));
});
