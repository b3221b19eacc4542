import { setTimeout as sleep } from 'node:timers/promises';
import { ClusterNode } from './node.js';
import type { ClusterHandlers, ClusterOptions } from './options.js';

/** A topology to run in one process: node ids, undirected links `'a-b'`, optional delays per link. */
export interface LocalClusterSpec {
  nodes: string[];
  links: string[];
  /** Artificial delay in ms per link (`'a-d': 20`), added at both ends: the link's RTT grows by twice that. */
  delays?: Record<string, number>;
}

export type LocalClusterOptions<T> = Partial<Omit<ClusterOptions<T>, 'nodeId' | 'seeds' | 'linkDelays' | keyof ClusterHandlers<T>>> & {
  /** Handlers of each node (called again when a node restarts). */
  handlers?: (nodeId: string) => ClusterHandlers<T>;
  /** Listen address of each node; default 127.0.0.1 for all (each on its own free port). */
  hostFor?: (nodeId: string) => string;
};

/** Fast timers for tests and demos on one machine. */
export const LOCAL_TIMING = {
  heartbeatMs: 50,
  linkTimeoutMs: 400,
  lsaRefreshMs: 300,
  nodeTimeoutMs: 1200,
  handshakeTimeoutMs: 2000,
  ackTimeoutMs: 1000,
  reconnect: { initialDelayMs: 30, maxDelayMs: 300, jitter: 0.3 },
} as const;

/**
 * Several cluster nodes in this process, linked as `spec` says: nodes start in the listed order
 * and each dials its already-started neighbours (so every port is known). Nodes can be stopped
 * and restarted on their old port, where their neighbours' dialers find them again.
 */
export class LocalCluster<T = unknown> {
  readonly nodes = new Map<string, ClusterNode<T>>();
  private readonly ports = new Map<string, number>();
  private readonly pairs: [string, string][];

  private constructor(
    readonly spec: LocalClusterSpec,
    private readonly options: LocalClusterOptions<T>,
  ) {
    this.pairs = spec.links.map((l) => {
      const [a, b] = l.split('-');
      if (!a || !b || !spec.nodes.includes(a) || !spec.nodes.includes(b)) throw new Error(`link ${l}: expected a-b between listed nodes`);
      return [a, b];
    });
  }

  static async start<T = unknown>(spec: LocalClusterSpec, options: LocalClusterOptions<T> = {}): Promise<LocalCluster<T>> {
    const cluster = new LocalCluster<T>(spec, options);
    try {
      for (const id of spec.nodes) await cluster.startNode(id);
    } catch (err) {
      await cluster.close();
      throw err;
    }
    return cluster;
  }

  node(id: string): ClusterNode<T> {
    const node = this.nodes.get(id);
    if (!node) throw new Error(`node ${id} is not running`);
    return node;
  }

  running(): string[] {
    return [...this.nodes.keys()].sort();
  }

  async stop(id: string): Promise<void> {
    const node = this.node(id);
    this.nodes.delete(id);
    await node.close();
  }

  /** Starts a stopped node again, same id and port. */
  async restart(id: string): Promise<ClusterNode<T>> {
    if (this.nodes.has(id)) throw new Error(`node ${id} is running`);
    return this.startNode(id);
  }

  /**
   * Every running node sees exactly the running nodes as live, every spec link between running
   * nodes in its graph, and the same link-state versions as every other node.
   */
  converged(): boolean {
    const running = this.running();
    const expectedLinks = this.pairs.filter(([a, b]) => this.nodes.has(a) && this.nodes.has(b));
    let versions: string | undefined;
    for (const node of this.nodes.values()) {
      const snap = node.snapshot();
      if (node.liveNodes().join() !== running.join()) return false;
      const edges = new Set(snap.links.map((l) => `${l.from}-${l.to}`));
      if (!expectedLinks.every(([a, b]) => edges.has(`${a}-${b}`) && edges.has(`${b}-${a}`))) return false;
      const mine = snap.nodes.filter((n) => n.live).map((n) => `${n.nodeId}:${n.lsaSeq}`).join();
      if (versions !== undefined && mine !== versions) return false;
      versions = mine;
    }
    return true;
  }

  async waitConverged(timeoutMs = 5000): Promise<void> {
    await waitFor(() => this.converged(), timeoutMs, `cluster ${this.running().join(',')} to converge`);
  }

  async close(): Promise<void> {
    await Promise.all([...this.nodes.values()].map((n) => n.close()));
    this.nodes.clear();
  }

  private async startNode(id: string): Promise<ClusterNode<T>> {
    const { handlers, hostFor, ...common } = this.options;
    const host = hostFor?.(id) ?? '127.0.0.1';
    const neighbours = this.pairs.flatMap(([a, b]) => (a === id ? [b] : b === id ? [a] : []));
    const linkDelays: Record<string, number> = {};
    for (const [key, ms] of Object.entries(this.spec.delays ?? {})) {
      const [a, b] = key.split('-');
      if (a === id && b) linkDelays[b] = ms;
      if (b === id && a) linkDelays[a] = ms;
    }
    const node = await ClusterNode.start<T>({
      secret: 'local-cluster-secret-0123456789',
      ...LOCAL_TIMING,
      ...common,
      ...handlers?.(id),
      nodeId: id,
      host,
      port: this.ports.get(id) ?? 0,
      seeds: neighbours.filter((n) => this.nodes.has(n)).map((n) => ({ nodeId: n, host: this.nodes.get(n)!.options.host, port: this.ports.get(n)! })),
      linkDelays,
    });
    this.ports.set(id, node.port);
    this.nodes.set(id, node);
    return node;
  }
}

/** Polls `predicate` every 10 ms until it holds; rejects after `timeoutMs`. */
export async function waitFor(predicate: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(10);
  }
}
