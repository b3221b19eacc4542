/**
 * Server-side application connections of the fleet bench ("backends"): each consumes one
 * telemetry partition through a wildcard subscription and sends commands to the devices of its
 * partition; backend 0 also publishes the broadcasts. One implementation per protocol.
 */
import mqtt, { type MqttClient } from 'mqtt';
import WebSocket from 'ws';
import { FrameKind, decodeFrame, encodeFrame } from '../../src/protocol/index.js';
import { nowUs } from '../fanout/clock.js';
import { withTimeout } from './device-fleet.js';
import { backendId, deviceId, type WorkerSetup } from './messages.js';
import { WORKLOADS } from './workloads.js';

export interface BackendLink {
  /** Point-to-point to one device: relaymesh SEND to its inbox, or an MQTT publish to cmd/<device>. */
  command(device: number, payload: Buffer): void;
  broadcast(payload: Buffer): void;
  close(timeoutMs: number): Promise<void>;
}

export interface LinkEvents {
  telemetry(payload: Uint8Array, atUs: number): void;
  /** The connection ended without the bench asking. */
  lost(): void;
}

export function openBackend(setup: WorkerSetup, partition: number, timeoutMs: number, events: LinkEvents): Promise<BackendLink> {
  const open = setup.protocol === 'mqtt' ? openMqttBackend : openRelaymeshBackend;
  return withTimeout(open(setup, partition, events), timeoutMs, `backend ${partition}`);
}

function openRelaymeshBackend(setup: WorkerSetup, partition: number, events: LinkEvents): Promise<BackendLink> {
  const workload = WORKLOADS[setup.workload];
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(setup.url, { perMessageDeflate: false, skipUTF8Validation: true });
    let seq = 0;
    let live = false;
    let closing = false;
    const link: BackendLink = {
      command(device, payload) {
        ws.send(encodeFrame({ kind: FrameKind.SEND, seq: ++seq, target: deviceId(device), payload, qos: setup.qos }));
      },
      broadcast(payload) {
        ws.send(encodeFrame({ kind: FrameKind.PUB, seq: ++seq, topic: workload.broadcastTopic, payload, qos: 0 }));
      },
      async close(ms) {
        closing = true;
        ws.close(1000, 'bench done');
        await new Promise<void>((r) => {
          const timer = setTimeout(() => (ws.terminate(), r()), ms);
          ws.once('close', () => (clearTimeout(timer), r()));
        });
      },
    };
    let pingTimer: NodeJS.Timeout | undefined;
    ws.on('open', () => ws.send(encodeFrame({ kind: FrameKind.HELLO, seq: ++seq, versions: [1], deviceId: backendId(partition) })));
    ws.on('message', (data: Buffer) => {
      const atUs = nowUs();
      const decoded = decodeFrame(data);
      if (!decoded.ok) return;
      const frame = decoded.frame;
      switch (frame.kind) {
        case FrameKind.MSG:
          events.telemetry(frame.payload, atUs);
          if (frame.qos === 1) ws.send(encodeFrame({ kind: FrameKind.ACK, seq: ++seq, stream: frame.stream, offset: frame.offset }));
          return;
        case FrameKind.WELCOME:
          pingTimer = setInterval(() => ws.send(encodeFrame({ kind: FrameKind.PING, seq: ++seq })), frame.heartbeatMs);
          ws.send(encodeFrame({ kind: FrameKind.SUB, seq: ++seq, filters: workload.backendFilters(partition), qos: setup.qos }));
          return;
        case FrameKind.OK:
          if (!live) {
            live = true;
            resolve(link);
          }
          return;
        case FrameKind.ERROR:
          if (!live) reject(new Error(`backend ${partition}: ERROR ${frame.code} ${frame.message}`));
          return;
        default:
          return;
      }
    });
    ws.on('error', (err) => {
      if (!live) reject(err);
    });
    ws.on('close', (code) => {
      clearInterval(pingTimer);
      if (!live) reject(new Error(`backend ${partition}: closed with ${code}`));
      else if (!closing) events.lost();
    });
  });
}

function openMqttBackend(setup: WorkerSetup, partition: number, events: LinkEvents): Promise<BackendLink> {
  const workload = WORKLOADS[setup.workload];
  return new Promise((resolve, reject) => {
    const client: MqttClient = mqtt.connect(setup.url, {
      clientId: backendId(partition),
      protocolVersion: 4,
      clean: true,
      keepalive: Math.max(1, Math.round(setup.heartbeatMs / 1000)),
      reconnectPeriod: 0,
      wsOptions: { perMessageDeflate: false },
    });
    let live = false;
    let closing = false;
    const link: BackendLink = {
      command(device, payload) {
        client.publish(workload.mqttCommandTopic(device), payload, { qos: setup.qos });
      },
      broadcast(payload) {
        client.publish(workload.broadcastTopic, payload, { qos: 0 });
      },
      async close(ms) {
        closing = true;
        await new Promise<void>((r) => {
          const timer = setTimeout(() => (client.end(true), r()), ms);
          client.end(false, {}, () => (clearTimeout(timer), r()));
        });
      },
    };
    client.on('connect', () => {
      client.subscribe(workload.backendFilters(partition), { qos: setup.qos }, (err) => {
        if (err) return reject(err);
        live = true;
        resolve(link);
      });
    });
    client.on('message', (_topic, payload) => events.telemetry(payload, nowUs()));
    client.on('error', (err) => {
      if (!live) reject(err);
    });
    client.on('close', () => {
      if (!live) reject(new Error(`backend ${partition}: closed`));
      else if (!closing) events.lost();
      live = false;
    });
  });
}
