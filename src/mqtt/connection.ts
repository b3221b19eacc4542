import { isUtf8 } from 'node:buffer';
import mqttPacket, { type IConnectPacket, type Packet } from 'mqtt-packet';
import type { DeviceConnection, LiveDevice } from '../broker/device-registry.js';
import type { FrameRateLimiter } from '../broker/connection-limits.js';
import { CloseCode, FrameKind, decodeFrame, type Frame, type MessageTally, type MsgFrame, type OutgoingMsg } from '../protocol/index.js';
import { qos0Publish, type ChannelEffect, type MqttChannel, type ShareGroups } from './channel.js';
import type { SharedSubscription } from './shared-subscriptions.js';
import type { MqttLink, MqttReceiver } from './link.js';
import { decodePacket } from './packet-decoder.js';
import { PacketFramer } from './packet-framer.js';
import { Reason, disconnectReason } from './reason-codes.js';
import type { SharedMember } from './shared-subscriptions.js';

/** Packets a client may pipeline after CONNECT while it is being authenticated. */
const MAX_QUEUED_DURING_CONNECT = 64;

/** Relaymesh frames decoded once per message, however many MQTT clients it goes to. */
const decodedFrames = new WeakMap<Uint8Array, Frame>();
/** Packets to bytes, per protocol version. */
const generate = {
  4: (packet: Packet): Uint8Array => mqttPacket.generate(packet, { protocolVersion: 4 }),
  5: (packet: Packet): Uint8Array => mqttPacket.generate(packet, { protocolVersion: 5 }),
};
/** A live message's QoS 0 PUBLISH, per protocol version. */
const publishOf = {
  4: (frame: MsgFrame): Uint8Array => generate[4](qos0Publish(frame, false)),
  5: (frame: MsgFrame): Uint8Array => generate[5](qos0Publish(frame, true)),
};
/** A live message's PUBLISH bytes, made once per message and protocol version (see OutgoingMsg). */
const livePublish = {
  4: (msg: OutgoingMsg): Uint8Array => msg.encodedBy(publishOf[4]),
  5: (msg: OutgoingMsg): Uint8Array => msg.encodedBy(publishOf[5]),
};

function decodedOnce(bytes: Uint8Array): Frame | undefined {
  let frame = decodedFrames.get(bytes);
  if (!frame) {
    const decoded = decodeFrame(bytes);
    if (!decoded.ok) return undefined;
    frame = decoded.frame;
    decodedFrames.set(bytes, frame);
  }
  return frame;
}

/** What the connection asks of the MQTT front. */
export interface ConnectionOwner {
  /** The first packet was CONNECT: authenticate, admit, answer with CONNACK. */
  connect(conn: MqttConnection, packet: IConnectPacket): void;
  /** Effects the channel leaves to the front (retained messages, goodbye). */
  carryOut(conn: MqttConnection, effect: Extract<ChannelEffect, { type: 'retain' | 'granted' | 'goodbye' }>): void;
  /** The transport is gone. */
  closed(conn: MqttConnection): void;
  /** A bug met on this connection (it is being closed). */
  failed(conn: MqttConnection, err: unknown): void;
  /** The live client joins a `$share` group: a refusal, if any. */
  joinGroup(conn: MqttConnection, group: string, filter: string, qos: 0 | 1): Reason | undefined;
  leaveGroup(conn: MqttConnection, group: string, filter: string): void;
  /** A PUBACK may have made room in the client's receive maximum for messages its groups hold back. */
  roomFreed(conn: MqttConnection): void;
}

/** Once CONNECT was accepted. */
export interface LiveMqtt {
  channel: MqttChannel;
  device: LiveDevice;
  limiter: FrameRateLimiter;
  /** Largest packet the client accepts (5.0 maximum packet size). */
  maxOutgoingBytes: number;
}

type Phase = { name: 'awaiting-connect' } | { name: 'connecting'; queued: Packet[] } | ({ name: 'live' } & LiveMqtt) | { name: 'closed' };

/**
 * One MQTT client connection (TCP or WebSocket): bytes → packets (framing, size limit,
 * parsing) → channel → effects carried out here; relaymesh frames written to it by the device
 * actor, fan-out and outbox are turned into MQTT packets by the channel. Never throws on input.
 */
export class MqttConnection implements DeviceConnection, MqttReceiver, SharedMember, ShareGroups {
  private phase: Phase = { name: 'awaiting-connect' };
  private readonly framer: PacketFramer;
  readonly openedAt = Date.now();
  lastSeenAt = Date.now();
  /** Keep-alive in ms (1.5 × the client's); 0: none. */
  keepAliveMs = 0;
  /** From CONNECT: how packets are encoded. */
  protocolVersion: 4 | 5 = 4;
  /** QoS 1 messages of `$share` groups sent and not acknowledged yet. */
  private sharedInflight = 0;

  constructor(
    readonly id: string,
    private readonly link: MqttLink,
    private readonly owner: ConnectionOwner,
    maxPacketBytes: number,
    readonly tally: MessageTally,
  ) {
    this.framer = new PacketFramer(maxPacketBytes);
  }

  get remoteAddress(): string {
    return this.link.remoteAddress;
  }

  get framesDropped(): number {
    return this.link.framesDropped;
  }

  get closed(): boolean {
    return this.phase.name === 'closed';
  }

  get live(): LiveMqtt | undefined {
    return this.phase.name === 'live' ? this.phase : undefined;
  }

  get connecting(): boolean {
    return this.phase.name === 'awaiting-connect' || this.phase.name === 'connecting';
  }

  receive(chunk: Buffer): void {
    try {
      this.receivePackets(chunk);
    } catch (err) {
      this.owner.failed(this, err);
      this.refuse(Reason.IMPLEMENTATION_SPECIFIC_ERROR, 'internal error');
    }
  }

  private receivePackets(chunk: Buffer): void {
    if (this.closed) return;
    const now = (this.lastSeenAt = Date.now());
    const framed = this.framer.push(chunk);
    if (!framed.ok) {
      if (framed.reason === 'too-large') this.refuse(Reason.PACKET_TOO_LARGE, `packet of ${framed.size} bytes is over the limit`);
      else this.refuse(Reason.MALFORMED_PACKET, 'malformed remaining length');
      return;
    }
    for (const bytes of framed.packets) {
      const live = this.live;
      if (live) {
        const verdict = live.limiter.check(bytes.length, now);
        if (verdict === 'abusive') return this.refuse(Reason.MESSAGE_RATE_TOO_HIGH, 'repeatedly over the rate limit');
        if (verdict === 'limited') continue;
      }
      // mqtt-packet decodes strings leniently: invalid UTF-8 in a topic name is malformed (spec 1.5.4-1).
      if (!publishTopicIsUtf8(bytes)) return this.refuse(Reason.MALFORMED_PACKET, 'topic name is not valid UTF-8');
      const decoded = decodePacket(bytes, this.protocolVersion);
      if (!decoded.ok) return this.refuse(Reason.MALFORMED_PACKET, decoded.message);
      this.onPacket(decoded.packet);
      if (this.closed) return;
    }
  }

  /** Called by the front once CONNECT is accepted and CONNACK written. */
  goLive(live: LiveMqtt): void {
    const queued = this.phase.name === 'connecting' ? this.phase.queued : [];
    this.phase = { name: 'live', ...live };
    for (const packet of queued) {
      if (this.closed) return;
      this.apply(live.channel.onPacket(packet));
    }
  }

  /** Writes an MQTT packet (CONNACK, deliveries, acks). */
  send(packet: Packet, droppable = false): void {
    this.sendEncoded(generate[this.protocolVersion], packet, droppable);
  }

  /** A live QoS 0 message from the fan-out or a QoS 0 send: its PUBLISH is encoded once for every client of this version. */
  deliver(msg: OutgoingMsg): void {
    const live = this.live;
    if (!live) return;
    if (live.channel.plainDeliveries) this.sendEncoded(livePublish[this.protocolVersion], msg, true);
    // No Local, Retain As Published or subscription ids set: this client's PUBLISH is its own.
    else this.deliverFrame(msg.frame, true);
  }

  /** A relaymesh frame for this device, from its actor or its outbox. */
  write(bytes: Uint8Array, droppable = false): void {
    const live = this.live;
    if (!live) return;
    const frame = decodedOnce(bytes);
    if (!frame) return;
    if (frame.kind === FrameKind.MSG) {
      this.deliverFrame(frame, droppable);
      return;
    }
    this.apply(live.channel.onFrame(frame));
  }

  private deliverFrame(frame: MsgFrame, droppable: boolean): void {
    const delivery = this.live!.channel.deliver(frame);
    if (Array.isArray(delivery)) this.apply(delivery);
    else this.send(delivery, droppable);
  }

  /** A message of a `$share` group this client is in (see SharedMember). */
  deliverShared(bytes: Uint8Array, subscription: SharedSubscription, qos: 0 | 1, dup: boolean, acked: () => void): void {
    const live = this.live;
    const frame = live && decodedOnce(bytes);
    if (frame?.kind !== FrameKind.MSG) return;
    const counted =
      qos === 1
        ? () => {
            this.sharedInflight--;
            acked();
          }
        : acked;
    const packet = live!.channel.sharedDelivery(frame, subscription, qos, dup, counted);
    if (packet.qos === 1) this.sharedInflight++;
    this.send(packet, packet.qos === 0);
  }

  /** Room in the receive maximum: what the outbox has in flight and the groups' messages count together. */
  hasRoom(): boolean {
    const outbox = this.live?.device.outbox;
    return outbox !== undefined && this.sharedInflight + outbox.inflightCount < outbox.maxInflight;
  }

  joinGroup(group: string, filter: string, qos: 0 | 1): Reason | undefined {
    return this.owner.joinGroup(this, group, filter, qos);
  }

  leaveGroup(group: string, filter: string): void {
    this.owner.leaveGroup(this, group, filter);
  }

  roomFreed(): void {
    this.owner.roomFreed(this);
  }

  /** Closes from the broker side: 5.0 clients get a DISCONNECT with the reason first. */
  close(code: CloseCode, reason: string): void {
    if (this.closed) return;
    this.disconnect(disconnectReason(code), reason);
  }

  linkClosed(): void {
    this.phase = { name: 'closed' };
    this.owner.closed(this);
  }

  /** Refuses the connection or a packet: DISCONNECT (5.0, once live) with `reason`, then close. */
  refuse(reason: Reason, message: string): void {
    if (this.closed) return;
    this.disconnect(reason, message);
  }

  /** Closes without a DISCONNECT (the client sent one). */
  end(): void {
    if (this.closed) return;
    this.phase = { name: 'closed' };
    this.link.end();
  }

  private sendEncoded<T>(encode: (what: T) => Uint8Array, what: T, droppable: boolean): void {
    if (this.closed) return;
    let bytes: Uint8Array;
    try {
      bytes = encode(what);
    } catch (err) {
      // A packet the library cannot encode is a broker bug: close this connection, keep the broker.
      this.owner.failed(this, err);
      this.phase = { name: 'closed' };
      this.link.end();
      return;
    }
    const live = this.live;
    // 5.0: a packet over the client's maximum is not sent (as if delivered, spec §3.1.2.11.4).
    if (live && bytes.length > live.maxOutgoingBytes) return;
    this.link.write(bytes, droppable);
  }

  private disconnect(reason: Reason, message: string): void {
    const live = this.live;
    if (live && this.protocolVersion === 5) {
      this.send({ cmd: 'disconnect', reasonCode: reason, properties: { reasonString: message.slice(0, 200) } });
    }
    this.phase = { name: 'closed' };
    this.link.end();
  }

  private onPacket(packet: Packet): void {
    switch (this.phase.name) {
      case 'awaiting-connect':
        if (packet.cmd !== 'connect') return this.refuse(Reason.PROTOCOL_ERROR, 'the first packet must be CONNECT');
        this.phase = { name: 'connecting', queued: [] };
        this.protocolVersion = packet.protocolVersion === 5 ? 5 : 4;
        this.owner.connect(this, packet);
        return;
      case 'connecting':
        if (this.phase.queued.length >= MAX_QUEUED_DURING_CONNECT) return this.refuse(Reason.PROTOCOL_ERROR, 'too many packets before CONNACK');
        this.phase.queued.push(packet);
        return;
      case 'live':
        this.apply(this.phase.channel.onPacket(packet));
        return;
      case 'closed':
        return;
    }
  }

  private apply(effects: ChannelEffect[]): void {
    for (const effect of effects) {
      switch (effect.type) {
        case 'packet':
          this.send(effect.packet);
          break;
        case 'frame': {
          const live = this.live;
          if (live) live.device.actor.post({ type: 'frame', frame: effect.frame });
          break;
        }
        case 'close':
          this.refuse(effect.reason, effect.message);
          break;
        default:
          this.owner.carryOut(this, effect);
      }
    }
  }
}

/** Whether `packet` (one whole packet) is not a PUBLISH, or one whose topic name bytes are valid UTF-8. */
function publishTopicIsUtf8(packet: Buffer): boolean {
  if (packet[0]! >> 4 !== 3) return true;
  let at = 1;
  while (at < 5 && at < packet.length && packet[at]! & 0x80) at++;
  const start = at + 3;
  if (start > packet.length) return true; // too short to hold a topic: the parser refuses it
  const end = start + packet.readUInt16BE(start - 2);
  return end > packet.length || isUtf8(packet.subarray(start, end));
}
