import type { IPublishPacket, ISubscribePacket, IUnsubscribePacket, Packet } from 'mqtt-packet';
import { FrameKind, MAX_USER_PROPERTIES, type Frame, type MessageProperties, type MsgFrame } from '../protocol/index.js';
import { OutgoingQos1 } from './outgoing-qos1.js';
import { fromMqttProperties, toMqttProperties } from './publication-properties.js';
import { Reason, SUBACK_FAILURE_V4, refusalReason } from './reason-codes.js';
import type { RetainedMessage } from './retained-store.js';
import type { SentHistory } from './sent-history.js';
import type { SharedSubscription } from './shared-subscriptions.js';
import type { SubscriptionOptions } from './subscription-options.js';
import { SHARE_PREFIX, publishTarget, subscribeTarget } from './topic-mapping.js';

/** What the connection must do; the channel itself does no I/O (group subscriptions go through `shares`). */
export type ChannelEffect =
  /** Write an MQTT packet to the client. */
  | { type: 'packet'; packet: Packet }
  /** Hand a relaymesh frame to the device actor, in order with the others. */
  | { type: 'frame'; frame: Frame }
  /** A retained PUBLISH to store (or clear, when empty) once the ACL allowed it. */
  | { type: 'retain'; topic: string; payload: Uint8Array; qos: 0 | 1; props: MessageProperties | undefined }
  /** Subscriptions granted whose retained messages are wanted: send them. */
  | { type: 'granted'; filters: GrantedFilter[] }
  /** The client said goodbye (DISCONNECT). */
  | { type: 'goodbye'; publishWill: boolean; sessionExpirySeconds?: number }
  /** Close the connection: DISCONNECT with `reason` first (5.0), then end the transport. */
  | { type: 'close'; reason: Reason; message: string };

export interface ChannelOptions {
  clientId: string;
  protocolVersion: 4 | 5;
  /** Topic aliases the client may set (5.0); 0: none. */
  topicAliasMaximum: number;
  /** The filters of the stored session this connection resumed (none after a clean start). */
  storedFilters: Iterable<string>;
  /** The 5.0 No Local, Retain As Published and Subscription Identifier options of the session's filters (its stored session keeps them). */
  subscriptionOptions: SubscriptionOptions;
  /** `$share/<group>/<filter>` subscriptions of this client: joining returns a refusal, if any. */
  shares: ShareGroups;
}

/** The `$share` groups one client joins and leaves (its connection: no closures per client). */
export interface ShareGroups {
  joinGroup(group: string, filter: string, qos: 0 | 1): Reason | undefined;
  leaveGroup(group: string, filter: string): void;
  /** A PUBACK may have made room in the client's receive maximum for messages its groups hold back. */
  roomFreed(): void;
}

/** A subscription whose retained messages are wanted. */
export interface GrantedFilter {
  filter: string;
  qos: 0 | 1;
  /** 5.0 Subscription Identifier the retained messages carry. */
  subscriptionId?: number;
}

/** A request sent to the device actor whose reply becomes an MQTT acknowledgement. */
type Pending =
  | { kind: 'puback'; packetId: number }
  /** One filter of a SUBSCRIBE: its reply fills slot `index` of the SUBACK. */
  | { kind: 'suback'; request: SubscribeRequest; index: number; granted: GrantedFilter; sendRetained: boolean; existed: boolean }
  | { kind: 'unsuback'; packetId: number; count: number };

interface SubscribeRequest {
  packetId: number;
  codes: (number | undefined)[];
  waiting: number;
  /** Filters granted so far: their retained messages follow the SUBACK. */
  granted: GrantedFilter[];
}

/**
 * The QoS 0 PUBLISH of a MSG (a QoS 1 delivery raises QoS and sets the packet id): the same for
 * every client of one protocol version, so a live message is encoded once per version.
 */
export function qos0Publish(msg: MsgFrame, v5: boolean): IPublishPacket {
  const payload = Buffer.from(msg.payload.buffer, msg.payload.byteOffset, msg.payload.byteLength);
  const packet: IPublishPacket = { cmd: 'publish', topic: msg.stream, payload, qos: 0, dup: false, retain: false };
  if (v5 && msg.props) packet.properties = toMqttProperties(msg.props);
  return packet;
}

/**
 * The MQTT protocol state machine of one connected client (after CONNECT): MQTT packets in →
 * relaymesh frames for the device actor; relaymesh frames out of the actor, fan-out and
 * outbox → MQTT packets. The same sessions, streams and cursors serve both protocols.
 */
export class MqttChannel {
  private seq = 0;
  // Created on first use and `pending` dropped when empty: most clients of a fleet sit idle
  // with no request open, no alias set and no QoS 1 delivery, and an empty Map costs ~200 bytes.
  private pending: Map<number, Pending> | undefined;
  private qos1: OutgoingQos1 | undefined;
  private topicAliases: Map<number, string> | undefined;
  /**
   * The session's filters as of the packets handled so far, for retain handling 1. The session's
   * own map lags behind: it changes in the device actor's turn, after this packet is judged.
   */
  private readonly filters: Set<string>;

  constructor(
    private readonly options: ChannelOptions,
    /** What client ids may have been sent before (redeliveries carry DUP). */
    private readonly sentBefore: Pick<SentHistory, 'sendingNow'>,
  ) {
    this.filters = new Set(options.storedFilters);
  }

  get v5(): boolean {
    return this.options.protocolVersion === 5;
  }

  onPacket(packet: Packet): ChannelEffect[] {
    switch (packet.cmd) {
      case 'publish':
        return this.onPublish(packet);
      case 'puback': {
        const through = packet.messageId === undefined ? undefined : this.qos1?.acknowledge(packet.messageId);
        this.options.shares.roomFreed();
        return through ? [{ type: 'frame', frame: { kind: FrameKind.ACK, seq: this.nextSeq(), ...through } }] : [];
      }
      case 'subscribe':
        return this.onSubscribe(packet);
      case 'unsubscribe':
        return this.onUnsubscribe(packet);
      case 'pingreq':
        return [{ type: 'packet', packet: { cmd: 'pingresp' } }];
      case 'disconnect': {
        const expiry = packet.properties?.sessionExpiryInterval;
        return [
          {
            type: 'goodbye',
            publishWill: packet.reasonCode === Reason.DISCONNECT_WITH_WILL,
            ...(expiry !== undefined ? { sessionExpirySeconds: expiry } : {}),
          },
        ];
      }
      case 'pubrec':
      case 'pubrel':
      case 'pubcomp':
        return [{ type: 'close', reason: Reason.QOS_NOT_SUPPORTED, message: 'QoS 2 is not supported' }];
      default:
        return [{ type: 'close', reason: Reason.PROTOCOL_ERROR, message: `unexpected ${packet.cmd} packet` }];
    }
  }

  /** A relaymesh frame addressed to this device other than a delivery (reply, reset); deliveries go through `deliver`. */
  onFrame(frame: Frame): ChannelEffect[] {
    switch (frame.kind) {
      case FrameKind.OK:
        return this.reply(frame.ref, Reason.SUCCESS);
      case FrameKind.ERROR:
        return frame.ref === undefined ? [] : this.reply(frame.ref, undefined, frame.code);
      case FrameKind.RESET:
        // MQTT has no "history lost" signal: delivery simply continues after the gap.
        this.qos1?.forgetStream(frame.stream);
        return [];
      default:
        return [];
    }
  }

  private onPublish(packet: IPublishPacket): ChannelEffect[] {
    if (packet.qos === 2) {
      // Refused, not downgraded: a QoS 2 sender expects PUBREC, and CONNACK said maximum QoS 1.
      return [{ type: 'close', reason: Reason.QOS_NOT_SUPPORTED, message: 'QoS 2 is not supported' }];
    }
    let topic = packet.topic;
    const alias = packet.properties?.topicAlias;
    if (alias !== undefined) {
      if (alias < 1 || alias > this.options.topicAliasMaximum) return [{ type: 'close', reason: Reason.TOPIC_ALIAS_INVALID, message: `topic alias ${alias} out of range` }];
      if (topic === '') {
        const known = this.topicAliases?.get(alias);
        if (known === undefined) return [{ type: 'close', reason: Reason.PROTOCOL_ERROR, message: `unknown topic alias ${alias}` }];
        topic = known;
      } else {
        (this.topicAliases ??= new Map()).set(alias, topic);
      }
    }
    // A topic name with a wildcard or NUL is a malformed PUBLISH (spec 3.3.2-2, 1.5.4-2): the connection ends.
    if (topic.includes('+') || topic.includes('#') || topic.includes('\u0000')) {
      return [{ type: 'close', reason: Reason.TOPIC_NAME_INVALID, message: 'a topic name may not hold wildcards or NUL' }];
    }
    const props = this.v5 ? fromMqttProperties(packet.properties) : undefined;
    if ((props?.userProperties?.length ?? 0) > MAX_USER_PROPERTIES) {
      return [{ type: 'close', reason: Reason.IMPLEMENTATION_SPECIFIC_ERROR, message: `more than ${MAX_USER_PROPERTIES} user properties` }];
    }
    const payload = typeof packet.payload === 'string' ? Buffer.from(packet.payload) : packet.payload;
    const qos = packet.qos;
    const seq = this.nextSeq();
    if (qos === 1) this.expectReply(seq, { kind: 'puback', packetId: packet.messageId! });
    const target = publishTarget(topic);
    const frame: Frame =
      target.kind === 'inbox'
        ? { kind: FrameKind.SEND, seq, target: target.target, payload, qos }
        : { kind: FrameKind.PUB, seq, topic: target.topic, payload, qos };
    if (props) frame.props = props;
    const effects: ChannelEffect[] = [{ type: 'frame', frame }];
    if (packet.retain && frame.kind === FrameKind.PUB) {
      frame.retain = true;
      effects.push({ type: 'retain', topic, payload, qos, props });
    }
    return effects;
  }

  private onSubscribe(packet: ISubscribePacket): ChannelEffect[] {
    if (packet.subscriptions.length === 0) return [{ type: 'close', reason: Reason.PROTOCOL_ERROR, message: 'SUBSCRIBE without a topic filter' }];
    // Spec 3.8.3-4: No Local on a shared subscription is a protocol error.
    if (packet.subscriptions.some((s) => s.nl && s.topic.startsWith(SHARE_PREFIX))) {
      return [{ type: 'close', reason: Reason.PROTOCOL_ERROR, message: 'No Local on a shared subscription' }];
    }
    const subscriptionId = packet.properties?.subscriptionIdentifier;
    // Spec 3.8.2.1.2: an identifier of 0 is a protocol error (mqtt-packet parses it).
    if (subscriptionId === 0) return [{ type: 'close', reason: Reason.PROTOCOL_ERROR, message: 'subscription identifier 0' }];
    const request: SubscribeRequest = { packetId: packet.messageId!, codes: [], waiting: 0, granted: [] };
    const effects: ChannelEffect[] = [];
    packet.subscriptions.forEach((subscription, index) => {
      // QoS 2 is granted as QoS 1 (the SUBACK says so): delivery is at least once.
      const qos: 0 | 1 = subscription.qos === 0 ? 0 : 1;
      const target = subscribeTarget(subscription.topic, this.options.clientId);
      switch (target.kind) {
        case 'own-inbox':
          request.codes[index] = qos;
          return;
        case 'invalid':
          request.codes[index] = this.v5 ? Reason.TOPIC_FILTER_INVALID : SUBACK_FAILURE_V4;
          return;
        case 'shared': {
          // Set before joining: the session saves them with the group (No Local was refused above).
          this.options.subscriptionOptions.setShared(target.group, target.filter, {
            ...(subscription.rap === true ? { retainAsPublished: true } : {}),
            ...(subscriptionId !== undefined ? { subscriptionId } : {}),
          });
          // A shared message goes to one connected member; stored ones wait for its PUBACK.
          const refusal = this.options.shares.joinGroup(target.group, target.filter, qos);
          if (refusal !== undefined) this.options.subscriptionOptions.removeShared(target.group, target.filter);
          request.codes[index] = refusal === undefined ? qos : this.v5 ? refusal : SUBACK_FAILURE_V4;
          return;
        }
        case 'filter': {
          const seq = this.nextSeq();
          request.waiting++;
          const existed = this.filters.has(target.filter);
          this.filters.add(target.filter);
          this.options.subscriptionOptions.set(target.filter, {
            ...(subscription.nl === true ? { noLocal: true } : {}),
            ...(subscription.rap === true ? { retainAsPublished: true } : {}),
            ...(subscriptionId !== undefined ? { subscriptionId } : {}),
          });
          // Retain handling (5.0): 0 (3.1.1 always) sends retained messages, 1 only for a new subscription, 2 never.
          const sendRetained = subscription.rh === 2 ? false : subscription.rh === 1 ? !existed : true;
          const granted: GrantedFilter = { filter: target.filter, qos, ...(subscriptionId !== undefined ? { subscriptionId } : {}) };
          this.expectReply(seq, { kind: 'suback', request, index, granted, sendRetained, existed });
          effects.push({ type: 'frame', frame: { kind: FrameKind.SUB, seq, filters: [target.filter], qos } });
        }
      }
    });
    if (request.waiting === 0) effects.push(...this.suback(request));
    return effects;
  }

  private onUnsubscribe(packet: IUnsubscribePacket): ChannelEffect[] {
    if (packet.unsubscriptions.length === 0) return [{ type: 'close', reason: Reason.PROTOCOL_ERROR, message: 'UNSUBSCRIBE without a topic filter' }];
    const filters: string[] = [];
    for (const filter of packet.unsubscriptions) {
      const target = subscribeTarget(filter, this.options.clientId);
      if (target.kind === 'filter') {
        filters.push(filter);
        this.filters.delete(filter);
        this.options.subscriptionOptions.remove(filter);
      }
      if (target.kind === 'shared') {
        this.options.shares.leaveGroup(target.group, target.filter);
        this.options.subscriptionOptions.removeShared(target.group, target.filter);
      }
    }
    const count = packet.unsubscriptions.length;
    if (filters.length === 0) return [this.unsuback(packet.messageId!, count)];
    const seq = this.nextSeq();
    this.expectReply(seq, { kind: 'unsuback', packetId: packet.messageId!, count });
    return [{ type: 'frame', frame: { kind: FrameKind.UNSUB, seq, filters } }];
  }

  /** Whether every delivery is the same PUBLISH for this client as for any other of its protocol version. */
  get plainDeliveries(): boolean {
    return this.options.subscriptionOptions.none;
  }

  /**
   * The PUBLISH that delivers `msg` (QoS 1: with its packet id, DUP when sent before); or, for
   * a message its subscriptions' No Local keeps from it, the effects that pass over it.
   */
  deliver(msg: MsgFrame): IPublishPacket | ChannelEffect[] {
    const options = this.options.subscriptionOptions;
    const forwarding = options.none ? undefined : options.forwarding(msg.stream, msg.from === this.options.clientId, this.filters);
    if (forwarding?.skip) return this.passOver(msg);
    const packet = qos0Publish(msg, this.v5);
    if (forwarding) {
      if (forwarding.keepRetain && msg.retain) packet.retain = true;
      if (forwarding.subscriptionIds.length > 0) withSubscriptionIds(packet, forwarding.subscriptionIds);
    }
    if (msg.qos === 0 || msg.epoch === undefined) return packet;
    const { packetId, resent } = this.outgoingQos1().packetIdFor(msg.stream, msg.offset);
    const seenBefore = this.sentBefore.sendingNow(this.options.clientId, msg.stream, msg.offset);
    packet.qos = 1;
    packet.messageId = packetId;
    packet.dup = resent || seenBefore || (msg.delivery ?? 1) > 1;
    return packet;
  }

  /** A stored message not sent: acknowledged at once, so the cursor moves over it. */
  private passOver(msg: MsgFrame): ChannelEffect[] {
    if (msg.qos === 0 || msg.epoch === undefined) return [];
    const qos1 = this.outgoingQos1();
    const { packetId } = qos1.packetIdFor(msg.stream, msg.offset);
    const through = qos1.acknowledge(packetId);
    return through ? [{ type: 'frame', frame: { kind: FrameKind.ACK, seq: this.nextSeq(), ...through } }] : [];
  }

  /**
   * A retained message for a subscription just granted at `qos`: sent with the retain flag, at the
   * lower of its own QoS and the subscription's. A QoS 1 copy has a packet id of its own and moves
   * no cursor when acknowledged.
   */
  retainedPacket(message: RetainedMessage, { qos, subscriptionId }: GrantedFilter): IPublishPacket {
    const packet: IPublishPacket = { cmd: 'publish', topic: message.topic, payload: Buffer.from(message.payload), qos: 0, dup: false, retain: true };
    if (this.v5 && message.props) packet.properties = toMqttProperties(message.props);
    if (subscriptionId !== undefined) withSubscriptionIds(packet, [subscriptionId]);
    if (Math.min(message.qos, qos) === 1) {
      packet.qos = 1;
      packet.messageId = this.outgoingQos1().packetIdForUnstored(() => undefined);
    }
    return packet;
  }

  /**
   * A message of a `$share` group this client is a member of, at the member's `qos`: a stored
   * one at QoS 1 goes out on a packet id of its own (the group, not this client's cursor, waits
   * for its PUBACK and calls `acked`).
   */
  sharedDelivery(msg: MsgFrame, { group, filter }: SharedSubscription, qos: 0 | 1, dup: boolean, acked: () => void): IPublishPacket {
    const packet = qos0Publish(msg, this.v5);
    const flags = this.options.subscriptionOptions.sharedFlagsOf(group, filter);
    if (flags?.retainAsPublished && msg.retain) packet.retain = true;
    if (flags?.subscriptionId !== undefined) withSubscriptionIds(packet, [flags.subscriptionId]);
    if (qos === 0 || msg.epoch === undefined) return packet;
    packet.qos = 1;
    packet.dup = dup;
    packet.messageId = this.outgoingQos1().packetIdForUnstored(acked);
    return packet;
  }


  /** The reply to request `ref`: OK (`reason` SUCCESS) or ERROR `code`. */
  private reply(ref: number, reason: Reason | undefined, code?: number): ChannelEffect[] {
    const request = this.pending?.get(ref);
    if (!request) return [];
    this.pending!.delete(ref);
    if (this.pending!.size === 0) this.pending = undefined;
    switch (request.kind) {
      case 'puback': {
        // 3.1.1 has no way to refuse a publish but closing; like Mosquitto and EMQX, relaymesh
        // acknowledges it (the message went nowhere). 5.0 gets the reason code.
        const reasonCode = reason ?? refusalReason(code!, 'publish');
        return [{ type: 'packet', packet: { cmd: 'puback', messageId: request.packetId, ...(this.v5 ? { reasonCode } : {}) } }];
      }
      case 'suback': {
        const r = request.request;
        const { filter, qos } = request.granted;
        r.codes[request.index] = reason === Reason.SUCCESS ? qos : this.v5 ? refusalReason(code!, 'subscribe') : SUBACK_FAILURE_V4;
        if (reason === Reason.SUCCESS && request.sendRetained) r.granted.push(request.granted);
        if (reason !== Reason.SUCCESS && !request.existed) {
          this.filters.delete(filter);
          this.options.subscriptionOptions.remove(filter);
        }
        r.waiting--;
        return r.waiting === 0 ? this.suback(r) : [];
      }
      case 'unsuback':
        return [this.unsuback(request.packetId, request.count)];
    }
  }

  private suback(request: SubscribeRequest): ChannelEffect[] {
    const granted = request.codes.map((c) => c ?? Reason.UNSPECIFIED_ERROR);
    const effects: ChannelEffect[] = [{ type: 'packet', packet: { cmd: 'suback', messageId: request.packetId, granted } }];
    if (request.granted.length > 0) effects.push({ type: 'granted', filters: request.granted });
    return effects;
  }

  private unsuback(packetId: number, count: number): ChannelEffect {
    return { type: 'packet', packet: { cmd: 'unsuback', messageId: packetId, granted: this.v5 ? Array(count).fill(Reason.SUCCESS) : [] } };
  }

  /** `seq` is a request whose reply becomes an acknowledgement (see `reply`). */
  private expectReply(seq: number, pending: Pending): void {
    (this.pending ??= new Map()).set(seq, pending);
  }

  private outgoingQos1(): OutgoingQos1 {
    return (this.qos1 ??= new OutgoingQos1());
  }

  private nextSeq(): number {
    this.seq = (this.seq % 0x7fffffff) + 1;
    return this.seq;
  }
}

/** Adds the 5.0 Subscription Identifiers of the subscriptions a PUBLISH is for. */
function withSubscriptionIds(packet: IPublishPacket, ids: number[]): void {
  packet.properties = { ...packet.properties, subscriptionIdentifier: ids.length === 1 ? ids[0]! : ids };
}
