import fc from 'fast-check';
import t from 'tap';
import { nextHops, pathTo, shortestPaths, treeChildren, treeEdges, type Graph } from '../src/cluster/index.js';

/** Builds a graph from 'a-b:cost' (both directions) and 'a>b:cost' (one direction) entries. */
function graph(...edges: string[]): Graph {
  const g = new Map<string, Map<string, number>>();
  const add = (from: string, to: string, cost: number): void => {
    if (!g.has(from)) g.set(from, new Map());
    if (!g.has(to)) g.set(to, new Map());
    g.get(from)!.set(to, cost);
  };
  for (const e of edges) {
    const m = /^(\w+)([->])(\w+):([\d.]+)$/.exec(e)!;
    add(m[1]!, m[3]!, Number(m[4]));
    if (m[2] === '-') add(m[3]!, m[1]!, Number(m[4]));
  }
  return g;
}

t.test('a cheaper two-hop path wins over an expensive direct link', async (t) => {
  const paths = shortestPaths(graph('a-b:1', 'b-d:1', 'a-d:10'), 'a');
  t.equal(paths.dist.get('d'), 2);
  t.same(pathTo(paths, 'd'), ['a', 'b', 'd']);
  t.equal(nextHops(paths).get('d'), 'b');
});

t.test('next hops of a line are the first neighbour for every node behind it', async (t) => {
  const hops = nextHops(shortestPaths(graph('a-b:1', 'b-c:1', 'c-d:1'), 'a'));
  t.same(Object.fromEntries(hops), { b: 'b', c: 'b', d: 'b' });
});

t.test('each direction uses the cost its own origin measured', async (t) => {
  const g = graph('a>b:1', 'b>a:9', 'a>c:5', 'c>a:1', 'b-c:1');
  t.same(pathTo(shortestPaths(g, 'a'), 'c'), ['a', 'b', 'c'], 'a→b is cheap');
  t.same(pathTo(shortestPaths(g, 'b'), 'a'), ['b', 'c', 'a'], 'b→a is expensive');
});

t.test('equal-cost paths are broken by the smaller node id, whatever the insertion order', async (t) => {
  const one = shortestPaths(graph('a-c:1', 'c-d:1', 'a-b:1', 'b-d:1'), 'a');
  const two = shortestPaths(graph('a-b:1', 'b-d:1', 'a-c:1', 'c-d:1'), 'a');
  t.same(pathTo(one, 'd'), ['a', 'b', 'd']);
  t.same(pathTo(two, 'd'), ['a', 'b', 'd']);
  t.equal(nextHops(one).get('d'), 'b');
});

t.test('ties built from float sums (0.1 + 0.2 vs 0.15 + 0.15) are still ties', async (t) => {
  t.not(0.1 + 0.2, 0.15 + 0.15, 'the float sums differ');
  const paths = shortestPaths(graph('a-b:0.1', 'b-d:0.2', 'a-c:0.15', 'c-d:0.15'), 'a');
  t.equal(paths.parent.get('d'), 'b', 'a tie, so the smaller id b wins over c');
});

t.test('unreachable nodes have no distance, no next hop and no path', async (t) => {
  const paths = shortestPaths(graph('a-b:1', 'c-d:1'), 'a');
  t.notOk(paths.dist.has('c'));
  t.notOk(nextHops(paths).has('d'));
  t.equal(pathTo(paths, 'd'), undefined);
  t.same([...paths.dist.keys()].sort(), ['a', 'b']);
});

t.test('a source missing from the graph reaches only itself', async (t) => {
  const paths = shortestPaths(graph('b-c:1'), 'a');
  t.same([...paths.dist], [['a', 0]]);
  t.equal(nextHops(paths).size, 0);
});

t.test('the shortest-path tree lists each reachable node once, under its predecessor', async (t) => {
  const paths = shortestPaths(graph('a-b:1', 'a-c:1', 'b-d:1', 'c-e:1', 'd-e:5', 'x-y:1'), 'a');
  t.same(Object.fromEntries(treeChildren(paths)), { a: ['b', 'c'], b: ['d'], c: ['e'] });
  t.same(treeEdges(paths), [
    { from: 'a', to: 'b' },
    { from: 'a', to: 'c' },
    { from: 'b', to: 'd' },
    { from: 'c', to: 'e' },
  ]);
});

t.test('property: distances equal Bellman-Ford and every tree edge is tight', async (t) => {
  const ids = ['a', 'b', 'c', 'd', 'e', 'f', 'g'];
  const edge = fc.record({ from: fc.constantFrom(...ids), to: fc.constantFrom(...ids), cost: fc.integer({ min: 1, max: 2000 }).map((c) => c / 100) });
  fc.assert(
    fc.property(fc.array(edge, { maxLength: 25 }), (edges) => {
      const g = new Map<string, Map<string, number>>();
      for (const { from, to, cost } of edges) if (from !== to) (g.get(from) ?? g.set(from, new Map()).get(from)!).set(to, cost);
      const paths = shortestPaths(g, 'a');
      const bf = new Map<string, number>([['a', 0]]);
      for (let i = 0; i < ids.length; i++) {
        for (const [u, out] of g) for (const [v, c] of out) if (bf.has(u) && bf.get(u)! + c < (bf.get(v) ?? Infinity) - 1e-9) bf.set(v, bf.get(u)! + c);
      }
      if (bf.size !== paths.dist.size) return false;
      for (const [v, d] of bf) if (Math.abs(paths.dist.get(v)! - d) > 1e-6) return false;
      for (const [v, p] of paths.parent) if (Math.abs(paths.dist.get(p)! + g.get(p)!.get(v)! - paths.dist.get(v)!) > 1e-6) return false;
      return paths.parent.size === paths.dist.size - 1;
    }),
    { numRuns: 300 },
  );
  t.pass('300 random graphs');
});
