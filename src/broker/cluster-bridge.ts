import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { ClusterError, ClusterNode, type ClusterMessage, type ClusterSnapshot, type ClusterStats } from '../cluster/index.js';
import { ETCD_DEFAULTS, EtcdDiscovery } from '../cluster/etcd-discovery.js';
import { certificateFingerprint, type ClusterTls } from '../cluster/link-tls.js';
import type { Logger } from '../logger.js';
import { ErrorCode, ProtocolError, type DirectMessage, type Publication } from '../protocol/index.js';
import { StoreClosedError, type MessageStore } from '../store/index.js';
import type { Delivery, DeliveryResult, MessageRouter } from './delivery.js';
import type { DeviceRegistry } from './device-registry.js';
import type { DurableIndex } from './durable/durable-index.js';
import { ForwardJournal, type JournalledSend } from './forward-journal.js';
import { SharedGroupExchange } from './shared-group-exchange.js';
import type { ClusterGroups, GroupCount, SharedHandOff } from './shared-groups.js';

/**
 * What brokers send each other: a point-to-point message for a device, a topic publish, a
 * `$share` group's message for the node picked for it, a node's member counts of the groups.
 */
export type ClusterPayload =
  | { t: 'send'; message: DirectMessage }
  | { t: 'publish'; publication: Publication }
  | { t: 'share'; message: SharedHandOff }
  | { t: 'groups'; version: number; counts: GroupCount[]; ask?: boolean };

export interface ClusterSettings {
  host: string;
  port: number;
  secret: string;
  /** Seed peers, `nodeId@host:port`. */
  peers: string[];
  /** A QoS 1 SEND not stored by its destination node within this gets ERROR 501 UNAVAILABLE (it stays queued). */
  forwardTimeoutMs: number;
  /** Peers found through etcd. */
  etcd?: { endpoints: string[]; prefix: string; leaseTtlSeconds: number };
  /** PEM files for TLS on the cluster links. */
  tls?: { keyFile: string; certFile: string; caFile: string };
  /** Link-layer test knob: artificial delay per peer. */
  linkDelays?: Record<string, number>;
  /** Failure detection and look-up timing of the cluster node (its defaults when absent). */
  ackTimeoutMs?: number;
  linkTimeoutMs?: number;
  nodeTimeoutMs?: number;
}

export interface BridgeDeps {
  delivery: Delivery;
  devices: DeviceRegistry;
  store: MessageStore;
  index: DurableIndex;
  /** `$share` groups, spread over the nodes. */
  groups?: ClusterGroups;
  log: Logger;
}

/**
 * The broker's side of the cluster. A SEND for a device that is not connected here goes to the
 * node where it is connected (asked of its home node), else to its home node, hop by hop along
 * the cheapest path. A publish is delivered here and broadcast to every other node once.
 *
 * QoS 1 SENDs travel reliably and are acknowledged to the sender only once stored at the
 * destination. Until then the origin keeps them in its forward journal (on disk, so a restart
 * hands them on again), and when the destination node leaves the graph the destination is
 * picked again (the device's home moves with the live nodes). A sender waiting longer than
 * `forwardTimeoutMs` gets ERROR 501 UNAVAILABLE, retriable: the message stays journalled and is
 * still delivered, so a retry may deliver it twice (at least once).
 */
export class ClusterBridge implements MessageRouter {
  private nextSend = 0;

  private constructor(
    private readonly node: ClusterNode<ClusterPayload>,
    private readonly settings: ClusterSettings,
    private readonly deps: BridgeDeps,
    private readonly journal: ForwardJournal,
    private readonly etcd: EtcdDiscovery | undefined,
    private readonly seeded: boolean,
    private readonly groupExchange: SharedGroupExchange | undefined,
  ) {}

  static async join(nodeId: string, settings: ClusterSettings, deps: BridgeDeps): Promise<ClusterBridge> {
    const { delivery, log } = deps;
    let groupExchange: SharedGroupExchange | undefined;
    const arrive = async (m: ClusterMessage<ClusterPayload>): Promise<unknown> => {
      const payload = m.payload;
      switch (payload.t) {
        case 'send':
          return delivery.send({ ...payload.message, hops: joinHops(payload.message.hops, m.hops) });
        case 'publish':
          return delivery.publish({ ...payload.publication, hops: m.hops }, true);
        case 'share':
          return deps.groups?.handedOff(payload.message);
        case 'groups':
          return groupExchange?.received(m.origin, payload.version, payload.counts, payload.ask === true);
      }
    };
    const { forwardTimeoutMs: _bridgeOnly, peers, etcd: etcdSettings, tls: tlsFiles, ...nodeOptions } = settings;
    const tls = tlsFiles ? readClusterTls(tlsFiles) : undefined;
    const etcd = etcdSettings
      ? new EtcdDiscovery({
          ...ETCD_DEFAULTS,
          endpoints: etcdSettings.endpoints,
          prefix: etcdSettings.prefix,
          ttlSeconds: etcdSettings.leaseTtlSeconds,
          ...(tls ? { certFingerprint: certificateFingerprint(tls.cert) } : {}),
          log: log.child({ component: 'etcd' }),
        })
      : undefined;
    const node = await ClusterNode.start<ClusterPayload>({
      ...nodeOptions,
      nodeId,
      seeds: peers,
      ...(etcd ? { discovery: etcd } : {}),
      ...(tls ? { tls } : {}),
      log: log.child({ component: 'cluster' }),
      onMessage: async (m) => {
        await arrive(m);
      },
      onBroadcast: (m) => void arrive(m).catch((err: unknown) => log.warn({ err }, 'cluster publish failed here')),
    });
    groupExchange = deps.groups && new SharedGroupExchange(node, deps.groups);
    const bridge = new ClusterBridge(node, settings, deps, new ForwardJournal(deps.store, deps.index), etcd, peers.length > 0, groupExchange);
    void bridge.resumeJournal().catch((err: unknown) => log.error({ err }, 'forward journal: resuming failed'));
    return bridge;
  }

  get nodeId(): string {
    return this.node.nodeId;
  }

  /** The node where a device is connected, as its home node knows it. */
  async whereIs(deviceId: string): Promise<string | undefined> {
    return this.node.locationHere(deviceId) ?? (await this.node.locate(deviceId).catch(() => undefined));
  }

  /**
   * Hands a stored QoS 1 message to another node; resolves once it is stored there. Rejects with
   * ClusterError UNREACHABLE when that node leaves the graph first (the caller asks again where to).
   */
  forward(to: string, message: DirectMessage, id: string): Promise<void> {
    return this.node.sendTo(to, { t: 'send', message }, { reliable: true, id, giveUpIfUnreachable: true });
  }

  async send(message: DirectMessage): Promise<DeliveryResult> {
    const known = this.destinationKnownHere(message.target);
    if (known === this.node.nodeId) return this.deps.delivery.send(message);
    if (message.qos === 1) {
      await this.sendDurably(message, known);
      return { reached: 1 };
    }
    const destination = known ?? (await this.destinationOf(message.target));
    if (destination === this.node.nodeId) return this.deps.delivery.send(message);
    return { reached: this.node.sendTo(destination, { t: 'send', message }) ? 1 : 0 };
  }

  async publish(publication: Publication): Promise<DeliveryResult> {
    const result = await this.deps.delivery.publish(publication);
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
    this.groupExchange?.close();
    return this.node.close();
  }

  /** This node when the device is connected here, else the live node it is connected to, else its home. */
  private async destinationOf(deviceId: string): Promise<string> {
    const known = this.destinationKnownHere(deviceId);
    if (known !== undefined) return known;
    const located = await this.node.locate(deviceId).catch(() => undefined);
    return located !== undefined && this.node.isLive(located) ? located : this.node.homeOf(deviceId);
  }

  /** The destination when this node can tell without asking: the device is connected here, or this is its home. */
  private destinationKnownHere(deviceId: string): string | undefined {
    if (this.deps.devices.get(deviceId)) return this.node.nodeId;
    if (this.node.homeOf(deviceId) !== this.node.nodeId) return undefined;
    const located = this.node.locationHere(deviceId);
    return located !== undefined && this.node.isLive(located) ? located : this.node.nodeId;
  }

  /**
   * Journals the message and hands it on (to `destination`, or where a look-up says); the sender
   * hears OK once it is stored, or UNAVAILABLE in time.
   */
  private async sendDurably(message: DirectMessage, destination: string | undefined): Promise<void> {
    const send: JournalledSend = { id: `${this.node.nodeId}.${Date.now().toString(36)}.${++this.nextSend}`, message };
    const recorded = this.journal.record(send);
    const stored = this.handOn(send, destination);
    void Promise.all([recorded, this.isSettled(stored)]).then(
      ([offset, settled]) => settled && this.journal.complete(offset),
      () => undefined, // the journal write failed: the sender hears of it below
    );
    let timer: NodeJS.Timeout | undefined;
    // Armed only once journalled: UNAVAILABLE promises that the message is kept and still delivered.
    const late = recorded.then(
      () =>
        new Promise<never>((_, reject) => {
          const why = `not yet stored by the destination node after ${this.settings.forwardTimeoutMs} ms; it stays queued and is still delivered (a retry may deliver it twice)`;
          timer = setTimeout(() => reject(new ProtocolError(ErrorCode.UNAVAILABLE, why)), this.settings.forwardTimeoutMs);
        }),
    );
    try {
      await Promise.race([stored.catch(retriable), late]);
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Hands a QoS 1 message on to `destination` (or where a look-up says), or, when that node leaves
   * the graph first, to wherever its target is now: a node that left is never waited for. Each
   * new pick follows a change of the live nodes (a pick is live when made), so this does not spin.
   */
  private async handOn({ id, message }: JournalledSend, destination?: string): Promise<void> {
    let to = destination ?? (await this.destinationOf(message.target));
    for (;;) {
      if (to === this.node.nodeId) {
        await this.deps.delivery.send(message);
        return;
      }
      try {
        await this.forward(to, message, id);
        return;
      } catch (err) {
        if (!(err instanceof ClusterError && err.code === 'UNREACHABLE')) throw err;
        this.deps.log.debug({ target: message.target, gone: to, id }, 'destination node left before storing a QoS 1 SEND; picking another');
      }
      to = await this.destinationOf(message.target);
    }
  }

  /** Resolves whether the hand-on is over (stored, or refused for good) rather than cut short by a shutdown. */
  private isSettled(handedOn: Promise<void>): Promise<boolean> {
    return handedOn.then(
      () => true,
      (err: unknown) => {
        const shutDown = (err instanceof ClusterError && err.code === 'CLOSED') || err instanceof StoreClosedError;
        if (!shutDown) this.deps.log.debug({ err }, 'QoS 1 SEND refused (by its destination, or a full forward queue); dropped from the forward journal');
        return !shutDown;
      },
    );
  }

  /**
   * After a restart: hands on what the journal still holds, once this node sees a peer (or after
   * the forward timeout, when it may be alone: then the messages go to inboxes here).
   */
  private async resumeJournal(): Promise<void> {
    if (!this.journal.hasRecovered()) return;
    if (this.node.liveNodes().length === 1) await this.firstPeerOr(this.settings.forwardTimeoutMs);
    for (const batch of this.journal.recovered()) {
      await Promise.all(
        batch.map(async ({ offset, send }) => {
          if (!send) this.deps.log.error({ offset }, 'forward journal: unreadable entry skipped');
          const settled = !send || (await this.isSettled(this.handOn(send)));
          if (settled) this.journal.complete(offset);
        }),
      );
    }
    this.deps.log.info('forward journal: messages accepted before the restart handed on');
  }

  private async firstPeerOr(timeoutMs: number): Promise<void> {
    const ac = new AbortController();
    await Promise.race([once(this.node, 'nodeUp', { signal: ac.signal }), sleep(timeoutMs, undefined, { signal: ac.signal })]).catch(() => undefined);
    ac.abort();
  }
}

/** A full forward queue is a reason to retry later, not a broker fault. */
function retriable(err: unknown): never {
  if (err instanceof ClusterError && err.code === 'QUEUE_FULL') throw new ProtocolError(ErrorCode.UNAVAILABLE, err.message);
  throw err;
}

/**
 * The full path of a message handed on by a node that had stored it (its inbox hand-off): the
 * path it arrived by there, then this leg, which starts at that node.
 */
function joinHops(before: string[] | undefined, leg: string[]): string[] {
  if (!before?.length) return leg;
  return before.at(-1) === leg[0] ? [...before, ...leg.slice(1)] : [...before, ...leg];
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
