/** Directed graph of link costs: from → (to → cost). Costs are non-negative. */
export type Graph = ReadonlyMap<string, ReadonlyMap<string, number>>;

export interface ShortestPaths {
  source: string;
  /** Distance from the source to every reachable node (the source at 0). */
  dist: Map<string, number>;
  /** Predecessor of every reachable node except the source: the shortest-path tree. */
  parent: Map<string, string>;
}

/** Sums of 0.01-rounded costs carry float noise: differences below this are ties. */
const EPSILON = 1e-9;

/**
 * Dijkstra from `source`. Every node must compute the same tree from the same graph (cluster
 * broadcast relies on it), so ties are broken by node id: nodes are settled in (distance, id)
 * order, and of two equally short ways into a node the one through the smaller id wins.
 * O(V² + E) with a linear scan for the minimum: clusters have tens of nodes, not thousands.
 */
export function shortestPaths(graph: Graph, source: string): ShortestPaths {
  const dist = new Map<string, number>([[source, 0]]);
  const parent = new Map<string, string>();
  const settled = new Set<string>();
  for (;;) {
    let u: string | undefined;
    let du = Infinity;
    for (const [node, d] of dist) {
      if (settled.has(node)) continue;
      if (d < du - EPSILON || (Math.abs(d - du) <= EPSILON && u !== undefined && node < u)) {
        u = node;
        du = d;
      }
    }
    if (u === undefined) break;
    settled.add(u);
    for (const [v, cost] of graph.get(u) ?? []) {
      if (settled.has(v)) continue;
      const nd = du + cost;
      const old = dist.get(v);
      const p = parent.get(v);
      if (old === undefined || nd < old - EPSILON || (Math.abs(nd - old) <= EPSILON && p !== undefined && u < p)) {
        dist.set(v, nd);
        parent.set(v, u);
      }
    }
  }
  return { source, dist, parent };
}

/** dest → the source's neighbour to hand a frame for dest to. */
export function nextHops(paths: ShortestPaths): Map<string, string> {
  const hops = new Map<string, string>();
  const firstHop = (node: string): string => {
    const known = hops.get(node);
    if (known !== undefined) return known;
    const p = paths.parent.get(node)!;
    const hop = p === paths.source ? node : firstHop(p);
    hops.set(node, hop);
    return hop;
  };
  for (const node of paths.parent.keys()) firstHop(node);
  return hops;
}

/** node → its children in the shortest-path tree, each list sorted by id. */
export function treeChildren(paths: ShortestPaths): Map<string, string[]> {
  const children = new Map<string, string[]>();
  for (const [child, p] of paths.parent) {
    const list = children.get(p);
    if (list) list.push(child);
    else children.set(p, [child]);
  }
  for (const list of children.values()) list.sort();
  return children;
}

export function treeEdges(paths: ShortestPaths): { from: string; to: string }[] {
  return [...paths.parent].map(([to, from]) => ({ from, to })).sort((a, b) => (a.from + '\n' + a.to < b.from + '\n' + b.to ? -1 : 1));
}

/** The path source → dest along the tree, or undefined when dest is unreachable. */
export function pathTo(paths: ShortestPaths, dest: string): string[] | undefined {
  if (!paths.dist.has(dest)) return undefined;
  const path = [dest];
  for (let node = dest; node !== paths.source; ) {
    node = paths.parent.get(node)!;
    path.push(node);
  }
  return path.reverse();
}
