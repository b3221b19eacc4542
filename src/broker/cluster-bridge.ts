import { ClusterNode, type ClusterMessage, type ClusterSnapshot, type ClusterStats } from '../cluster/index.js';
import { ETCD_DEFAULTS, EtcdDiscovery } from '../cluster/etcd-discovery.js';
import { readFileSync } from 'node:fs';
import { certificateFingerprint, type ClusterTls } from '../cluster/link-tls.js';
import type { Logger } from '../logger.js';
import type { DirectMessage, Publication } from '../protocol/index.js';
import type { Delivery, DeliveryResult, MessageRouter } from './delivery.js';
import type { DeviceRegistry } from './device-registry.js';

/** What brokers send each other: a point-to-point message for a device, or a topic publish. */
export type ClusterPayload = { t: 'send'; message: DirectMessage } | { t: 'publish'; publication: Publication };

export interface ClusterSettings {
  host: string;
  port: number;
  secret: string;
  /** Seed peers, `nodeId@host:port`. */
  peers: string[];
  /** Peers found through etcd. */
  etcd?: { endpoints: string[]; prefix: string; leaseTtlSeconds: number };
  /** PEM files for TLS on the cluster links. */
  tls?: { keyFile: string; certFile: string; caFile: string };
  /** Link-layer test knob: artificial delay per peer. */
  linkDelays?: Record<string, number>;
}

/**
 * The broker's side of the cluster. A SEND for a device that is not connected here goes to the
 * node where it is connected (asked of its home node), else to its home node, hop by hop along
 * the cheapest path; QoS 1 travels reliably and is acknowledged to the sender only once stored
 * at the destination. A publish is delivered here and broadcast to every other node once.
 */
export class ClusterBridge implements MessageRouter {
  private constructor(
    private readonly node: ClusterNode<ClusterPayload>,
    private readonly delivery: Delivery,
    private readonly devices: DeviceRegistry,
    private readonly etcd: EtcdDiscovery | undefined,
    private readonly seeded: boolean,
  ) {}

  static async join(nodeId: string, settings: ClusterSettings, delivery: Delivery, devices: DeviceRegistry, log: Logger): Promise<ClusterBridge> {
    const arrive = (m: ClusterMessage<ClusterPayload>): Promise<unknown> =>
      m.payload.t === 'send'
        ? delivery.send({ ...m.payload.message, hops: m.hops })
        : delivery.publish({ ...m.payload.publication, hops: m.hops });
    const tls = settings.tls ? readClusterTls(settings.tls) : undefined;
    const etcd = settings.etcd
      ? new EtcdDiscovery({
          ...ETCD_DEFAULTS,
          endpoints: settings.etcd.endpoints,
          prefix: settings.etcd.prefix,
          ttlSeconds: settings.etcd.leaseTtlSeconds,
          ...(tls ? { certFingerprint: certificateFingerprint(tls.cert) } : {}),
          log: log.child({ component: 'etcd' }),
        })
      : undefined;
    const node = await ClusterNode.start<ClusterPayload>({
      nodeId,
      host: settings.host,
      port: settings.port,
      secret: settings.secret,
      seeds: settings.peers,
      ...(settings.linkDelays ? { linkDelays: settings.linkDelays } : {}),
      ...(etcd ? { discovery: etcd } : {}),
      ...(tls ? { tls } : {}),
      log: log.child({ component: 'cluster' }),
      onMessage: async (m) => {
        await arrive(m);
      },
      onBroadcast: (m) => void arrive(m).catch((err: unknown) => log.warn({ err }, 'cluster publish failed here')),
    });
    return new ClusterBridge(node, delivery, devices, etcd, settings.peers.length > 0);
  }

  get nodeId(): string {
    return this.node.nodeId;
  }

  /** The node where a device is connected, as its home node knows it. */
  async whereIs(deviceId: string): Promise<string | undefined> {
    return this.node.locationHere(deviceId) ?? (await this.node.locate(deviceId).catch(() => undefined));
  }

  /** Hands a stored QoS 1 message to another node; resolves once it is stored there. */
  forward(to: string, message: DirectMessage, id: string): Promise<void> {
    return this.node.sendTo(to, { t: 'send', message }, { reliable: true, id });
  }

  async send(message: DirectMessage): Promise<DeliveryResult> {
    if (this.devices.get(message.target)) return this.delivery.send(message);
    const destination = (await this.whereIs(message.target)) ?? this.node.homeOf(message.target);
    if (destination === this.node.nodeId) return this.delivery.send(message);
    const payload: ClusterPayload = { t: 'send', message };
    if (message.qos === 0) return { reached: this.node.sendTo(destination, payload) ? 1 : 0 };
    await this.node.sendTo(destination, payload, { reliable: true });
    return { reached: 1 };
  }

  async publish(publication: Publication): Promise<DeliveryResult> {
    const result = await this.delivery.publish(publication);
    this.node.broadcast({ t: 'publish', publication });
    return result;
  }

  deviceConnected(deviceId: string): void {
    this.node.announceLocation(deviceId);
  }

  deviceLeft(deviceId: string): void {
    this.node.forgetLocation(deviceId);
  }

  /** For /readyz: registered in etcd at least once (an etcd outage later keeps the node ready), else linked to a seed. */
  joined(): boolean {
    if (this.etcd) return this.etcd.joined;
    return !this.seeded || this.node.liveNodes().length > 1;
  }

  liveNodes(): string[] {
    return this.node.liveNodes();
  }

  stats(): ClusterStats {
    return this.node.stats();
  }

  snapshot(): ClusterSnapshot {
    return this.node.snapshot();
  }

  close(): Promise<void> {
    return this.node.close();
  }
}

/** Reads the PEM files once at start; a missing or unreadable file is named in the error. */
function readClusterTls(files: { keyFile: string; certFile: string; caFile: string }): ClusterTls {
  const read = (key: string, path: string): string => {
    try {
      return readFileSync(path, 'utf8');
    } catch (err) {
      throw new Error(`cluster.tls.${key}: cannot read ${path}: ${(err as Error).message}`);
    }
  };
  return { key: read('keyFile', files.keyFile), cert: read('certFile', files.certFile), ca: read('caFile', files.caFile) };
}
