/**
 * The lean MQTT subscriber of the fan-out bench (`--mqtt-client lean`): one MQTT 3.1.1
 * connection over TCP (`mqtt://host:port`) or WebSocket (`ws://…`, subprotocol `mqtt`) that
 * says CONNECT and SUBSCRIBE (written by mqtt-packet, as mqtt.js does) and then only cuts the
 * inbound stream into packets (MqttFramer), hands each payload over without copying it, and
 * answers QoS 1 PUBLISHes with PUBACKs, one write per chunk read. An mqtt.js client spends
 * 12–16 µs of CPU per delivery, more than the servers under test: this one lets a few client
 * processes hold a fleet fast enough to measure the server.
 */
import { connect as connectTcp, type Socket } from 'node:net';
import mqttPacket from 'mqtt-packet';
import WebSocket from 'ws';
import type { Qos } from '../../src/index.js';
import { zeroMask } from '../fleet/device-fleet.js';
import { nowUs } from './clock.js';
import { MqttFramer, PacketType, pubacks, type FramerHandler } from './mqtt-framer.js';

export interface LeanSubscriberOptions {
  url: string;
  clientId: string;
  topic: string;
  qos: Qos;
  timeoutMs: number;
  localAddress: string | undefined;
  /** A delivery: its payload is `bytes[start, end)`, valid only during the call; `atUs` is when its chunk was read. */
  onDelivery(bytes: Buffer, start: number, end: number, atUs: number): void;
  /** A read from the socket once subscribed (frames per read shows how the server batched). */
  onRead(): void;
  /** The server closed a subscribed connection. */
  onClosed(): void;
  /** Bytes that are not MQTT (the connection is then dropped). */
  onMalformed(): void;
}

export interface LeanSubscriber {
  terminate(): void;
}

/** What a lean connection writes and how it is dropped, over TCP or WebSocket. */
interface Wire {
  write(bytes: Buffer): void;
  destroy(): void;
}

/** CONNACK accepted, SUBACK granted: the first byte of the return codes (MQTT 3.1.1 §3.2.2.3, §3.9.3). */
const ACCEPTED = 0;
const SUBACK_FAILURE = 0x80;
const SUBSCRIBE_ID = 1;

/** Connects and subscribes; resolves with the subscriber, or with why it failed. */
export function openLeanSubscriber(o: LeanSubscriberOptions): Promise<LeanSubscriber | string> {
  return new Promise((resolve) => {
    let phase: 'connack' | 'suback' | 'live' | 'closed' = 'connack';
    const acks: number[] = [];
    /** One clock read per chunk, not per packet: the packets of one read arrived together. */
    let chunkAtUs = 0;
    const timer = setTimeout(() => fail('no CONNACK/SUBACK in time'), o.timeoutMs);
    const fail = (why: string): void => {
      clearTimeout(timer);
      if (phase === 'live' || phase === 'closed') return;
      phase = 'closed';
      wire.destroy();
      resolve(why);
    };
    const handler: FramerHandler = {
      publish(bytes, start, end, qos, packetId) {
        if (qos > 0) acks.push(packetId);
        o.onDelivery(bytes, start, end, chunkAtUs);
      },
      control(type, bytes, start) {
        if (phase === 'connack' && type === PacketType.CONNACK) {
          if (bytes[start + 1] !== ACCEPTED) return fail(`CONNACK return code ${bytes[start + 1]}`);
          phase = 'suback';
          wire.write(mqttPacket.generate({ cmd: 'subscribe', messageId: SUBSCRIBE_ID, subscriptions: [{ topic: o.topic, qos: o.qos }] }));
        } else if (phase === 'suback' && type === PacketType.SUBACK) {
          if (bytes[start + 2] === SUBACK_FAILURE) return fail('SUBACK refused the subscription');
          phase = 'live';
          clearTimeout(timer);
          resolve({ terminate: () => wire.destroy() });
        }
      },
    };
    const framer = new MqttFramer(handler);
    const onBytes = (chunk: Buffer): void => {
      chunkAtUs = nowUs();
      try {
        framer.push(chunk);
      } catch {
        o.onMalformed();
        wire.destroy();
        return;
      }
      if (acks.length > 0) {
        wire.write(pubacks(acks));
        acks.length = 0;
      }
    };
    const onOpen = (): void => wire.write(mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, clientId: o.clientId, keepalive: 0 }));
    const onClose = (): void => {
      if (phase === 'live') o.onClosed();
      fail('closed before subscribing');
      phase = 'closed';
    };
    const events: WireEvents = { onOpen, onBytes, onRead: () => phase === 'live' && o.onRead(), onClose, fail };
    const wire = o.url.startsWith('mqtt://') ? tcpWire(o, events) : wsWire(o, events);
  });
}

interface WireEvents {
  onOpen(): void;
  /** The MQTT byte stream, in whatever chunks it arrives. */
  onBytes(chunk: Buffer): void;
  /** One TCP read. */
  onRead(): void;
  onClose(): void;
  fail(why: string): void;
}

function tcpWire(o: LeanSubscriberOptions, on: WireEvents): Wire {
  const { hostname, port } = new URL(o.url);
  const socket: Socket = connectTcp({ host: hostname, port: Number(port), noDelay: true, ...(o.localAddress ? { localAddress: o.localAddress } : {}) });
  socket.on('connect', on.onOpen);
  socket.on('data', (chunk: Buffer) => {
    on.onRead();
    on.onBytes(chunk);
  });
  socket.on('error', (err) => on.fail(err.message));
  socket.on('close', on.onClose);
  return { write: (bytes) => void socket.write(bytes), destroy: () => void socket.destroy() };
}

function wsWire(o: LeanSubscriberOptions, on: WireEvents): Wire {
  const ws = new WebSocket(o.url, 'mqtt', {
    perMessageDeflate: false,
    skipUTF8Validation: true,
    generateMask: zeroMask,
    handshakeTimeout: o.timeoutMs,
    ...(o.localAddress ? { localAddress: o.localAddress } : {}),
  });
  ws.on('upgrade', (res) => res.socket.on('data', on.onRead));
  ws.on('open', on.onOpen);
  // Servers may split a packet over WebSocket messages or pack several into one: the framer takes the stream as it comes.
  ws.on('message', on.onBytes);
  ws.on('error', (err) => on.fail(err.message));
  ws.on('close', on.onClose);
  return { write: (bytes) => ws.send(bytes), destroy: () => ws.terminate() };
}
