/**
 * The publishing device of a device-published measurement: one `ws` client that says HELLO,
 * waits for WELCOME, then sends each message as a QoS 0 PUB frame, the way a device does (or,
 * for the MQTT peers, an mqtt.js client publishing at QoS 0).
 */
import mqtt from 'mqtt';
import WebSocket from 'ws';
import { zeroMask } from '../fleet/device-fleet.js';
import { FrameKind, decodeFrame, encodeFrame } from '../../src/index.js';
import { BENCH_TOPIC, type WireProtocol } from './messages.js';
import type { PublishSink } from './publisher.js';

export interface DevicePublisher {
  readonly url: string;
  readonly sink: PublishSink;
  close(): void;
}

/** Connects as `deviceId`; rejects if WELCOME (CONNACK) does not come within `timeoutMs`. */
export function openDevicePublisher(url: string, protocol: WireProtocol, deviceId: string, timeoutMs: number): Promise<DevicePublisher> {
  return protocol === 'mqtt' ? openMqttPublisher(url, deviceId, timeoutMs) : openProtocolPublisher(url, deviceId, timeoutMs);
}

function openMqttPublisher(url: string, clientId: string, timeoutMs: number): Promise<DevicePublisher> {
  return new Promise((resolve, reject) => {
    const client = mqtt.connect(url, { clientId, protocolVersion: 4, clean: true, keepalive: 0, reconnectPeriod: 0, connectTimeout: timeoutMs, wsOptions: { perMessageDeflate: false, generateMask: zeroMask } });
    client.once('connect', () =>
      resolve({
        url,
        sink: { publish: (payload) => void client.publish(BENCH_TOPIC, payload, { qos: 0 }), endTick: () => undefined },
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
    const sink: PublishSink = {
      publish: (payload) => ws.send(encodeFrame({ kind: FrameKind.PUB, seq: ++seq, topic: BENCH_TOPIC, payload, qos: 0 })),
      endTick: () => undefined,
    };
    ws.on('open', () => ws.send(encodeFrame({ kind: FrameKind.HELLO, seq: 1, versions: [1], deviceId })));
    ws.on('message', (data: Buffer) => {
      const decoded = decodeFrame(data);
      if (!decoded.ok) return;
      if (decoded.frame.kind === FrameKind.WELCOME) {
        clearTimeout(timer);
        resolve({ url, sink, close: () => ws.terminate() });
      } else if (decoded.frame.kind === FrameKind.ERROR) {
        process.stderr.write(`bench publisher: server error ${decoded.frame.code}: ${decoded.frame.message}\n`);
      }
    });
    ws.on('error', fail);
  });
}
