/**
 * The publishing device of a device-published measurement: one `ws` client that says HELLO,
 * waits for WELCOME, then sends each message as a PUB frame, the way a device does (or, for the
 * MQTT peers, an mqtt.js client publishing). At QoS 1 it times each PUB until its OK (PUBACK).
 */
import mqtt from 'mqtt';
import WebSocket from 'ws';
import { zeroMask } from '../fleet/device-fleet.js';
import { FrameKind, decodeFrame, encodeFrame, type Qos } from '../../src/index.js';
import { nowUs } from './clock.js';
import { LatencyHistogram } from './histogram.js';
import { BENCH_TOPIC, type PublishConfirmations, type WireProtocol } from './messages.js';
import type { PublishSink } from './publisher.js';

export interface DevicePublisher {
  readonly url: string;
  readonly sink: PublishSink;
  /** Starts a measurement: the QoS of the PUBs that follow, confirmation counters reset. */
  expect(qos: Qos): void;
  /** Resolves once `count` PUBs are confirmed, or after `timeoutMs` with what came. */
  confirmed(count: number, timeoutMs: number): Promise<PublishConfirmations>;
  close(): void;
}

/** OKs of one measurement's QoS 1 PUBs: PUB → OK latency and when the last came. */
class Confirmations {
  qos: Qos = 0;
  private sentAt = new Map<number, number>();
  private latency = new LatencyHistogram();
  private lastUs = 0;
  private waiter: { count: number; done: () => void } | undefined;

  reset(qos: Qos): void {
    this.qos = qos;
    this.sentAt = new Map();
    this.latency = new LatencyHistogram();
    this.lastUs = 0;
  }

  sent(id: number): void {
    if (this.qos === 1) this.sentAt.set(id, nowUs());
  }

  confirm(id: number): void {
    const at = this.sentAt.get(id);
    if (at === undefined) return;
    this.sentAt.delete(id);
    this.lastUs = nowUs();
    this.latency.record(this.lastUs - at);
    if (this.waiter && this.latency.count >= this.waiter.count) this.waiter.done();
  }

  async until(count: number, timeoutMs: number): Promise<PublishConfirmations> {
    if (this.latency.count < count) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, timeoutMs);
        this.waiter = { count, done: () => (clearTimeout(timer), resolve()) };
      });
      this.waiter = undefined;
    }
    return { confirmed: this.latency.count, lastUs: this.lastUs, latency: this.latency.toSparse() };
  }
}

/** Connects as `deviceId`; rejects if WELCOME (CONNACK) does not come within `timeoutMs`. */
export function openDevicePublisher(url: string, protocol: WireProtocol, deviceId: string, timeoutMs: number): Promise<DevicePublisher> {
  return protocol === 'mqtt' ? openMqttPublisher(url, deviceId, timeoutMs) : openProtocolPublisher(url, deviceId, timeoutMs);
}

function openMqttPublisher(url: string, clientId: string, timeoutMs: number): Promise<DevicePublisher> {
  return new Promise((resolve, reject) => {
    const client = mqtt.connect(url, { clientId, protocolVersion: 4, clean: true, keepalive: 0, reconnectPeriod: 0, connectTimeout: timeoutMs, wsOptions: { perMessageDeflate: false, generateMask: zeroMask } });
    const confirmations = new Confirmations();
    let id = 0;
    const publish = (payload: Buffer): void => {
      const mine = ++id;
      confirmations.sent(mine);
      client.publish(BENCH_TOPIC, payload, { qos: confirmations.qos }, () => confirmations.confirm(mine));
    };
    client.once('connect', () =>
      resolve({
        url,
        sink: { publish, endTick: () => undefined },
        expect: (qos) => confirmations.reset(qos),
        confirmed: (count, ms) => confirmations.until(count, ms),
        close: () => void client.end(true),
      }),
    );
    client.once('error', (err) => {
      client.end(true);
      reject(err);
    });
  });
}

function openProtocolPublisher(url: string, deviceId: string, timeoutMs: number): Promise<DevicePublisher> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { perMessageDeflate: false, handshakeTimeout: timeoutMs });
    const timer = setTimeout(() => fail(new Error('publisher: no WELCOME in time')), timeoutMs);
    const fail = (err: Error): void => {
      clearTimeout(timer);
      ws.terminate();
      reject(err);
    };
    let seq = 1;
    const confirmations = new Confirmations();
    const sink: PublishSink = {
      publish: (payload) => {
        confirmations.sent(++seq);
        ws.send(encodeFrame({ kind: FrameKind.PUB, seq, topic: BENCH_TOPIC, payload, qos: confirmations.qos }));
      },
      endTick: () => undefined,
    };
    ws.on('open', () => ws.send(encodeFrame({ kind: FrameKind.HELLO, seq: 1, versions: [1], deviceId })));
    ws.on('message', (data: Buffer) => {
      const decoded = decodeFrame(data);
      if (!decoded.ok) return;
      if (decoded.frame.kind === FrameKind.OK) {
        confirmations.confirm(decoded.frame.ref);
      } else if (decoded.frame.kind === FrameKind.WELCOME) {
        clearTimeout(timer);
        resolve({ url, sink, expect: (qos) => confirmations.reset(qos), confirmed: (count, ms) => confirmations.until(count, ms), close: () => ws.terminate() });
      } else if (decoded.frame.kind === FrameKind.ERROR) {
        process.stderr.write(`bench publisher: server error ${decoded.frame.code}: ${decoded.frame.message}\n`);
      }
    });
    ws.on('error', fail);
  });
}
