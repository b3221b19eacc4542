import { pino } from 'pino';
import t from 'tap';
import { ClusterError, LocalCluster, waitFor, type ClusterMessage } from '../src/cluster/index.js';

/**
 *   a ──── b          a–d is slow (25 ms added at each end: RTT ≥ 50 ms), a–c (≥ 8 ms)
 *   │ ╲    │          and c–d (≥ 24 ms) are dearer than a–b–d but together cheaper than a–d:
 *   c ─── d           the cheapest way from a to d is a → b → d.
 */
const DIAMOND = { nodes: ['a', 'b', 'c', 'd'], links: ['a-b', 'b-d', 'a-d', 'a-c', 'c-d'], delays: { 'a-d': 25, 'a-c': 4, 'c-d': 12 } };

type Handler = (m: ClusterMessage<string>) => void | Promise<void>;
const received: Record<string, ClusterMessage<string>[]> = {};
let handler: Handler = () => undefined;
const forwarded: string[] = [];

const cluster = await LocalCluster.start<string>(DIAMOND, {
  log: pino({ level: 'silent' }),
  handlers: (id) => ({
    onMessage: (m) => {
      (received[id] ??= []).push(m);
      return handler(m);
    },
    onForwarded: (msgId) => void forwarded.push(msgId),
  }),
});
t.teardown(() => cluster.close());
await cluster.waitConverged(10_000);
const a = cluster.node('a');
// Costs are EWMA-smoothed: give the first samples (taken while everything was starting) time to fade.
await waitFor(() => a.nextHop('d') === 'b' && a.nextHop('c') === 'c', 60_000, 'the measured costs to settle');

t.beforeEach(() => {
  for (const k of Object.keys(received)) delete received[k];
  handler = () => undefined;
  forwarded.length = 0;
});

t.test('the cheapest path a → b → d wins over the slower direct a–d link', async (t) => {
  const cost = (from: string, to: string) => a.snapshot().links.find((l) => l.from === from && l.to === to)!.cost;
  t.ok(cost('a', 'd') > cost('a', 'b') + cost('b', 'd'), `direct ${cost('a', 'd')} ms > ${cost('a', 'b')} + ${cost('b', 'd')} ms`);
  t.equal(a.nextHop('d'), 'b');
  t.equal(cluster.node('b').nextHop('d'), 'd');
});

t.test('a best-effort sendTo records the hops it took', async (t) => {
  t.equal(a.sendTo('d', 'hello'), true);
  await waitFor(() => received.d?.length === 1, 60_000, 'delivery at d');
  t.match(received.d![0], { origin: 'a', hops: ['a', 'b', 'd'], payload: 'hello', reliable: false });
});

t.test('a reliable sendTo resolves only after the destination handler resolved', async (t) => {
  let release!: () => void;
  handler = () => new Promise<void>((resolve) => (release = resolve));
  let settled = false;
  const sent = a.sendTo('d', 'stored', { reliable: true, id: 'msg-1' }).then(() => (settled = true));
  await waitFor(() => received.d?.length === 1, 60_000, 'delivery at d');
  await new Promise((r) => setTimeout(r, 100));
  t.equal(settled, false, 'not acked while the handler is still storing');
  t.same(forwarded, []);
  release();
  await sent;
  t.match(received.d![0], { id: 'msg-1', origin: 'a', hops: ['a', 'b', 'd'], payload: 'stored', reliable: true });
  t.same(forwarded, ['msg-1'], 'onForwarded with the caller id');
  t.equal(a.queueSize(), 0);
});

t.test('a payload the destination handler refuses rejects with REJECTED', async (t) => {
  handler = () => Promise.reject(new Error('inbox full'));
  const err = await a.sendTo('d', 'x', { reliable: true }).catch((e: unknown) => e);
  t.type(err, ClusterError);
  t.match(err, { code: 'REJECTED', message: /inbox full/ });
  t.same(forwarded, []);
});

t.test('many reliable payloads in flight all arrive, in order while the route holds', async (t) => {
  const ids = Array.from({ length: 300 }, (_, i) => `m${i}`);
  await Promise.all(ids.map((id) => a.sendTo('d', id, { reliable: true, id })));
  t.same(received.d!.map((m) => m.payload), ids);
  t.same(forwarded, ids);
});

t.test('sending to itself delivers locally', async (t) => {
  await a.sendTo('a', 'me', { reliable: true });
  t.match(received.a, [{ origin: 'a', hops: ['a'], payload: 'me' }]);
});

t.test('a best-effort send without a route returns false; a reliable one waits in the queue', async (t) => {
  t.equal(a.sendTo('nowhere', 'x'), false);
  const queued = a.sendTo('nowhere', 'y', { reliable: true });
  t.equal(a.queueSize('nowhere'), 1);
  t.equal(a.queueSize(), 1);
  queued.catch(() => undefined); // rejects with CLOSED when the cluster closes at the end
});

t.test('bad arguments are refused with a clear error', async (t) => {
  t.throws(() => a.sendTo('no spaces', 'x'), TypeError);
  await t.rejects(a.sendTo('d', 'x', { reliable: true, id: '' }), TypeError);
  t.throws(() => a.sendTo('d', 'x'.repeat(17 * 1024 * 1024)), RangeError);
});

t.test('the snapshot is JSON with nodes, links, routes and this node’s spanning tree', async (t) => {
  const snap = a.snapshot();
  t.same(JSON.parse(JSON.stringify(snap)), snap);
  t.equal(snap.nodeId, 'a');
  t.same(snap.nodes.map((n) => [n.nodeId, n.live]), [['a', true], ['b', true], ['c', true], ['d', true]]);
  t.equal(snap.links.length, 10, 'five links, both directions');
  t.same(snap.routes, { b: 'b', c: 'c', d: 'b' });
  t.same(snap.spanningTree, { origin: 'a', edges: [{ from: 'a', to: 'b' }, { from: 'a', to: 'c' }, { from: 'b', to: 'd' }] });
  t.same(snap.peers.map((p) => [p.nodeId, p.delayMs]), [['b', 0], ['c', 4], ['d', 25]]);
});

t.test('every node has a route to every other, and the way back d → a avoids the slow link too', async (t) => {
  for (const id of DIAMOND.nodes) t.same(Object.keys(cluster.node(id).snapshot().routes).sort(), DIAMOND.nodes.filter((n) => n !== id), id);
  t.equal(cluster.node('d').nextHop('a'), 'b');
});
