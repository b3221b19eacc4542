import type { Logger } from '../logger.js';
import { nextHops, shortestPaths, treeChildren, treeEdges, type Graph, type ShortestPaths } from './graph.js';
import { costChangedMuch } from './link-cost.js';
import { LinkStateDb, type Lsa } from './link-state-db.js';
import type { PeerLink } from './peer-link.js';
import type { RoutingCounters } from './stats.js';
import { Kind, encodeFrame, type LsaFrame } from './wire.js';

export interface TopologyEvents {
  /** Next hops or the set of live nodes changed; `up`/`down` list the nodes that came or went. */
  changed(up: string[], down: string[]): void;
}

export interface TopologyOptions {
  lsaRefreshMs: number;
  nodeTimeoutMs: number;
}

/** Changes within this window are advertised together, in one LSA. */
const MIN_LSA_INTERVAL_MS = 20;

/**
 * The link-state routing of one node: originates its own LSA (on link changes, on large cost
 * changes, and every `lsaRefreshMs`), floods newer LSAs it hears to its other links, ages out
 * silent nodes, and recomputes shortest paths after every change. Live nodes are the nodes
 * reachable from here; a node that becomes unreachable is reported down.
 */
export class Topology {
  readonly db = new LinkStateDb();
  readonly counters: RoutingCounters = { computations: 0, changes: 0, lsaOriginated: 0, lsaFlooded: 0 };
  private seq = 0;
  private advertised = new Map<string, number>();
  private graph: Graph = new Map();
  private paths: ShortestPaths;
  private hops = new Map<string, string>();
  private live: Set<string>;
  private readonly trees = new Map<string, Map<string, string[]>>();
  private lastOriginated = 0;
  private originateTimer: NodeJS.Timeout | undefined;
  private timers: NodeJS.Timeout[] = [];

  constructor(
    private readonly self: string,
    private readonly links: { all(): PeerLink[] },
    private readonly o: TopologyOptions,
    private readonly log: Logger,
    private readonly events: TopologyEvents,
  ) {
    this.paths = shortestPaths(this.graph, self);
    this.live = new Set([self]);
  }

  start(): void {
    this.originate();
    this.timers.push(setInterval(() => this.originate(), this.o.lsaRefreshMs));
    this.timers.push(setInterval(() => this.expire(), Math.max(10, Math.min(this.o.lsaRefreshMs, this.o.nodeTimeoutMs / 4))));
  }

  stop(): void {
    for (const t of this.timers) clearInterval(t);
    clearTimeout(this.originateTimer);
  }

  /** A new active link: bring the peer up to date with the whole database. */
  linkUp(link: PeerLink): void {
    for (const lsa of this.db.all()) link.sendBytes(encodeLsa(lsa));
  }

  linkDown(): void {
    this.requestOriginate();
  }

  measured(link: PeerLink): void {
    const advertised = this.advertised.get(link.peerId);
    if (advertised === undefined || costChangedMuch(advertised, link.cost.value)) this.requestOriginate();
  }

  receive(from: PeerLink, frame: LsaFrame): void {
    const lsa: Lsa = { origin: frame.origin, seq: frame.seq, neighbours: frame.neighbours };
    if (lsa.origin === this.self) {
      // An advertisement of a previous incarnation of this node: outrank it at once.
      if (lsa.seq >= this.seq) {
        this.seq = lsa.seq;
        this.originate();
      }
      return;
    }
    if (this.db.accept(lsa, Date.now()) !== 'newer') return;
    const bytes = encodeLsa(lsa);
    for (const link of this.links.all()) if (link !== from) link.sendBytes(bytes);
    this.counters.lsaFlooded++;
    this.recompute();
  }

  nextHop(dest: string): string | undefined {
    return this.hops.get(dest);
  }

  isLive(nodeId: string): boolean {
    return this.live.has(nodeId);
  }

  liveNodes(): string[] {
    return [...this.live].sort();
  }

  /** This node's children in the shortest-path tree rooted at `origin`, computed from the shared graph. */
  childrenIn(origin: string): string[] {
    let tree = this.trees.get(origin);
    if (!tree) {
      tree = treeChildren(origin === this.self ? this.paths : shortestPaths(this.graph, origin));
      this.trees.set(origin, tree);
    }
    return tree.get(this.self) ?? [];
  }

  routes(): Record<string, string> {
    return Object.fromEntries([...this.hops].sort(([a], [b]) => (a < b ? -1 : 1)));
  }

  edges(): { from: string; to: string; cost: number }[] {
    return [...this.graph].flatMap(([from, out]) => [...out].map(([to, cost]) => ({ from, to, cost }))).sort((a, b) => (a.from + '\n' + a.to < b.from + '\n' + b.to ? -1 : 1));
  }

  ownTreeEdges(): { from: string; to: string }[] {
    return treeEdges(this.paths);
  }

  private requestOriginate(): void {
    if (this.originateTimer) return;
    const wait = Math.max(0, this.lastOriginated + MIN_LSA_INTERVAL_MS - Date.now());
    this.originateTimer = setTimeout(() => this.originate(), wait);
  }

  private originate(): void {
    clearTimeout(this.originateTimer);
    this.originateTimer = undefined;
    this.lastOriginated = Date.now();
    const neighbours: [string, number][] = [];
    const advertised = new Map<string, number>();
    for (const link of this.links.all()) {
      // A replacement link keeps its predecessor's cost until its own first RTT sample.
      const cost = link.cost.ready ? link.cost.value : this.advertised.get(link.peerId);
      if (cost === undefined) continue;
      neighbours.push([link.peerId, cost]);
      advertised.set(link.peerId, cost);
    }
    this.advertised = advertised;
    this.seq = Math.max(this.seq + 1, Date.now());
    const lsa: Lsa = { origin: this.self, seq: this.seq, neighbours: neighbours.sort(([a], [b]) => (a < b ? -1 : 1)) };
    this.db.accept(lsa, Date.now());
    const bytes = encodeLsa(lsa);
    for (const link of this.links.all()) link.sendBytes(bytes);
    this.counters.lsaOriginated++;
    this.recompute();
  }

  private expire(): void {
    const gone = this.db.expire(Date.now(), this.o.nodeTimeoutMs, this.self);
    if (gone.length === 0) return;
    this.log.info({ nodes: gone }, 'cluster nodes aged out: no link-state refresh within the node timeout');
    this.recompute();
  }

  private recompute(): void {
    this.graph = this.db.graph();
    this.paths = shortestPaths(this.graph, this.self);
    this.trees.clear();
    const hops = nextHops(this.paths);
    const live = new Set(this.paths.dist.keys());
    const up = [...live].filter((n) => !this.live.has(n));
    const down = [...this.live].filter((n) => !live.has(n));
    const changed = up.length > 0 || down.length > 0 || hops.size !== this.hops.size || [...hops].some(([d, h]) => this.hops.get(d) !== h);
    this.hops = hops;
    this.live = live;
    this.counters.computations++;
    if (changed) this.counters.changes++;
    if (changed) this.events.changed(up, down);
  }
}

function encodeLsa(lsa: Lsa): Uint8Array {
  return encodeFrame({ kind: Kind.LSA, origin: lsa.origin, seq: lsa.seq, neighbours: lsa.neighbours });
}
