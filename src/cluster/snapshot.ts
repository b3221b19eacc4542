import type { PeerLink } from './peer-link.js';
import type { Topology } from './topology.js';

/** What one node knows of the cluster, JSON-able, for `GET /cluster`. Costs in ms. */
export interface ClusterSnapshot {
  nodeId: string;
  /** Every node in the link-state database; `live` = reachable from here. */
  nodes: { nodeId: string; live: boolean; lsaSeq: number; lsaAgeMs: number }[];
  /** Links both ends advertise, one entry per direction, with the cost its `from` end measured. */
  links: { from: string; to: string; cost: number }[];
  /** destination → next hop. */
  routes: Record<string, string>;
  /** This node's shortest-path tree: the tree its own broadcasts follow. */
  spanningTree: { origin: string; edges: { from: string; to: string }[] };
  /** This node's own links as measured here. */
  peers: { nodeId: string; rttMs: number | null; lossRate: number; cost: number | null; delayMs: number; dialer: string; remote: string; dropped: number }[];
  /** Reliable payloads in the forward queue. */
  queued: number;
}

export function buildSnapshot(nodeId: string, topology: Topology, links: PeerLink[], queued: number): ClusterSnapshot {
  const now = Date.now();
  return {
    nodeId,
    nodes: topology.db
      .all()
      .map((lsa) => ({ nodeId: lsa.origin, live: topology.isLive(lsa.origin), lsaSeq: lsa.seq, lsaAgeMs: topology.db.ageMs(lsa.origin, now) ?? 0 }))
      .sort((a, b) => (a.nodeId < b.nodeId ? -1 : 1)),
    links: topology.edges(),
    routes: topology.routes(),
    spanningTree: { origin: nodeId, edges: topology.ownTreeEdges() },
    peers: links
      .map((l) => ({
        nodeId: l.peerId,
        rttMs: l.cost.rttMs === undefined ? null : Math.round(l.cost.rttMs * 1000) / 1000,
        lossRate: Math.round(l.cost.lossRate * 1000) / 1000,
        cost: l.cost.ready ? l.cost.value : null,
        delayMs: l.delayMs,
        dialer: l.info.dialerId,
        remote: l.info.remote,
        dropped: l.dropped,
      }))
      .sort((a, b) => (a.nodeId < b.nodeId ? -1 : 1)),
    queued,
  };
}
