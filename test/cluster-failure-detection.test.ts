import { pino } from 'pino';
import t from 'tap';
import { LocalCluster, LOCAL_TIMING, waitFor, type LocalClusterSpec } from '../src/cluster/index.js';

async function start(t: { teardown(fn: () => unknown): void }, spec: LocalClusterSpec) {
  const cluster = await LocalCluster.start(spec, { log: pino({ level: 'silent' }) });
  t.teardown(() => cluster.close());
  await cluster.waitConverged(10_000);
  return cluster;
}

t.test('a neighbour that falls silent is dropped after the link timeout; nodes behind it go down', async (t) => {
  const cluster = await start(t, { nodes: ['a', 'b', 'c'], links: ['a-b', 'b-c'] });
  const a = cluster.node('a');
  const down: string[] = [];
  a.on('nodeDown', (n) => down.push(n));
  // Frames between a and b now take a minute: to each of them the other has gone silent.
  a.setLinkDelay('b', 60_000);
  cluster.node('b').setLinkDelay('a', 60_000);
  const since = Date.now();
  await waitFor(() => down.length === 2, 60_000, 'a to report b and c down');
  t.comment(`detected after ${Date.now() - since} ms (link timeout ${LOCAL_TIMING.linkTimeoutMs} ms)`);
  t.same(down.sort(), ['b', 'c']);
  t.same(a.liveNodes(), ['a']);
  await waitFor(() => cluster.node('c').liveNodes().join() === 'b,c', 60_000, 'c to lose a');

  a.setLinkDelay('b', 0);
  cluster.node('b').setLinkDelay('a', 0);
  await cluster.waitConverged(5000);
  t.same(a.liveNodes(), ['a', 'b', 'c'], 'back after the redial');
});

t.test('pings that time out add a loss penalty, and routes avoid the lossy link until it recovers', async (t) => {
  const cluster = await start(t, { nodes: ['a', 'b', 'c'], links: ['a-b', 'b-c', 'a-c'] });
  const a = cluster.node('a');
  await waitFor(() => a.nextHop('b') === 'b', 60_000, 'the direct link once the startup RTT samples have faded');
  // Past the ping timeout (2 × heartbeat) but within the link timeout: pongs come too late.
  a.setLinkDelay('b', 150);
  const peer = () => a.snapshot().peers.find((p) => p.nodeId === 'b')!;
  await waitFor(() => peer().lossRate > 0.5, 60_000, 'most pings to b to be lost');
  t.ok(peer().cost! > 250, `cost ${peer().cost} ms includes the penalty`);
  await waitFor(() => a.nextHop('b') === 'c', 60_000, 'a to route to b through c');
  t.same(a.liveNodes(), ['a', 'b', 'c'], 'a lossy link is dear, not down');

  a.setLinkDelay('b', 0);
  await waitFor(() => a.nextHop('b') === 'b', 60_000, 'the direct link to win again');
  t.pass('recovered');
});

t.test('the advertisements of unreachable nodes age out after the node timeout', async (t) => {
  const cluster = await start(t, { nodes: ['a', 'b', 'c'], links: ['a-b', 'b-c'] });
  const a = cluster.node('a');
  await cluster.stop('b');
  await waitFor(() => a.liveNodes().join() === 'a', 60_000, 'b and c unreachable');
  t.same(a.snapshot().nodes.map((n) => [n.nodeId, n.live]), [['a', true], ['b', false], ['c', false]], 'known but not live');
  await waitFor(() => a.snapshot().nodes.length === 1, LOCAL_TIMING.nodeTimeoutMs * 3, 'their entries to age out');
  t.same(a.snapshot().nodes.map((n) => n.nodeId), ['a']);
});
