/**
 * relaymesh cluster layer: broker nodes linked into a mesh that routes point-to-point payloads
 * over the cheapest measured paths, broadcasts along shortest-path trees, detects failed nodes
 * and places devices on live nodes by consistent hashing.
 *
 * ## Start a node
 *
 * ```ts
 * const cluster = await ClusterNode.start<MyPayload>({
 *   nodeId: 'a', host: '127.0.0.1', port: 9101,              // dedicated cluster port
 *   secret: process.env.CLUSTER_SECRET!,                      // same on every node, ≥ 16 chars
 *   seeds: ['b@127.0.0.2:9101', 'c@127.0.0.3:9101'],          // nodeId@host:port
 *   discovery,                                                // optional: etcd/DNS behind `Discovery`
 *   log: broker.log.child({ component: 'cluster' }),
 *   onMessage: async (m) => { await storeDurably(m.payload) }, // resolve once durable (reliable)
 *   onBroadcast: (m) => fanOutLocally(m.payload),
 *   onForwarded: (id, dest) => markForwarded(id),             // drop the durable forward copy
 * });
 * ```
 *
 * ## Public API (ClusterNode<T>, T = the payload type, any msgpack-encodable value)
 *
 * - `ClusterNode.start<T>(options: ClusterOptions<T>): Promise<ClusterNode<T>>`
 * - `sendTo(nodeId: string, payload: T, options?: { id?: string; reliable?: false }): boolean`
 *   best effort; false when no route or the link is congested.
 * - `sendTo(nodeId: string, payload: T, options: { id?: string; reliable: true; giveUpIfUnreachable?: boolean }): Promise<void>`
 *   resolves when the next hop accepted it, which every hop does only after handing it on reliably
 *   (or, at the destination, after `onMessage` resolved), so in effect once it is stored at the
 *   destination. Queued in memory per destination while there is no route or the next hop died,
 *   and retried when a route returns. Rejects only with `ClusterError` REJECTED (the destination's
 *   handler threw: final), QUEUE_FULL or CLOSED; with `giveUpIfUnreachable: true` also UNREACHABLE
 *   once `nodeId` left the graph (instead of waiting for it to come back).
 * - `broadcast(payload: T): number` to every other live node once, along this node's shortest-path
 *   tree (best effort); returns the number of tree children it went to.
 * - `nextHop(nodeId: string): string | undefined`, `liveNodes(): string[]`, `queueSize(nodeId?: string): number`
 * - `homeOf(deviceId: string): string` the live node the device id hashes to (its inbox's home).
 * - `announceLocation(deviceId: string, nodeId?: string): void`, `forgetLocation(deviceId: string, nodeId?: string): void`
 * - `locate(deviceId: string): Promise<string | undefined>` asks the home where the device is connected
 *   (the next node on the ring when no link leads to the home; asked again when the routes change).
 * - `isLive(nodeId: string): boolean` whether the node is reachable from here.
 * - `locationHere(deviceId: string): string | undefined` the home's own answer, synchronously.
 * - `stats(): ClusterStats` link, routing and queue figures for monitoring (counters since start).
 * - `snapshot(): ClusterSnapshot` `{ nodeId, nodes, links: [{from,to,cost}], routes: {dest: nextHop},
 *   spanningTree: {origin, edges}, peers, queued }` for `GET /cluster`.
 * - `setLinkDelay(peerId: string, delayMs: number): void` test/link-layer knob (also `linkDelays` option).
 * - events: `on('nodeUp' | 'nodeDown', (nodeId: string) => void)`, `on('routesChanged', () => void)`.
 * - `close(): Promise<void>`; `port` (bound cluster port), `nodeId`, `options`, `log`.
 *
 * Handlers receive `ClusterMessage<T>`: `{ id, origin, hops, payload, reliable }`; `hops` lists every
 * node the frame passed through, origin first, the receiving node last.
 *
 * ## How it works
 *
 * - Links (`peer-links.ts`, `peer-link.ts`, `handshake.ts`): one `ws` WebSocket per pair of nodes on
 *   the cluster port, msgpack frames (`wire.ts`), mutual HMAC challenge-response with the shared
 *   secret before any other frame is accepted; pings every heartbeat give the RTT; a silent link is
 *   closed; dialers redial seeds with exponential backoff.
 * - Routing (`topology.ts`, `link-state-db.ts`, `graph.ts`): each node floods versioned link-state
 *   advertisements (its neighbours and EWMA RTT + loss-penalty costs); every node holds the same graph
 *   and runs Dijkstra (ties broken by node id) for its next-hop table. Nodes not refreshed within the
 *   node timeout age out; unreachable nodes are down.
 * - Forwarding (`router.ts`, `forward-queue.ts`): hop-by-hop, reliable payloads acked hop by hop
 *   and held only at the origin (store-and-forward); destinations drop repeats by (origin, id).
 * - Broadcast (`broadcast.ts`): along the origin's shortest-path tree, which each node computes itself.
 * - Devices (`directory.ts`): homes by consistent hashing over live nodes; the home keeps device → node.
 */
export { ClusterNode, type ClusterEvents, type SendOptions } from './node.js';
export { ClusterOptionsError, parsePeerAddress, type ClusterHandlers, type ClusterMessage, type ClusterOptions, type ResolvedClusterOptions } from './options.js';
export { ClusterError, type ClusterErrorCode } from './errors.js';
export { StaticDiscovery, type Discovery, type PeerAddress } from './discovery.js';
export type { ClusterSnapshot } from './snapshot.js';
export type { ClusterStats, PeerTraffic, RoutingCounters } from './stats.js';
export type { DestinationBacklog } from './forward-queue.js';
export { HashRing } from './hash-ring.js';
export { LocalCluster, LOCAL_TIMING, waitFor, type LocalClusterSpec, type LocalClusterOptions } from './local-cluster.js';
export { shortestPaths, nextHops, treeChildren, treeEdges, pathTo, type Graph, type ShortestPaths } from './graph.js';
