import { ClusterNode, type ClusterMessage, type ClusterSnapshot } from '../cluster/index.js';
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
  ) {}

  static async join(nodeId: string, settings: ClusterSettings, delivery: Delivery, devices: DeviceRegistry, log: Logger): Promise<ClusterBridge> {
    const arrive = (m: ClusterMessage<ClusterPayload>): Promise<unknown> =>
      m.payload.t === 'send'
        ? delivery.send({ ...m.payload.message, hops: joinHops(m.payload.message.hops, m.hops) })
        : delivery.publish({ ...m.payload.publication, hops: m.hops });
    const node = await ClusterNode.start<ClusterPayload>({
      nodeId,
      host: settings.host,
      port: settings.port,
      secret: settings.secret,
      seeds: settings.peers,
      ...(settings.linkDelays ? { linkDelays: settings.linkDelays } : {}),
      log: log.child({ component: 'cluster' }),
      onMessage: async (m) => {
        await arrive(m);
      },
      onBroadcast: (m) => void arrive(m).catch((err: unknown) => log.warn({ err }, 'cluster publish failed here')),
    });
    return new ClusterBridge(node, delivery, devices);
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

  /** Cluster-port socket handlers that threw. */
  get socketFaults(): number {
    return this.node.socketFaults;
  }

  liveNodes(): string[] {
    return this.node.liveNodes();
  }

  snapshot(): ClusterSnapshot {
    return this.node.snapshot();
  }

  close(): Promise<void> {
    return this.node.close();
  }
}

/**
 * The full path of a message handed on by a node that had stored it (its inbox hand-off): the
 * path it arrived by there, then this leg, which starts at that node.
 */
function joinHops(before: string[] | undefined, leg: string[]): string[] {
  if (!before?.length) return leg;
  return before.at(-1) === leg[0] ? [...before, ...leg.slice(1)] : [...before, ...leg];
}
