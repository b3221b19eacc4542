import type { DurableCopy } from '../../actors/fanout-node.js';
import { ErrorCode, ProtocolError, deliverLive, inboxStream, type DirectMessage, type OutgoingMsg, type Publication, type Stored } from '../protocol/index.js';
import type { MessageStore, NewEntry } from '../store/index.js';
import { encodeMsg, liveMsg } from './message-frames.js';
import type { DeviceRegistry, LiveDevice } from './device-registry.js';
import { detachWrite, type StoreWriteFailed } from './durable/detached-writes.js';
import type { DurableIndex } from './durable/durable-index.js';
import type { TopicFanout } from './topic-fanout.js';

export interface InboxLimits {
  /** Stored, unacknowledged messages an inbox may hold. */
  maxInboxEntries: number;
  /** When full: refuse the sender (INBOX_FULL), or drop the oldest message (counted). */
  inboxFullPolicy: 'reject' | 'drop-oldest';
}

export interface DeliveryResult {
  /** Local subscriptions matched (publish) or 1/0 for a live target (send). */
  reached: number;
  stored?: Stored;
}

/** Shared-subscription groups: each message accepted on this node goes to one member of each matching group. */
export interface GroupDelivery {
  /** Returns the groups `topic` matched. */
  offer(topic: string, live: Pick<OutgoingMsg, 'bytes'>, durable: DurableCopy | undefined): number;
}

/** Where messages go: this node only (Delivery), or the cluster (ClusterBridge). */
export interface MessageRouter {
  /** Synchronous where nothing is awaited (a QoS 0 publish on this node): no promise per message on that path. */
  publish(publication: Publication): DeliveryResult | Promise<DeliveryResult>;
  send(message: DirectMessage): Promise<DeliveryResult>;
}

/**
 * Routes a message to its receivers on this node. QoS 0 goes straight to live sockets. QoS 1 is written
 * once to its stream (topic, or the target's inbox), and only after the commit delivered,
 * so that nothing seen by a receiver can be lost by a crash.
 */
export class Delivery implements MessageRouter {
  /** Inbox messages dropped by the drop-oldest policy. */
  inboxDrops = 0;

  constructor(
    private readonly store: MessageStore,
    private readonly index: DurableIndex,
    private readonly fanout: TopicFanout<LiveDevice>,
    private readonly devices: DeviceRegistry,
    private readonly limits: InboxLimits,
    private readonly writeFailed: StoreWriteFailed,
    private readonly groups: GroupDelivery | undefined,
    /** Told of every accepted message (metrics, trace logs). */
    private readonly onAccepted: (kind: 'publish' | 'send', message: Publication | DirectMessage) => void = () => undefined,
  ) {}

  /**
   * `fromPeer`: the message was accepted by another cluster node, which gave it to the shared
   * groups already (each of their messages goes to one member cluster-wide).
   */
  publish(publication: Publication, fromPeer = false): DeliveryResult | Promise<DeliveryResult> {
    this.onAccepted('publish', publication);
    const topic = publication.topic;
    if (publication.qos === 0) {
      const msg = liveMsg(topic, publication);
      const reached = this.fanout.broadcast(topic, msg);
      return { reached: fromPeer || !this.groups ? reached : reached + this.groups.offer(topic, msg, undefined) };
    }
    return this.publishStored(publication, fromPeer);
  }

  /** QoS 1: appended to the topic's stream, then delivered once committed. */
  private async publishStored(publication: Publication, fromPeer: boolean): Promise<DeliveryResult> {
    const topic = publication.topic;
    this.index.prepareAppend(topic);
    const { offset, epoch } = await this.store.append(topic, entryOf(publication));
    // Encoded twice: QoS 0 subscribers get it as QoS 0, QoS 1 ones through their outbox.
    const msg = liveMsg(topic, publication, offset, epoch);
    const durable = { stream: topic, epoch, offset, bytes: encodeMsg(topic, publication, 1, offset, epoch) };
    let reached = this.fanout.broadcast(topic, msg, durable);
    if (!fromPeer && this.groups) reached += this.groups.offer(topic, msg, durable);
    return { reached, stored: { offset } };
  }

  async send(message: DirectMessage): Promise<DeliveryResult> {
    this.onAccepted('send', message);
    const target = this.devices.get(message.target);
    if (message.qos === 0) {
      if (!target || target.conn.closed) return { reached: 0 };
      deliverLive(target.conn, liveMsg(inboxStream(message.target), message));
      target.conn.tally.messagesOut++;
      return { reached: 1 };
    }
    const stream = inboxStream(message.target);
    this.makeRoom(message.target, stream);
    const { offset, epoch } = await this.store.append(stream, entryOf(message));
    const live = this.devices.get(message.target);
    live?.outbox.offer(stream, epoch, offset, encodeMsg(stream, message, 1, offset, epoch));
    return { reached: live ? 1 : 0, stored: { offset } };
  }

  /** Issued before the append, in the same tick: the store applies writes in call order. */
  private makeRoom(deviceId: string, stream: string): void {
    const head = this.store.head(stream);
    const acked = this.index.cursor(deviceId, stream) ?? 0;
    const waiting = head.lastOffset - Math.max(acked, head.firstOffset - 1);
    if (waiting < this.limits.maxInboxEntries) return;
    if (this.limits.inboxFullPolicy === 'reject') {
      throw new ProtocolError(ErrorCode.INBOX_FULL, `inbox of ${deviceId} holds ${waiting} unacknowledged messages`);
    }
    const drop = waiting - this.limits.maxInboxEntries + 1;
    const pruned = this.store.pruneThrough(stream, head.firstOffset - 1 + drop).then((dropped) => (this.inboxDrops += dropped));
    detachWrite(pruned, 'pruneThrough', this.writeFailed);
  }
}

function entryOf(message: Publication | DirectMessage): NewEntry {
  return {
    payload: message.payload,
    traceId: message.traceId,
    ...(message.from !== undefined ? { from: message.from } : {}),
    ...(message.hops !== undefined ? { hops: message.hops } : {}),
    ...(message.props !== undefined ? { props: message.props } : {}),
    ...('retain' in message && message.retain ? { retain: true } : {}),
  };
}
