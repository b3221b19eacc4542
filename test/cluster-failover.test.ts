import { pino } from 'pino';
import t from 'tap';
import { LocalCluster, waitFor, type ClusterMessage, type LocalClusterSpec } from '../src/cluster/index.js';

const DIAMOND: LocalClusterSpec = { nodes: ['a', 'b', 'c', 'd'], links: ['a-b', 'b-d', 'a-d', 'a-c', 'c-d'], delays: { 'a-d': 40, 'a-c': 8, 'c-d': 8 } };
const LINE: LocalClusterSpec = { nodes: ['a', 'b', 'c'], links: ['a-b', 'b-c'] };

/** A cluster whose nodes record what they receive; `gate` lets a test hold a handler open. */
async function start(t: { teardown(fn: () => unknown): void }, spec: LocalClusterSpec) {
  const messages: Record<string, ClusterMessage<string>[]> = {};
  const broadcasts: Record<string, ClusterMessage<string>[]> = {};
  const forwarded: string[] = [];
  const hooks = { gate: undefined as Promise<void> | undefined };
  const cluster = await LocalCluster.start<string>(spec, {
    log: pino({ level: 'silent' }),
    handlers: (id) => ({
      onMessage: (m) => {
        (messages[id] ??= []).push(m);
        return hooks.gate;
      },
      onBroadcast: (m) => void (broadcasts[id] ??= []).push(m),
      onForwarded: (msgId) => void forwarded.push(msgId),
    }),
  });
  t.teardown(() => cluster.close());
  await cluster.waitConverged(10_000);
  return { cluster, messages, broadcasts, forwarded, hooks };
}

const settle = (ms = 300) => new Promise((r) => setTimeout(r, ms));

t.test('when the middle node b stops, a → d reroutes through c and broadcasts still reach every node once', async (t) => {
  const { cluster, messages, broadcasts } = await start(t, DIAMOND);
  const a = cluster.node('a');
  const down: string[] = [];
  a.on('nodeDown', (n) => down.push(n));
  await waitFor(() => a.nextHop('d') === 'b', 60_000, 'a → b → d once the startup RTT samples have faded');

  await cluster.stop('b');
  await cluster.waitConverged(5000);
  t.same(down, ['b'], 'nodeDown(b)');
  t.same(a.liveNodes(), ['a', 'c', 'd']);
  await waitFor(() => a.nextHop('d') === 'c', 60_000, 'a to route to d through c');
  t.pass('a–c–d is now cheaper than the slow direct link');
  await a.sendTo('d', 'rerouted', { reliable: true });
  t.same(messages.d?.at(-1)?.hops, ['a', 'c', 'd']);

  for (const origin of ['a', 'c', 'd']) cluster.node(origin).broadcast(`from ${origin}`);
  await settle();
  for (const node of ['a', 'c', 'd']) {
    const got = (broadcasts[node] ?? []).map((m) => m.payload).sort();
    t.same(got, ['a', 'c', 'd'].filter((o) => o !== node).map((o) => `from ${o}`), `${node} got each other node's broadcast exactly once`);
  }
});

t.test('a reliable send made while there is no route is delivered once the route returns', async (t) => {
  const { cluster, messages, forwarded } = await start(t, LINE);
  const a = cluster.node('a');
  await cluster.stop('b');
  await waitFor(() => a.liveNodes().join() === 'a', 60_000, 'a to see b and c gone');
  t.equal(a.nextHop('c'), undefined);

  let delivered = false;
  const sent = a.sendTo('c', 'stored while cut off', { reliable: true, id: 'q-1' }).then(() => (delivered = true));
  await settle();
  t.equal(a.queueSize('c'), 1, 'held in the forward queue');
  t.equal(delivered, false);

  await cluster.restart('b');
  await sent;
  t.equal(a.queueSize(), 0);
  t.match(messages.c, [{ id: 'q-1', hops: ['a', 'b', 'c'], payload: 'stored while cut off' }]);
  t.same(forwarded, ['q-1']);
});

t.test('when the next hop dies before acking, the payload is retried and the destination handles it once', async (t) => {
  const { cluster, messages, hooks } = await start(t, LINE);
  const a = cluster.node('a');
  let release!: () => void;
  hooks.gate = new Promise<void>((resolve) => (release = resolve));
  const sent = a.sendTo('c', 'in flight', { reliable: true, id: 'f-1' });
  await waitFor(() => messages.c?.length === 1, 60_000, 'c to start storing');

  await cluster.stop('b');
  await waitFor(() => a.nextHop('c') === undefined, 60_000, 'a to lose its route to c');
  t.equal(a.queueSize('c'), 1, 'the ack never came: a still holds the payload');

  await cluster.restart('b');
  await cluster.waitConverged(5000);
  release();
  await sent;
  t.equal(messages.c!.length, 1, 'the retry was recognised by (origin, id): the handler ran once');
  t.equal(a.queueSize(), 0);
});

t.test('a restarted node rejoins: routes and live nodes come back everywhere', async (t) => {
  const { cluster } = await start(t, LINE);
  const ups: string[] = [];
  cluster.node('a').on('nodeUp', (n) => ups.push(n));
  await cluster.stop('b');
  await waitFor(() => cluster.node('c').liveNodes().join() === 'c', 60_000, 'c to be alone');
  await cluster.restart('b');
  await cluster.waitConverged(5000);
  t.same(ups.sort(), ['b', 'c']);
  t.equal(cluster.node('c').nextHop('a'), 'b');
});

t.test('a reliable send that gives up on unreachable nodes is withdrawn (UNREACHABLE) when its destination stops before storing it', async (t) => {
  const { cluster, messages, hooks } = await start(t, { nodes: ['a', 'b', 'c'], links: ['a-b', 'b-c', 'a-c'] });
  const a = cluster.node('a');
  hooks.gate = new Promise<void>(() => undefined); // c never finishes storing
  const sent = a.sendTo('c', 'for c only', { reliable: true, id: 'u-1', giveUpIfUnreachable: true });
  await waitFor(() => messages.c?.length === 1, 60_000, 'c to start storing');
  await cluster.stop('c');
  await t.rejects(sent, { code: 'UNREACHABLE' }, 'the sender learns at once, and can pick another node');
  t.equal(a.queueSize(), 0, 'nothing waits for c');
});
