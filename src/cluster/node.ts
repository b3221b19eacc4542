import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { createLogger, type Logger } from '../logger.js';
import { Broadcaster } from './broadcast.js';
import { DeviceDirectory, isDirectoryMessage } from './directory.js';
import { StaticDiscovery, type Discovery } from './discovery.js';
import { resolveClusterOptions, type ClusterHandlers, type ClusterMessage, type ClusterOptions, type ResolvedClusterOptions } from './options.js';
import type { PeerLink } from './peer-link.js';
import { PeerLinks } from './peer-links.js';
import { Router } from './router.js';
import { buildSnapshot, type ClusterSnapshot } from './snapshot.js';
import type { ClusterStats } from './stats.js';
import { Topology } from './topology.js';
import { Kind, LinkClose, NODE_ID_PATTERN, packPayload, type Frame } from './wire.js';

/** Channels of routed payloads: the application's, and the device directory's own. */
const APP = 0;
const DIRECTORY = 1;
/** Room for the frame envelope around a payload within `maxFrameBytes`. */
const ENVELOPE_BYTES = 4096;
const MAX_ID_LENGTH = 1024;

export interface ClusterEvents {
  nodeUp: [nodeId: string];
  nodeDown: [nodeId: string];
  /** Next hops or live nodes changed (after nodeUp/nodeDown of the same change). */
  routesChanged: [];
}

export interface SendOptions {
  /** Caller's id for the payload (the broker's message id); generated when absent. */
  id?: string;
  /**
   * Reliable only: instead of waiting in the forward queue while `nodeId` is unreachable (it left
   * the graph), reject with ClusterError UNREACHABLE, for a caller that can pick another node.
   */
  giveUpIfUnreachable?: boolean;
}

/** One member of a relaymesh cluster. Create with `ClusterNode.start(options)`; see index.ts. */
export class ClusterNode<T = unknown> extends EventEmitter<ClusterEvents> {
  readonly nodeId: string;
  private boundPort = 0;
  private readonly links: PeerLinks;
  private readonly topology: Topology;
  private readonly router: Router;
  private readonly broadcaster: Broadcaster;
  private readonly directory: DeviceDirectory;
  private readonly discoveries: Discovery[];
  private readonly idPrefix = randomBytes(6).toString('base64url');
  private nextId = 0;
  private closing: Promise<void> | undefined;

  static async start<T = unknown>(options: ClusterOptions<T>): Promise<ClusterNode<T>> {
    const { onMessage, onBroadcast, onForwarded, discovery, log, ...data } = options;
    const resolved = resolveClusterOptions(data);
    const node = new ClusterNode<T>(resolved, { onMessage, onBroadcast, onForwarded }, discovery, log ?? createLogger('info', 'relaymesh-cluster'));
    await node.startup();
    return node;
  }

  /** The resolved options, without the secret and the TLS material (safe to log or show). */
  readonly options: Readonly<Omit<ResolvedClusterOptions, 'secret' | 'tls'>>;

  private constructor(
    config: ResolvedClusterOptions,
    private readonly handlers: ClusterHandlers<T>,
    discovery: Discovery | undefined,
    readonly log: Logger,
  ) {
    super();
    const { secret: _secret, tls: _tls, ...options } = config;
    this.options = options;
    const self = (this.nodeId = options.nodeId);
    this.discoveries = [new StaticDiscovery(options.seeds), ...(discovery ? [discovery] : [])];
    this.links = new PeerLinks(config, log, {
      linkUp: (link) => this.topology.linkUp(link),
      linkDown: () => this.topology.linkDown(),
      linkClosed: (link) => this.router.linkClosed(link),
      measured: (link) => this.topology.measured(link),
      frame: (link, frame) => this.dispatch(link, frame),
    });
    this.topology = new Topology(self, this.links, options, log, { changed: (up, down) => this.membershipChanged(up, down) });
    const link = (peerId: string): PeerLink | undefined => this.links.get(peerId);
    this.router = new Router({
      ...options,
      self,
      nextHop: (dest) => this.topology.nextHop(dest),
      link,
      deliver: (channel, message) => this.deliver(channel, message),
      forwarded: (item) => item.channel === APP && handlers.onForwarded?.(item.id, item.dest),
      retry: options.reconnect,
      log,
    });
    this.broadcaster = new Broadcaster({
      self,
      childrenIn: (origin) => this.topology.childrenIn(origin),
      link,
      deliver: (message) => handlers.onBroadcast?.(message as ClusterMessage<T>),
      dedupeWindow: options.dedupeWindow,
      log,
    });
    this.directory = new DeviceDirectory({
      self,
      virtualNodes: options.virtualNodes,
      send: (dest, message) => this.router.send(dest, DIRECTORY, this.newId(), packPayload(message)),
      lookupTimeoutMs: options.ackTimeoutMs,
    });
  }

  /** The cluster port actually bound (differs from `options.port` when that was 0). */
  get port(): number {
    return this.boundPort;
  }

  /**
   * Sends `payload` to node `nodeId` along the cheapest path. Best effort: returns whether it was
   * handed to a link. Reliable: resolves once the next hop accepted it, which it does only after
   * the destination's `onMessage` resolved; queued (store-and-forward) while there is no route.
   */
  sendTo(nodeId: string, payload: T, options?: SendOptions & { reliable?: false }): boolean;
  sendTo(nodeId: string, payload: T, options: SendOptions & { reliable: true }): Promise<void>;
  sendTo(nodeId: string, payload: T, options: SendOptions & { reliable?: boolean } = {}): boolean | Promise<void> {
    const id = options.id ?? this.newId();
    let bytes: Uint8Array;
    try {
      if (!NODE_ID_PATTERN.test(nodeId)) throw new TypeError(`not a node id: ${JSON.stringify(nodeId)}`);
      if (id.length === 0 || id.length > MAX_ID_LENGTH) throw new TypeError(`payload id must be 1..${MAX_ID_LENGTH} characters`);
      bytes = this.pack(payload);
    } catch (err) {
      if (options.reliable) return Promise.reject(err);
      throw err;
    }
    if (!options.reliable) return this.router.send(nodeId, APP, id, bytes);
    return this.router.sendReliable(nodeId, APP, id, bytes, options.giveUpIfUnreachable);
  }

  /** Sends `payload` to every other live node once, along this node's shortest-path tree. Returns the number of tree children it went to. */
  broadcast(payload: T): number {
    return this.broadcaster.broadcast(this.pack(payload));
  }

  /** The neighbour a frame for `nodeId` goes to now, or undefined when unreachable (or self). */
  nextHop(nodeId: string): string | undefined {
    return this.topology.nextHop(nodeId);
  }

  /** Nodes reachable from here, this one included, sorted. */
  liveNodes(): string[] {
    return this.topology.liveNodes();
  }

  /** Whether `nodeId` is reachable from here (this node is). */
  isLive(nodeId: string): boolean {
    return this.topology.isLive(nodeId);
  }

  /** Reliable payloads held in the forward queue (waiting or awaiting an ack), for one destination or all. */
  queueSize(nodeId?: string): number {
    return this.router.queue.size(nodeId);
  }

  /** The live node a device id hashes to: home of its inbox stream and of its directory entry. */
  homeOf(deviceId: string): string {
    return this.directory.homeOf(deviceId);
  }

  /** Records at the device's home that it is connected to `nodeId` (default: this node). */
  announceLocation(deviceId: string, nodeId: string = this.nodeId): void {
    this.directory.announce(deviceId, nodeId);
  }

  /** The device left `nodeId` (default: this node); its home forgets it unless it moved on already. */
  forgetLocation(deviceId: string, nodeId: string = this.nodeId): void {
    this.directory.forget(deviceId, nodeId);
  }

  /** Asks the device's home where it is connected; undefined when not connected anywhere. Rejects with ClusterError TIMEOUT. */
  locate(deviceId: string): Promise<string | undefined> {
    return this.directory.locate(deviceId);
  }

  /** On the device's home: the location it holds, synchronously. */
  locationHere(deviceId: string): string | undefined {
    return this.directory.locationHere(deviceId);
  }

  /** Cluster-port socket handlers that threw (each closed its socket, not the process). */
  get socketFaults(): number {
    return this.links.faults;
  }

  /** JSON-able view for `GET /cluster`. */
  snapshot(): ClusterSnapshot {
    return buildSnapshot(this.nodeId, this.topology, this.links.all(), this.router.queue.size());
  }

  /** Counters and gauges for monitoring (Prometheus), read when scraped. */
  stats(): ClusterStats {
    const peers = [...this.links.traffic].map(([nodeId, traffic]) => {
      const link = this.links.get(nodeId);
      return { nodeId, ...traffic, up: link !== undefined, rttMs: link?.cost.rttMs, cost: link?.cost.ready ? link.cost.value : undefined, lossRate: link?.cost.lossRate };
    });
    return { liveNodes: this.topology.liveNodes().length, routes: Object.keys(this.topology.routes()).length, queued: this.router.queue.size(), backlog: this.router.queue.backlog(), routing: this.topology.counters, peers };
  }

  /** Test/link-layer knob: delay every frame this node sends to `peerId` by `delayMs`. */
  setLinkDelay(peerId: string, delayMs: number): void {
    if (!(delayMs >= 0 && delayMs <= 60_000)) throw new RangeError(`delayMs must be within 0..60000, got ${delayMs}`);
    this.links.setDelay(peerId, delayMs);
  }

  /** Closes every link and the cluster port; reliable payloads not yet forwarded reject with CLOSED. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      await Promise.allSettled(this.discoveries.map((d) => d.stop()));
      this.topology.stop();
      this.router.close();
      this.directory.close();
      await this.links.close();
      this.log.info({ nodeId: this.nodeId }, 'cluster node stopped');
    })();
    return this.closing;
  }

  private async startup(): Promise<void> {
    this.boundPort = await this.links.listen();
    this.topology.start();
    try {
      const self = { nodeId: this.nodeId, host: this.options.host, port: this.boundPort };
      await Promise.all(this.discoveries.map((d, source) => d.start((peers) => this.links.setPeers(source, peers), self)));
    } catch (err) {
      await this.close();
      throw err;
    }
    this.log.info({ nodeId: this.nodeId, host: this.options.host, port: this.boundPort, tls: this.links.tls, seeds: this.options.seeds.map((s) => s.nodeId) }, 'cluster node listening');
  }

  private dispatch(link: PeerLink, frame: Frame): void {
    switch (frame.kind) {
      case Kind.LSA:
        return this.topology.receive(link, frame);
      case Kind.DATA:
      case Kind.DATA_ACK:
        return this.router.receive(link, frame);
      case Kind.BCAST:
        return this.broadcaster.receive(frame);
      default:
        link.close(LinkClose.PROTOCOL, `unexpected frame kind ${frame.kind}`);
    }
  }

  private deliver(channel: number, message: ClusterMessage): void | Promise<void> {
    if (channel === DIRECTORY) {
      if (isDirectoryMessage(message.payload)) this.directory.receive(message.origin, message.payload);
      return;
    }
    if (channel !== APP) throw new Error(`unknown channel ${channel}`);
    if (!this.handlers.onMessage) throw new Error(`${this.nodeId} has no message handler`);
    return this.handlers.onMessage(message as ClusterMessage<T>);
  }

  private membershipChanged(up: string[], down: string[]): void {
    if (up.length || down.length) {
      this.log.info({ up, down, live: this.topology.liveNodes() }, 'cluster membership changed');
      this.directory.membershipChanged(this.topology.liveNodes(), up);
    }
    for (const n of down) this.emit('nodeDown', n);
    for (const n of up) this.emit('nodeUp', n);
    this.directory.routesChanged();
    this.router.queue.routesChanged();
    this.emit('routesChanged');
  }

  private pack(payload: T): Uint8Array {
    const bytes = packPayload(payload);
    if (bytes.length > this.options.maxFrameBytes - ENVELOPE_BYTES) {
      throw new RangeError(`payload of ${bytes.length} bytes exceeds the cluster frame limit (${this.options.maxFrameBytes - ENVELOPE_BYTES})`);
    }
    return bytes;
  }

  private newId(): string {
    return `${this.idPrefix}.${++this.nextId}`;
  }
}
