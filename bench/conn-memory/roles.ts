/**
 * The two child processes of the connection-memory bench: `server` hosts a broker and reports
 * its memory after a full GC; `clients` opens idle connections of one kind and keeps them.
 */
import { connect as tcpConnect, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { writeHeapSnapshot } from 'node:v8';
import mqttPacket from 'mqtt-packet';
import WebSocket from 'ws';
import type { Broker } from '../../src/index.js';
import { FrameKind, encodeFrame } from '../../src/protocol/index.js';

export interface ConnectPlan {
  kind: string;
  port: number;
  mqttPort: number;
  count: number;
  firstId: number;
  subscribe: boolean;
}

export interface MemoryReading {
  rss: number;
  heapUsed: number;
  heapTotal: number;
  external: number;
  devices: number;
}

const TOPIC = 'bench/idle';
/** Handshakes in flight at once. */
const LANES = 32;
/** Client source addresses: spreads the ephemeral ports over several loopback addresses. */
const LOCAL_ADDRESSES = ['127.0.0.2', '127.0.0.3', '127.0.0.4', '127.0.0.5', '127.0.0.6', '127.0.0.7', '127.0.0.8', '127.0.0.9'];

function serve(handle: (msg: Record<string, unknown>) => Promise<unknown>): void {
  process.on('message', (msg: Record<string, unknown>) => {
    handle(msg).then(
      (value) => process.send!({ value }),
      (err: unknown) => process.send!({ error: err instanceof Error ? err.message : String(err) }),
    );
  });
}

/**
 * The broker as users run it (compiled by `npm run build`), or from source: under tsx every
 * named closure gets a dictionary of properties (esbuild's keepNames), some 250 bytes each.
 */
async function brokerModule(compiled: boolean): Promise<typeof import('../../src/index.js')> {
  const url = new URL(compiled ? '../../dist/src/index.js' : '../../src/index.js', import.meta.url);
  return (await import(url.href)) as typeof import('../../src/index.js');
}

function serverRole(): void {
  let broker: Broker | undefined;
  serve(async (msg) => {
    switch (msg.cmd) {
      case 'start':
        broker = await (await brokerModule(msg.compiled as boolean)).createBroker({
          host: '127.0.0.1',
          port: 0,
          dataDir: msg.dataDir as string,
          anonymous: true,
          logLevel: 'silent',
          heartbeatMs: 600_000,
          mqtt: { path: '/mqtt', port: 0 },
        });
        return { port: broker.port, mqttPort: broker.mqttPort };
      case 'memory': {
        const gc = (globalThis as { gc?: () => void }).gc!;
        // Twice, with a pause: finalizers and freed native buffers settle after the first.
        gc();
        await sleep(500);
        gc();
        const mem = process.memoryUsage();
        return { rss: mem.rss, heapUsed: mem.heapUsed, heapTotal: mem.heapTotal, external: mem.external, devices: broker!.connectedDevices } satisfies MemoryReading;
      }
      case 'snapshot':
        return writeHeapSnapshot(msg.file as string);
      default:
        throw new Error(`unknown command ${String(msg.cmd)}`);
    }
  });
}

/** What an MQTT client sends, one step per reply: CONNECT, then SUBSCRIBE. */
function mqttBytes(clientId: string, subscribe: boolean): Buffer[] {
  const steps = [mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId, clean: true, keepalive: 0 })];
  if (subscribe) steps.push(mqttPacket.generate({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: TOPIC, qos: 0 }] }));
  return steps;
}

const held: (Socket | WebSocket)[] = [];

/** Sends each step once the previous one was answered (any reply counts: a refusal closes the socket). */
function converse(send: (bytes: Buffer | Uint8Array) => void, onReply: (cb: () => void) => void, steps: (Buffer | Uint8Array)[], done: () => void): void {
  let at = 0;
  onReply(() => {
    at++;
    if (at < steps.length) send(steps[at]!);
    else if (at === steps.length) done();
  });
  send(steps[0]!);
}

function openOne(plan: ConnectPlan, i: number): Promise<void> {
  const id = `idle-${plan.firstId + i}`;
  const localAddress = LOCAL_ADDRESSES[i % LOCAL_ADDRESSES.length]!;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${id}: no answer in time`)), 60_000);
    const done = (): void => {
      clearTimeout(timer);
      resolve();
    };
    if (plan.kind === 'mqtt-tcp') {
      const socket = tcpConnect({ host: '127.0.0.1', port: plan.mqttPort, localAddress });
      held.push(socket);
      socket.on('error', (err) => reject(err));
      socket.on('close', () => reject(new Error(`${id}: closed`)));
      socket.once('connect', () => converse((b) => socket.write(b), (cb) => socket.on('data', cb), mqttBytes(id, plan.subscribe), done));
      return;
    }
    const mqtt = plan.kind === 'mqtt-ws';
    const ws = new WebSocket(`ws://127.0.0.1:${plan.port}${mqtt ? '/mqtt' : '/'}`, mqtt ? 'mqtt' : [], { localAddress, perMessageDeflate: false });
    held.push(ws);
    ws.on('error', (err) => reject(err));
    ws.on('close', () => reject(new Error(`${id}: closed`)));
    const steps = mqtt
      ? mqttBytes(id, plan.subscribe)
      : [
          encodeFrame({ kind: FrameKind.HELLO, seq: 1, versions: [1], deviceId: id }),
          ...(plan.subscribe ? [encodeFrame({ kind: FrameKind.SUB, seq: 2, filters: [TOPIC], qos: 0 })] : []),
        ];
    ws.once('open', () => converse((b) => ws.send(b), (cb) => ws.on('message', cb), steps, done));
  });
}

function clientsRole(): void {
  serve(async (msg) => {
    if (msg.cmd === 'close') {
      for (const s of held.splice(0)) s instanceof WebSocket ? s.terminate() : s.destroy();
      await sleep(500);
      return true;
    }
    const plan = msg.plan as ConnectPlan;
    let next = 0;
    let opened = 0;
    let firstError: string | undefined;
    const lane = async (): Promise<void> => {
      while (next < plan.count) {
        const i = next++;
        try {
          await openOne(plan, i);
          opened++;
        } catch (err) {
          firstError ??= err instanceof Error ? err.message : String(err);
        }
      }
    };
    await Promise.all(Array.from({ length: LANES }, lane));
    return { opened, ...(firstError ? { firstError } : {}) };
  });
}

if (process.argv[2] === 'server') serverRole();
else clientsRole();
