import type { DestinationBacklog } from './forward-queue.js';

/** What a node counts about one peer, kept across that peer's links (a link is replaced, the counts stay). */
export interface PeerTraffic {
  /** Links to the peer that became active. */
  ups: number;
  /** Active links to the peer that closed. */
  downs: number;
  /** Routed payloads (DATA frames) handed to the peer as next hop, originated here or relayed. */
  forwarded: number;
}

/** Link-state routing work, counted since start. */
export interface RoutingCounters {
  /** Shortest-path runs (one after every accepted LSA or link change). */
  computations: number;
  /** Runs that changed a next hop or the set of live nodes. */
  changes: number;
  /** This node's own advertisements sent to its links. */
  lsaOriginated: number;
  /** Newer advertisements of other nodes accepted here and flooded on. */
  lsaFlooded: number;
}

/** One node's cluster figures for monitoring (`ClusterNode.stats()`); totals are since start. */
export interface ClusterStats {
  liveNodes: number;
  /** Destinations with a next hop. */
  routes: number;
  /** Reliable payloads held in the forward queue. */
  queued: number;
  /** The forward queue per destination ever queued for. */
  backlog: DestinationBacklog[];
  routing: Readonly<RoutingCounters>;
  /** Every peer ever linked, with its current link's measurements when it is up. */
  peers: (PeerTraffic & { nodeId: string; up: boolean; rttMs: number | undefined; cost: number | undefined; lossRate: number | undefined })[];
}
