/**
 * The lean MQTT subscriber of the fan-out bench (`--mqtt-client lean`): one MQTT 3.1.1
 * connection over TCP (`mqtt://host:port`) or WebSocket (`ws://…`, subprotocol `mqtt`, its
 * frames cut by WsDeframer) that says CONNECT and SUBSCRIBE (written by mqtt-packet, as mqtt.js
 * does) and then only cuts the inbound stream into packets (MqttFramer), hands each payload
 * over without copying it, and answers QoS 1 PUBLISHes with PUBACKs, one write per TCP read.
 * An mqtt.js client spends 10–16 µs of CPU per delivery, more than the servers under test: this
 * one lets a few client processes hold a fleet fast enough to measure the server.
 */
import { randomBytes } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { connect as connectTcp, type Socket } from 'node:net';
import mqttPacket from 'mqtt-packet';
import type { Qos } from '../../src/index.js';
import { nowUs } from './clock.js';
import { MqttFramer, PacketType, pubacks, type FramerHandler } from './mqtt-framer.js';
import { PONG, WsDeframer, clientFrame } from './ws-deframer.js';

export interface LeanSubscriberOptions {
  url: string;
  clientId: string;
  topic: string;
  qos: Qos;
  timeoutMs: number;
  localAddress: string | undefined;
  /** A delivery: its payload is `bytes[start, end)`, valid only during the call; `atUs` is when its TCP read came. */
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
    /** One clock read per TCP read, not per packet: the packets of one read arrived together. */
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
    const onRead = (): void => {
      chunkAtUs = nowUs();
      if (phase === 'live') o.onRead();
    };
    const onBytes = (bytes: Buffer): void => {
      try {
        framer.push(bytes);
      } catch {
        o.onMalformed();
        wire.destroy();
      }
    };
    const onReadDone = (): void => {
      if (acks.length === 0) return;
      wire.write(pubacks(acks));
      acks.length = 0;
    };
    const onOpen = (): void => wire.write(mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, clientId: o.clientId, keepalive: 0 }));
    const onClose = (): void => {
      if (phase === 'live') o.onClosed();
      fail('closed before subscribing');
      phase = 'closed';
    };
    const events: WireEvents = { onOpen, onRead, onBytes, onReadDone, onClose, fail };
    const wire = o.url.startsWith('mqtt://') ? tcpWire(o, events) : wsWire(o, events);
  });
}

/** What a wire reports: each TCP read is onRead, its MQTT bytes in one or more onBytes, then onReadDone. */
interface WireEvents {
  onOpen(): void;
  onRead(): void;
  /** The MQTT byte stream, in whatever pieces it arrives. */
  onBytes(bytes: Buffer): void;
  /** The read is consumed: the QoS 1 PUBACKs it asked for go out in one write. */
  onReadDone(): void;
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
    on.onReadDone();
  });
  socket.on('error', (err) => on.fail(err.message));
  socket.on('close', on.onClose);
  return { write: (bytes) => void socket.write(bytes), destroy: () => void socket.destroy() };
}

/**
 * MQTT over WebSocket without a WebSocket library: an HTTP upgrade (subprotocol `mqtt`), then
 * the raw socket's bytes go through WsDeframer into the MQTT framer and writes go out as masked
 * binary frames. The server's Sec-WebSocket-Accept is not checked: the servers are local and
 * known. A library client (ws) costs more CPU per message than the MQTT framing itself.
 */
function wsWire(o: LeanSubscriberOptions, on: WireEvents): Wire {
  const { hostname, port, pathname } = new URL(o.url);
  let socket: Socket | undefined;
  const write = (frame: Buffer): void => void socket?.write(frame);
  const deframer = new WsDeframer({
    data: on.onBytes,
    ping: (payload) => write(clientFrame(payload, PONG)),
    close: () => socket?.destroy(),
  });
  const request = httpRequest({
    host: hostname,
    port: Number(port),
    path: pathname,
    // No request timeout: the subscriber's CONNACK/SUBACK timer bounds the whole handshake.
    agent: false,
    headers: { Connection: 'Upgrade', Upgrade: 'websocket', 'Sec-WebSocket-Version': '13', 'Sec-WebSocket-Key': randomBytes(16).toString('base64'), 'Sec-WebSocket-Protocol': 'mqtt' },
    ...(o.localAddress ? { localAddress: o.localAddress } : {}),
  });
  request.on('upgrade', (_res, upgraded: Socket, head: Buffer) => {
    socket = upgraded;
    upgraded.setNoDelay(true);
    upgraded.on('data', (chunk: Buffer) => {
      on.onRead();
      try {
        deframer.push(chunk);
      } catch (err) {
        on.fail((err as Error).message);
        upgraded.destroy();
      }
      on.onReadDone();
    });
    upgraded.on('error', (err) => on.fail(err.message));
    upgraded.on('close', on.onClose);
    on.onOpen();
    if (head.length > 0) upgraded.emit('data', head);
  });
  request.on('response', (res) => {
    res.resume();
    on.fail(`HTTP ${res.statusCode} instead of a WebSocket upgrade`);
  });
  request.on('error', (err) => on.fail(err.message));
  request.end();
  return { write: (bytes) => write(clientFrame(bytes)), destroy: () => (socket ? socket.destroy() : request.destroy()) };
}
