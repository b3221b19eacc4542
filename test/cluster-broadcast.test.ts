import { pino } from 'pino';
import t from 'tap';
import { LocalCluster, waitFor, type ClusterMessage } from '../src/cluster/index.js';

/**
 *   a ── b ── e
 *   │    │  ╱        delays make some links dearer than others, so the trees of
 *   c ── d           different origins differ
 */
const SPEC = { nodes: ['a', 'b', 'c', 'd', 'e'], links: ['a-b', 'a-c', 'b-d', 'c-d', 'b-e', 'd-e'], delays: { 'a-c': 5, 'b-e': 10 } };

const got: Record<string, ClusterMessage<string>[]> = {};
const cluster = await LocalCluster.start<string>(SPEC, {
  log: pino({ level: 'silent' }),
  handlers: (id) => ({ onBroadcast: (m) => void (got[id] ??= []).push(m) }),
});
t.teardown(() => cluster.close());
await cluster.waitConverged(10_000);

t.beforeEach(() => {
  for (const k of Object.keys(got)) delete got[k];
});

/** The path from the tree's root to `node`, following the edges the origin reports. */
function treePath(edges: { from: string; to: string }[], root: string, node: string): string[] {
  const parent = new Map(edges.map((e) => [e.to, e.from]));
  const path = [node];
  for (let n = node; n !== root && path.length <= SPEC.nodes.length; ) path.unshift((n = parent.get(n)!));
  return path;
}

t.test('a broadcast from each node reaches every other node exactly once', async (t) => {
  for (const origin of SPEC.nodes) cluster.node(origin).broadcast(`from ${origin}`);
  const expected = SPEC.nodes.length - 1;
  await waitFor(() => SPEC.nodes.every((n) => got[n]?.length === expected), 60_000, 'every broadcast everywhere');
  await new Promise((r) => setTimeout(r, 200));
  for (const node of SPEC.nodes) {
    t.same(got[node]!.map((m) => m.origin).sort(), SPEC.nodes.filter((n) => n !== node), `${node}: once from each other node`);
  }
});

t.test('each broadcast travels the origin’s shortest-path tree, which every node computed alike', async (t) => {
  for (const origin of SPEC.nodes) {
    const receivers = SPEC.nodes.filter((n) => n !== origin);
    const edges = () => JSON.stringify(cluster.node(origin).snapshot().spanningTree.edges);
    // Costs keep being measured: if the tree moved while the broadcast was under way (nodes that
    // disagree for a moment may pass a node over: broadcast is best effort), try again with a new one.
    let tree = edges();
    let arrived = false;
    let payload = '';
    for (let attempt = 0; attempt < 5 && !arrived; attempt++) {
      payload = `${origin}-${attempt}`;
      tree = edges();
      cluster.node(origin).broadcast(payload);
      const copies = (n: string) => got[n]?.filter((m) => m.payload === payload) ?? [];
      arrived = await waitFor(() => receivers.every((n) => copies(n).length === 1), 20_000, `broadcast from ${origin}`).then(
        () => edges() === tree,
        () => false,
      );
    }
    t.ok(arrived, `${origin}: a broadcast reached every node while its tree held`);
    const parsed = JSON.parse(tree) as { from: string; to: string }[];
    t.equal(parsed.length, SPEC.nodes.length - 1, `${origin}: a spanning tree`);
    for (const node of receivers) {
      const copy = got[node]?.find((m) => m.payload === payload);
      t.same(copy?.hops, treePath(parsed, origin, node), `${origin} → ${node} along the tree`);
    }
    for (const k of Object.keys(got)) delete got[k];
  }
});

t.test('a stream of broadcasts from two origins arrives complete, without duplicates', async (t) => {
  for (let i = 0; i < 200; i++) {
    cluster.node('a').broadcast(`a${i}`);
    cluster.node('e').broadcast(`e${i}`);
  }
  await waitFor(() => SPEC.nodes.every((n) => got[n]?.length === (n === 'a' || n === 'e' ? 200 : 400)), 60_000, 'all broadcasts');
  await new Promise((r) => setTimeout(r, 200));
  for (const n of SPEC.nodes) {
    const payloads = got[n]!.map((m) => m.payload);
    t.equal(new Set(payloads).size, payloads.length, `${n}: no duplicates`);
    t.same(payloads.filter((p) => p.startsWith('a')), n === 'a' ? [] : Array.from({ length: 200 }, (_, i) => `a${i}`), `${n}: a's in order`);
  }
});

t.test('the origin does not deliver its own broadcast and reports its tree children', async (t) => {
  const children = cluster.node('a').snapshot().spanningTree.edges.filter((e) => e.from === 'a').length;
  t.equal(cluster.node('a').broadcast('self?'), children);
  await waitFor(() => got.b?.length === 1, 60_000, 'b');
  t.equal(got.a, undefined);
});
