import { pathTo, shortestPaths, treeEdges, type Graph } from '../../cluster/graph.js';
import type { ClusterSnapshot } from '../../cluster/index.js';
import type { Registry } from 'prom-client';

/** One traffic sample: the /metrics values the dashboard charts, read from the same registry. */
export interface TrafficSample {
  /** Unix ms. */
  t: number;
  connections: number;
  devices: number;
  connects: number;
  disconnects: number;
  framesIn: number;
  framesOut: number;
  /** Messages accepted, by `<kind>/qos<qos>`. */
  messages: Record<string, number>;
  /** Per device protocol (relaymesh, mqtt): open connections and messages in/out (totals). */
  protocols: Record<string, { connections: number; messagesIn: number; messagesOut: number }>;
  dropped: number;
  acksPending: number;
  storeBytes: number;
  eventLoopLagSeconds: number;
  /** Fan-out latency quantiles over the last sample interval (null: no fan-out then). */
  fanoutP50Seconds: number | null;
  fanoutP99Seconds: number | null;
}

export interface ClusterView extends ClusterSnapshot {
  /** Shortest path from this node to every node it can reach, this node first. */
  paths: Record<string, string[]>;
  /** The broadcast spanning tree rooted at each node, computed from the shared graph. */
  trees: Record<string, { from: string; to: string }[]>;
}

export interface DashboardState {
  nodeId: string;
  cluster: ClusterView | null;
  topics: { filter: string; qos: number; subscribers: number; leaves: number; height: number }[];
  /** Traffic samples, oldest first: the last minutes in a page's first update, then the newest only. */
  traffic: TrafficSample[];
}

export interface FeedSources {
  nodeId: string;
  registry: Registry;
  cluster?: () => ClusterSnapshot;
  topics: () => DashboardState['topics'];
}

/** Samples kept: five minutes at one a second. */
const HISTORY = 300;

/**
 * What the dashboard shows, sampled once a second while at least one dashboard is open (an
 * idle broker pays nothing). Every open page gets the same state object per tick.
 */
export class DashboardFeed {
  private readonly history: TrafficSample[] = [];
  /** Listener → whether it still needs the whole history. */
  private readonly listeners = new Map<(state: DashboardState) => void, boolean>();
  private timer: NodeJS.Timeout | undefined;
  private lastBuckets = new Map<number, number>();

  constructor(
    private readonly sources: FeedSources,
    private readonly intervalMs = 1000,
  ) {}

  /**
   * Calls `listener` with every update; the first carries the whole traffic history, later
   * ones only the newest sample. Returns the unsubscribe.
   */
  subscribe(listener: (state: DashboardState) => void): () => void {
    this.listeners.set(listener, true);
    if (this.timer) {
      if (this.history.length > 0) this.deliver(listener, this.state(this.history));
    } else {
      this.timer = setInterval(() => void this.tick(), this.intervalMs).unref();
      void this.tick();
    }
    return () => {
      this.listeners.delete(listener);
      if (this.listeners.size === 0) {
        clearInterval(this.timer);
        this.timer = undefined;
      }
    };
  }

  private async tick(): Promise<void> {
    const sample = await this.sample();
    this.history.push(sample);
    if (this.history.length > HISTORY) this.history.shift();
    const latest = this.state([sample]);
    for (const [listener, wantsHistory] of this.listeners) this.deliver(listener, wantsHistory ? { ...latest, traffic: this.history } : latest);
  }

  private deliver(listener: (state: DashboardState) => void, state: DashboardState): void {
    this.listeners.set(listener, false);
    listener(state);
  }

  private state(traffic: TrafficSample[]): DashboardState {
    const snapshot = this.sources.cluster?.();
    return { nodeId: this.sources.nodeId, cluster: snapshot ? clusterView(snapshot) : null, topics: this.sources.topics(), traffic };
  }

  private async sample(): Promise<TrafficSample> {
    const metrics = await this.sources.registry.getMetricsAsJSON();
    const values = new Map(metrics.map((m) => [m.name, m.values as { value: number; labels: Record<string, string | number>; metricName?: string }[]]));
    const one = (name: string) => values.get(name)?.[0]?.value ?? 0;
    const messages: Record<string, number> = {};
    for (const v of values.get('relaymesh_messages_total') ?? []) messages[`${v.labels.kind}/qos${v.labels.qos}`] = v.value;
    const protocols: TrafficSample['protocols'] = {};
    const byProtocol = (name: string, field: 'connections' | 'messagesIn' | 'messagesOut') => {
      for (const v of values.get(name) ?? []) {
        const protocol = String(v.labels.protocol);
        (protocols[protocol] ??= { connections: 0, messagesIn: 0, messagesOut: 0 })[field] = v.value;
      }
    };
    byProtocol('relaymesh_device_connections', 'connections');
    byProtocol('relaymesh_device_messages_in_total', 'messagesIn');
    byProtocol('relaymesh_device_messages_out_total', 'messagesOut');
    const [p50, p99] = this.fanoutQuantiles(values.get('relaymesh_fanout_seconds') ?? []);
    return {
      t: Date.now(),
      connections: one('relaymesh_connections'),
      devices: one('relaymesh_devices_connected'),
      connects: one('relaymesh_connects_total'),
      disconnects: one('relaymesh_disconnects_total'),
      framesIn: one('relaymesh_frames_in_total'),
      framesOut: one('relaymesh_frames_out_total'),
      messages,
      protocols,
      dropped: one('relaymesh_dropped_total'),
      acksPending: one('relaymesh_acks_pending'),
      storeBytes: one('relaymesh_store_bytes'),
      eventLoopLagSeconds: one('relaymesh_process_nodejs_eventloop_lag_seconds'),
      fanoutP50Seconds: p50,
      fanoutP99Seconds: p99,
    };
  }

  /** p50 and p99 of the fan-out latencies observed since the previous sample (bucket upper bounds). */
  private fanoutQuantiles(histogram: { value: number; labels: Record<string, string | number>; metricName?: string }[]): [number | null, number | null] {
    const buckets = histogram
      .filter((v) => v.metricName?.endsWith('_bucket'))
      .map((v) => ({ le: v.labels.le === '+Inf' ? Infinity : Number(v.labels.le), count: v.value }))
      .sort((a, b) => a.le - b.le);
    const deltas = buckets.map((b) => ({ le: b.le, count: b.count - (this.lastBuckets.get(b.le) ?? 0) }));
    this.lastBuckets = new Map(buckets.map((b) => [b.le, b.count]));
    const total = deltas.at(-1)?.count ?? 0;
    if (total <= 0) return [null, null];
    const quantile = (q: number) => {
      const bound = deltas.find((d) => d.count >= q * total)?.le ?? Infinity;
      return Number.isFinite(bound) ? bound : null;
    };
    return [quantile(0.5), quantile(0.99)];
  }
}

/** The snapshot plus what the page highlights: paths from here and every origin's spanning tree. */
export function clusterView(snapshot: ClusterSnapshot): ClusterView {
  const graph = new Map<string, Map<string, number>>();
  for (const { from, to, cost } of snapshot.links) {
    if (!graph.has(from)) graph.set(from, new Map());
    graph.get(from)!.set(to, cost);
  }
  const live = snapshot.nodes.filter((n) => n.live).map((n) => n.nodeId);
  const own = shortestPaths(graph as Graph, snapshot.nodeId);
  const paths: Record<string, string[]> = {};
  for (const node of live) {
    const path = pathTo(own, node);
    if (path) paths[node] = path;
  }
  const trees: Record<string, { from: string; to: string }[]> = {};
  for (const origin of live) trees[origin] = treeEdges(shortestPaths(graph as Graph, origin));
  return { ...snapshot, paths, trees };
}
