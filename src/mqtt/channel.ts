import type { IPublishPacket, ISubscribePacket, IUnsubscribePacket, Packet } from 'mqtt-packet';
import { FrameKind, MAX_USER_PROPERTIES, type Frame, type MessageProperties, type MsgFrame } from '../protocol/index.js';
import { OutgoingQos1 } from './outgoing-qos1.js';
import { fromMqttProperties, toMqttProperties } from './publication-properties.js';
import { Reason, SUBACK_FAILURE_V4, refusalReason } from './reason-codes.js';
import type { RetainedMessage } from './retained-store.js';
import type { ClientSentHistory } from './sent-history.js';
import { publishTarget, subscribeTarget } from './topic-mapping.js';

/** What the connection must do; the channel itself does no I/O (group subscriptions go through `shares`). */
export type ChannelEffect =
  /** Write an MQTT packet to the client. */
  | { type: 'packet'; packet: Packet }
  /** Hand a relaymesh frame to the device actor, in order with the others. */
  | { type: 'frame'; frame: Frame }
  /** A retained PUBLISH to store (or clear, when empty) once the ACL allowed it. */
  | { type: 'retain'; topic: string; payload: Uint8Array; qos: 0 | 1; props: MessageProperties | undefined }
  /** Subscriptions granted whose retained messages are wanted: send them. */
  | { type: 'granted'; filters: { filter: string; qos: 0 | 1 }[] }
  /** The client said goodbye (DISCONNECT). */
  | { type: 'goodbye'; publishWill: boolean; sessionExpirySeconds?: number }
  /** Close the connection: DISCONNECT with `reason` first (5.0), then end the transport. */
  | { type: 'close'; reason: Reason; message: string };

export interface ChannelOptions {
  clientId: string;
  protocolVersion: 4 | 5;
  /** Topic aliases the client may set (5.0); 0: none. */
  topicAliasMaximum: number;
  /** `$share/<group>/<filter>` subscriptions of this client: join returns a refusal, if any. */
  shares: { join(group: string, filter: string, qos: 0 | 1): Reason | undefined; leave(group: string, filter: string): void };
}

/** A request sent to the device actor whose reply becomes an MQTT acknowledgement. */
type Pending =
  | { kind: 'puback'; packetId: number }
  /** One filter of a SUBSCRIBE: its reply fills slot `index` of the SUBACK. */
  | { kind: 'suback'; request: SubscribeRequest; index: number; filter: string; qos: 0 | 1; sendRetained: boolean }
  | { kind: 'unsuback'; packetId: number; count: number };

interface SubscribeRequest {
  packetId: number;
  codes: (number | undefined)[];
  waiting: number;
  /** Filters granted so far: their retained messages follow the SUBACK. */
  granted: { filter: string; qos: 0 | 1 }[];
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
  private readonly pending = new Map<number, Pending>();
  private readonly qos1 = new OutgoingQos1();
  private readonly topicAliases = new Map<number, string>();

  constructor(
    private readonly options: ChannelOptions,
    /** What this client id may have been sent before (redeliveries carry DUP). */
    private readonly sentBefore: ClientSentHistory,
  ) {}

  get v5(): boolean {
    return this.options.protocolVersion === 5;
  }

  onPacket(packet: Packet): ChannelEffect[] {
    switch (packet.cmd) {
      case 'publish':
        return this.onPublish(packet);
      case 'puback': {
        const through = packet.messageId === undefined ? undefined : this.qos1.acknowledge(packet.messageId);
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
        this.qos1.forgetStream(frame.stream);
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
        const known = this.topicAliases.get(alias);
        if (known === undefined) return [{ type: 'close', reason: Reason.PROTOCOL_ERROR, message: `unknown topic alias ${alias}` }];
        topic = known;
      } else {
        this.topicAliases.set(alias, topic);
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
    if (qos === 1) this.pending.set(seq, { kind: 'puback', packetId: packet.messageId! });
    const target = publishTarget(topic);
    const frame: Frame =
      target.kind === 'inbox'
        ? { kind: FrameKind.SEND, seq, target: target.target, payload, qos }
        : { kind: FrameKind.PUB, seq, topic: target.topic, payload, qos };
    if (props) frame.props = props;
    const effects: ChannelEffect[] = [{ type: 'frame', frame }];
    if (packet.retain && target.kind === 'topic') effects.push({ type: 'retain', topic, payload, qos, props });
    return effects;
  }

  private onSubscribe(packet: ISubscribePacket): ChannelEffect[] {
    if (packet.subscriptions.length === 0) return [{ type: 'close', reason: Reason.PROTOCOL_ERROR, message: 'SUBSCRIBE without a topic filter' }];
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
          // A shared message goes to one connected member; stored ones wait for its PUBACK.
          const refusal = this.options.shares.join(target.group, target.filter, qos);
          request.codes[index] = refusal === undefined ? qos : this.v5 ? refusal : SUBACK_FAILURE_V4;
          return;
        }
        case 'filter': {
          const seq = this.nextSeq();
          request.waiting++;
          // Retain handling 2 (5.0): no retained messages for this subscription.
          const sendRetained = subscription.rh !== 2;
          this.pending.set(seq, { kind: 'suback', request, index, filter: target.filter, qos, sendRetained });
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
      if (target.kind === 'filter') filters.push(filter);
      if (target.kind === 'shared') this.options.shares.leave(target.group, target.filter);
    }
    const count = packet.unsubscriptions.length;
    if (filters.length === 0) return [this.unsuback(packet.messageId!, count)];
    const seq = this.nextSeq();
    this.pending.set(seq, { kind: 'unsuback', packetId: packet.messageId!, count });
    return [{ type: 'frame', frame: { kind: FrameKind.UNSUB, seq, filters } }];
  }

  /** The PUBLISH that delivers `msg` (QoS 1: with its packet id, DUP when sent before). */
  deliver(msg: MsgFrame): IPublishPacket {
    const packet = qos0Publish(msg, this.v5);
    if (msg.qos === 0 || msg.epoch === undefined) return packet;
    const { packetId, resent } = this.qos1.packetIdFor(msg.stream, msg.offset);
    const seenBefore = this.sentBefore.sendingNow(msg.stream, msg.offset);
    packet.qos = 1;
    packet.messageId = packetId;
    packet.dup = resent || seenBefore || (msg.delivery ?? 1) > 1;
    return packet;
  }

  /**
   * A retained message for a subscription just granted at `qos`: sent with the retain flag, at the
   * lower of its own QoS and the subscription's. A QoS 1 copy has a packet id of its own and moves
   * no cursor when acknowledged.
   */
  retainedPacket(message: RetainedMessage, qos: 0 | 1): IPublishPacket {
    const packet: IPublishPacket = { cmd: 'publish', topic: message.topic, payload: Buffer.from(message.payload), qos: 0, dup: false, retain: true };
    if (this.v5 && message.props) packet.properties = toMqttProperties(message.props);
    if (Math.min(message.qos, qos) === 1) {
      packet.qos = 1;
      packet.messageId = this.qos1.packetIdForUnstored(() => undefined);
    }
    return packet;
  }

  /**
   * A message of a `$share` group this client is a member of, at the member's `qos`: a stored
   * one at QoS 1 goes out on a packet id of its own (the group, not this client's cursor, waits
   * for its PUBACK and calls `acked`).
   */
  sharedDelivery(msg: MsgFrame, qos: 0 | 1, dup: boolean, acked: () => void): IPublishPacket {
    const packet = qos0Publish(msg, this.v5);
    if (qos === 0 || msg.epoch === undefined) return packet;
    packet.qos = 1;
    packet.dup = dup;
    packet.messageId = this.qos1.packetIdForUnstored(acked);
    return packet;
  }


  /** The reply to request `ref`: OK (`reason` SUCCESS) or ERROR `code`. */
  private reply(ref: number, reason: Reason | undefined, code?: number): ChannelEffect[] {
    const request = this.pending.get(ref);
    if (!request) return [];
    this.pending.delete(ref);
    switch (request.kind) {
      case 'puback': {
        // 3.1.1 has no way to refuse a publish but closing; like Mosquitto and EMQX, relaymesh
        // acknowledges it (the message went nowhere). 5.0 gets the reason code.
        const reasonCode = reason ?? refusalReason(code!, 'publish');
        return [{ type: 'packet', packet: { cmd: 'puback', messageId: request.packetId, ...(this.v5 ? { reasonCode } : {}) } }];
      }
      case 'suback': {
        const r = request.request;
        r.codes[request.index] = reason === Reason.SUCCESS ? request.qos : this.v5 ? refusalReason(code!, 'subscribe') : SUBACK_FAILURE_V4;
        if (reason === Reason.SUCCESS && request.sendRetained) r.granted.push({ filter: request.filter, qos: request.qos });
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

  private nextSeq(): number {
    this.seq = (this.seq % 0x7fffffff) + 1;
    return this.seq;
  }
}
