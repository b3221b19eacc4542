import { Counter, Gauge, type Registry } from 'prom-client';
import type { ClusterStats, DestinationBacklog } from '../../cluster/index.js';

type Peer = ClusterStats['peers'][number];

/**
 * The cluster's figures in the broker's Prometheus registry, read from `ClusterNode.stats()` at
 * scrape time (the routing and forwarding paths only bump plain numbers). Totals are counters;
 * per-link series are labelled by peer (a peer once linked keeps its series, with `up` 0).
 */
export function registerClusterMetrics(registry: Registry, read: () => ClusterStats): void {
  const registers = [registry];
  const gauge = (name: string, help: string, value: (s: ClusterStats) => number) =>
    new Gauge({ name, help, registers, collect() { this.set(value(read())); } });
  const counter = (name: string, help: string, value: (s: ClusterStats) => number) =>
    new Counter({ name, help, registers, collect() { this.reset(); this.inc(value(read())); } });
  const perPeerGauge = (name: string, help: string, value: (p: Peer) => number | undefined) =>
    new Gauge({
      name, help, labelNames: ['peer'], registers,
      collect() {
        this.reset();
        for (const p of read().peers) {
          const v = value(p);
          if (v !== undefined) this.set({ peer: p.nodeId }, v);
        }
      },
    });
  const perPeerCounter = (name: string, help: string, label: string, value: (p: Peer) => number) =>
    new Counter({
      name, help, labelNames: [label], registers,
      collect() {
        this.reset();
        for (const p of read().peers) this.inc({ [label]: p.nodeId }, value(p));
      },
    });

  gauge('relaymesh_cluster_nodes_live', 'Cluster nodes reachable from this one, itself included', (s) => s.liveNodes);
  gauge('relaymesh_cluster_routes', 'Destinations in the routing table (nodes with a next hop)', (s) => s.routes);
  gauge('relaymesh_cluster_forward_queue', 'Reliable payloads held in the forward queue (waiting for a route or an ack)', (s) => s.queued);
  perDestinationGauge(registry, read, 'relaymesh_cluster_forward_queue_by_dest', 'Reliable payloads held in the forward queue for the destination node (waiting or awaiting an ack)', (b) => b.held);
  perDestinationGauge(registry, read, 'relaymesh_cluster_forward_queue_oldest_seconds', 'Age of the oldest payload held in the forward queue for the destination node (0 when none)', (b) => b.oldestMs / 1000);
  counter('relaymesh_cluster_route_computations_total', 'Shortest-path computations', (s) => s.routing.computations);
  counter('relaymesh_cluster_route_changes_total', 'Computations that changed a next hop or the set of live nodes', (s) => s.routing.changes);
  counter('relaymesh_cluster_lsa_originated_total', "This node's link-state advertisements flooded to its links", (s) => s.routing.lsaOriginated);
  counter('relaymesh_cluster_lsa_flooded_total', "Newer link-state advertisements of other nodes accepted and flooded on", (s) => s.routing.lsaFlooded);
  perPeerGauge('relaymesh_cluster_link_up', 'Whether the link to the peer is up (1) or down (0)', (p) => (p.up ? 1 : 0));
  perPeerGauge('relaymesh_cluster_link_rtt_seconds', 'Smoothed ping round-trip time of the link to the peer', (p) => (p.rttMs === undefined ? undefined : p.rttMs / 1000));
  perPeerGauge('relaymesh_cluster_link_cost', 'Routing cost of the link to the peer (smoothed RTT in ms plus loss penalty)', (p) => p.cost);
  perPeerGauge('relaymesh_cluster_link_loss_ratio', 'Smoothed share of pings to the peer that went unanswered', (p) => p.lossRate);
  perPeerCounter('relaymesh_cluster_link_ups_total', 'Links to the peer that came up', 'peer', (p) => p.ups);
  perPeerCounter('relaymesh_cluster_link_downs_total', 'Links to the peer that went down', 'peer', (p) => p.downs);
  perPeerCounter('relaymesh_cluster_forwarded_total', 'Routed payloads handed to the peer as next hop (originated here or relayed)', 'next_hop', (p) => p.forwarded);
}

/**
 * A gauge per destination node of the forward queue (every destination ever queued for keeps its
 * series, 0 when drained); each label child is resolved once, at its destination's first scrape.
 */
function perDestinationGauge(registry: Registry, read: () => ClusterStats, name: string, help: string, value: (b: DestinationBacklog) => number): void {
  const children = new Map<string, Gauge.Internal<'dest'>>();
  new Gauge({
    name, help, labelNames: ['dest'], registers: [registry],
    collect() {
      for (const b of read().backlog) {
        let child = children.get(b.dest);
        if (!child) children.set(b.dest, (child = this.labels({ dest: b.dest })));
        child.set(value(b));
      }
    },
  });
}
