import t from 'tap';
import fc from 'fast-check';
import { FrameKind, TopicTrie, topicMatches } from '../src/index.js';
import { startTestBroker } from './helpers/broker.js';
import { RawClient } from './helpers/raw-client.js';

const text = (bytes: Uint8Array) => Buffer.from(bytes).toString();

t.test('MQTT-style filters: + matches one level, # the rest', async (t) => {
  const cases: [string, string, boolean][] = [
    ['a/b', 'a/b', true],
    ['a/+', 'a/b', true],
    ['a/+', 'a/b/c', false],
    ['a/#', 'a', true],
    ['a/#', 'a/b/c', true],
    ['#', 'x/y', true],
    ['+/+/c', 'a/b/c', true],
    ['+', 'a/b', false],
    ['a/b', 'a/c', false],
  ];
  for (const [filter, topic, expected] of cases) t.equal(topicMatches(filter, topic), expected, `${filter} vs ${topic}`);
});

t.test('the subscription trie agrees with topicMatches on random filters and topics', async (t) => {
  const level = fc.constantFrom('a', 'b', 'c');
  const topic = fc.array(level, { minLength: 1, maxLength: 4 }).map((l) => l.join('/'));
  const filter = fc
    .tuple(fc.array(fc.constantFrom('a', 'b', '+'), { minLength: 0, maxLength: 3 }), fc.constantFrom('', '/#', '/c', '/+'))
    .map(([levels, tail]) => (levels.join('/') + tail).replace(/^\//, '') || '#');
  fc.assert(
    fc.property(fc.uniqueArray(filter, { maxLength: 6 }), topic, (filters, name) => {
      const trie = new TopicTrie<string>();
      for (const f of filters) trie.add(f, f);
      const matched = [...trie.match(name)].sort();
      const expected = filters.filter((f) => topicMatches(f, name)).sort();
      return JSON.stringify(matched) === JSON.stringify(expected);
    }),
    { numRuns: 500 },
  );
  t.pass('trie matches the reference on 500 random cases');
});

t.test('publish reaches wildcard and exact subscribers once each, not others', async (t) => {
  const broker = await startTestBroker(t);
  const exact = await RawClient.connect(broker.url, 'exact');
  const plus = await RawClient.connect(broker.url, 'plus');
  const hash = await RawClient.connect(broker.url, 'hash');
  const other = await RawClient.connect(broker.url, 'other');
  const publisher = await RawClient.connect(broker.url, 'publisher');
  await exact.request({ kind: FrameKind.SUB, seq: 1, filters: ['fleet/car-1/speed'] });
  await plus.request({ kind: FrameKind.SUB, seq: 1, filters: ['fleet/+/speed'] });
  // Two overlapping filters: the message still arrives once.
  await hash.request({ kind: FrameKind.SUB, seq: 1, filters: ['fleet/#', 'fleet/car-1/#'] });
  await other.request({ kind: FrameKind.SUB, seq: 1, filters: ['fleet/+/gps'] });
  publisher.send({ kind: FrameKind.PUB, seq: 1, topic: 'fleet/car-1/speed', payload: Buffer.from('88'), traceId: 'tr-1' });
  for (const c of [exact, plus, hash]) {
    const msg = await c.next(FrameKind.MSG);
    t.equal(msg.stream, 'fleet/car-1/speed');
    t.equal(text(msg.payload), '88');
    t.equal(msg.traceId, 'tr-1');
    t.equal(msg.from, 'publisher');
  }
  publisher.send({ kind: FrameKind.PING, seq: 2 });
  await publisher.next(FrameKind.PONG);
  await new Promise((r) => setTimeout(r, 100));
  t.equal(hash.frames.filter((f) => f.kind === FrameKind.MSG).length, 0, 'no duplicate for overlapping filters');
  t.equal(other.frames.filter((f) => f.kind === FrameKind.MSG).length, 0, 'non-matching subscriber got nothing');
  for (const c of [exact, plus, hash, other, publisher]) c.close();
});

t.test('unsubscribe stops delivery', async (t) => {
  const broker = await startTestBroker(t);
  const sub = await RawClient.connect(broker.url, 'sub');
  await sub.request({ kind: FrameKind.SUB, seq: 1, filters: ['t/#'] });
  await broker.publish('t/1', 'one');
  t.equal(text((await sub.next(FrameKind.MSG)).payload), 'one');
  await sub.request({ kind: FrameKind.UNSUB, seq: 2, filters: ['t/#'] });
  t.same(broker.device('sub')?.subscriptions, []);
  await broker.publish('t/1', 'two');
  await sub.request({ kind: FrameKind.SUB, seq: 3, filters: ['u'] });
  await broker.publish('u', 'three');
  t.equal(text((await sub.next(FrameKind.MSG)).payload), 'three', 'the message on t/1 after UNSUB never came');
  sub.close();
});

t.test('messages from one publisher arrive in publish order', async (t) => {
  const broker = await startTestBroker(t);
  const sub = await RawClient.connect(broker.url, 'sub');
  const pub = await RawClient.connect(broker.url, 'pub');
  await sub.request({ kind: FrameKind.SUB, seq: 1, filters: ['seq'] });
  for (let i = 0; i < 200; i++) pub.send({ kind: FrameKind.PUB, seq: i + 1, topic: 'seq', payload: Buffer.from(String(i)) });
  const got: number[] = [];
  for (let i = 0; i < 200; i++) got.push(Number(text((await sub.next(FrameKind.MSG)).payload)));
  t.same(got, Array.from({ length: 200 }, (_, i) => i));
  sub.close();
  pub.close();
});

t.test('publishes sent just before a client closes its connection are all delivered', async (t) => {
  const broker = await startTestBroker(t);
  const subscriber = await RawClient.connect(broker.url, 'backend');
  await subscriber.request({ kind: FrameKind.SUB, seq: 1, filters: ['fleet/+/telemetry'], qos: 0 });
  const PUBLISHERS = 20;
  const EACH = 10;
  const publishers = await Promise.all(Array.from({ length: PUBLISHERS }, (_, i) => RawClient.connect(broker.url, `vehicle-${i}`)));
  publishers.forEach((p, i) => {
    // The PUBs and the close frame leave in one write: the broker reads them in one turn.
    for (let n = 1; n <= EACH; n++) p.send({ kind: FrameKind.PUB, seq: n, topic: `fleet/vehicle-${i}/telemetry`, payload: Buffer.from(`${i}:${n}`), qos: 0 });
    p.close();
  });
  const got = new Set<string>();
  while (got.size < PUBLISHERS * EACH) got.add(text((await subscriber.next(FrameKind.MSG, 30_000)).payload));
  t.equal(got.size, PUBLISHERS * EACH, 'every publish arrived');
  subscriber.close();
});
