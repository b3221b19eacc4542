/**
 * A subscriber process of the fan-out bench: holds its share of the fleet as lean `ws`
 * sockets speaking the relaymesh protocol through its codec, or as MQTT subscribers (lean
 * framer connections or mqtt.js clients, `--mqtt-client`), counts each message once per
 * connection (duplicates apart) and publish-to-receive latency for the current measurement,
 * and reports over IPC.
 */
import mqtt, { type MqttClient } from 'mqtt';
import WebSocket from 'ws';
import { zeroMask } from '../fleet/device-fleet.js';
import { FrameKind, decodeFrame, encodeFrame } from '../../src/index.js';
import { nowUs } from './clock.js';
import { openDevicePublisher, type DevicePublisher } from './device-publisher.js';
import { LatencyHistogram } from './histogram.js';
import { serveCommands } from './ipc.js';
import { openLeanSubscriber, type LeanSubscriber } from './lean-mqtt-subscriber.js';
import { BENCH_TOPIC, type ConnectPlan, type ConnectResult, type SubscriberCommands } from './messages.js';
import { stampRunId, stampSeq, stampTime } from './payload.js';
import { runPublisher } from './publisher.js';
import { SeenSequences } from './seen-sequences.js';

const sockets = new Set<WebSocket>();
const mqttClients = new Set<MqttClient>();
const leanSubscribers = new Set<LeanSubscriber>();
let closedByPeer = 0;
/** Kept open across the measurements of one server: closing it would drop frames still queued there. */
let publisher: DevicePublisher | undefined;

/** Counters of one measurement, reset by `arm`. */
const run = {
  id: -1,
  received: 0,
  stale: 0,
  duplicates: 0,
  decodeErrors: 0,
  redelivered: 0,
  reads: 0,
  closed: 0,
  firstUs: 0,
  lastUs: 0,
  latency: new LatencyHistogram(),
  cpu: process.cpuUsage(),
};

/** A delivery to the connection that has seen `seen`: its payload is `bytes[start, end)`. */
function onDelivery(seen: SeenSequences, bytes: Uint8Array, start: number, end: number, atUs: number): void {
  if (stampRunId(bytes, start, end) !== run.id) {
    run.stale++;
    return;
  }
  if (!seen.firstTime(run.id, stampSeq(bytes, start, end))) {
    run.duplicates++;
    return;
  }
  if (run.received++ === 0) run.firstUs = atUs;
  run.lastUs = atUs;
  run.latency.record(atUs - stampTime(bytes, start, end));
}

const closedByServer = (): void => {
  closedByPeer++;
  run.closed++;
};

/** Opens one socket and takes it through HELLO → WELCOME → SUB → OK. Resolves false on any failure. */
function openSubscriber(plan: ConnectPlan, deviceId: string, localAddress: string | undefined): Promise<true | string> {
  return new Promise((resolve) => {
    const ws = new WebSocket(plan.url, {
      perMessageDeflate: false,
      skipUTF8Validation: true,
      handshakeTimeout: plan.timeoutMs,
      ...(localAddress ? { localAddress } : {}),
    });
    let phase: 'welcome' | 'ok' | 'live' = 'welcome';
    let seq = 2;
    const seen = new SeenSequences();
    const timer = setTimeout(() => fail('subscribe timed out'), plan.timeoutMs);
    const fail = (why: string): void => {
      clearTimeout(timer);
      if (phase !== 'live') {
        ws.terminate();
        resolve(why);
      }
    };
    ws.on('upgrade', (res) => {
      // Frames per TCP read tells how many frames the server packed into each write.
      res.socket.on('data', () => {
        if (phase === 'live') run.reads++;
      });
    });
    ws.on('open', () => ws.send(encodeFrame({ kind: FrameKind.HELLO, seq: 1, versions: [1], deviceId })));
    ws.on('message', (data: Buffer) => {
      const atUs = nowUs();
      const decoded = decodeFrame(data);
      if (!decoded.ok) {
        run.decodeErrors++;
        return;
      }
      const frame = decoded.frame;
      if (frame.kind === FrameKind.MSG) {
        if (frame.qos === 1) {
          ws.send(encodeFrame({ kind: FrameKind.ACK, seq: ++seq, stream: frame.stream, offset: frame.offset }));
          if ((frame.delivery ?? 1) > 1 && stampRunId(frame.payload) === run.id) run.redelivered++;
        }
        return onDelivery(seen, frame.payload, 0, frame.payload.byteLength, atUs);
      }
      if (phase === 'welcome' && frame.kind === FrameKind.WELCOME) {
        phase = 'ok';
        ws.send(encodeFrame({ kind: FrameKind.SUB, seq: 2, filters: [BENCH_TOPIC], qos: plan.qos }));
      } else if (phase === 'ok' && frame.kind === FrameKind.OK) {
        phase = 'live';
        clearTimeout(timer);
        sockets.add(ws);
        resolve(true);
      } else if (frame.kind === FrameKind.ERROR) {
        fail(`server error ${frame.code}: ${frame.message}`);
      }
    });
    ws.on('error', (err) => fail(err.message));
    ws.on('close', (code, reason) => {
      if (sockets.delete(ws)) closedByServer();
      fail(`closed before subscribing (${code}${reason.length > 0 ? ` ${reason.toString()}` : ''})`);
    });
  });
}

/** A lean MQTT 3.1.1 subscriber (`--mqtt-client lean`): CONNECT → SUBSCRIBE → SUBACK, then only framing. */
async function openLeanMqttSubscriber(plan: ConnectPlan, deviceId: string, localAddress: string | undefined): Promise<true | string> {
  const seen = new SeenSequences();
  let subscriber: LeanSubscriber | undefined;
  const outcome = await openLeanSubscriber({
    url: plan.url,
    clientId: deviceId,
    topic: BENCH_TOPIC,
    qos: plan.qos,
    timeoutMs: plan.timeoutMs,
    localAddress,
    onDelivery: (bytes, start, end, atUs) => onDelivery(seen, bytes, start, end, atUs),
    onRead: () => run.reads++,
    onClosed: () => {
      if (subscriber && leanSubscribers.delete(subscriber)) closedByServer();
    },
    onMalformed: () => run.decodeErrors++,
  });
  if (typeof outcome === 'string') return outcome;
  subscriber = outcome;
  leanSubscribers.add(subscriber);
  return true;
}

/** An mqtt.js MQTT 3.1.1 subscriber (`--mqtt-client mqttjs`): CONNECT → SUBSCRIBE → SUBACK. */
function openMqttJsSubscriber(plan: ConnectPlan, deviceId: string, localAddress: string | undefined): Promise<true | string> {
  return new Promise((resolve) => {
    const client = mqtt.connect(plan.url, {
      clientId: deviceId,
      protocolVersion: 4,
      clean: true,
      keepalive: 0,
      reconnectPeriod: 0,
      connectTimeout: plan.timeoutMs,
      wsOptions: { perMessageDeflate: false, generateMask: zeroMask, ...(localAddress ? { localAddress } : {}) },
    });
    let live = false;
    const seen = new SeenSequences();
    const timer = setTimeout(() => fail('no CONNACK/SUBACK in time'), plan.timeoutMs);
    const fail = (why: string): void => {
      clearTimeout(timer);
      if (live) return;
      client.end(true);
      resolve(why);
    };
    client.on('connect', () => {
      client.subscribe(BENCH_TOPIC, { qos: plan.qos }, (err) => {
        if (err) return fail(`SUBSCRIBE failed: ${err.message}`);
        live = true;
        clearTimeout(timer);
        mqttClients.add(client);
        resolve(true);
      });
    });
    client.on('message', (_topic, payload) => onDelivery(seen, payload, 0, payload.byteLength, nowUs()));
    client.on('error', (err) => fail(err.message));
    client.on('close', () => {
      if (mqttClients.delete(client)) closedByServer();
      fail('closed before subscribing');
    });
  });
}

async function connect(plan: ConnectPlan): Promise<ConnectResult> {
  const started = Date.now();
  let next = 0;
  let subscribed = 0;
  let failed = 0;
  let firstError: string | undefined;
  // A fixed number of handshakes in flight: bounded work, and no SYN flood of the server's backlog.
  const lane = async (): Promise<void> => {
    while (next < plan.count && Date.now() - started < plan.timeoutMs * 4) {
      const i = next++;
      const address = plan.localAddresses.length > 0 ? plan.localAddresses[i % plan.localAddresses.length] : undefined;
      const open = plan.protocol === 'relaymesh' ? openSubscriber : plan.mqttClient === 'lean' ? openLeanMqttSubscriber : openMqttJsSubscriber;
      const outcome = await open(plan, `dev-${plan.firstId + i}`, address);
      if (outcome === true) subscribed++;
      else {
        failed++;
        firstError ??= outcome;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(plan.concurrency, plan.count) }, lane));
  return { subscribed, failed: failed + (plan.count - subscribed - failed), ...(firstError ? { firstError } : {}), ms: Date.now() - started };
}

serveCommands<SubscriberCommands>({
  connect,
  arm({ runId }) {
    Object.assign(run, { id: runId, received: 0, stale: 0, duplicates: 0, decodeErrors: 0, redelivered: 0, reads: 0, closed: 0, firstUs: 0, lastUs: 0 });
    run.latency = new LatencyHistogram();
    run.cpu = process.cpuUsage();
    return { ok: true };
  },
  progress() {
    return { received: run.received, lastUs: run.lastUs, closed: run.closed };
  },
  report() {
    const cpu = process.cpuUsage(run.cpu);
    return {
      received: run.received,
      lastUs: run.lastUs,
      closed: run.closed,
      firstUs: run.firstUs,
      stale: run.stale,
      duplicates: run.duplicates,
      decodeErrors: run.decodeErrors,
      redelivered: run.redelivered,
      reads: run.reads,
      cpuUserUs: cpu.user,
      cpuSystemUs: cpu.system,
      latency: run.latency.toSparse(),
    };
  },
  async publish(plan) {
    if (publisher?.url !== plan.url) {
      publisher?.close();
      publisher = await openDevicePublisher(plan.url, plan.protocol, plan.deviceId, 15_000);
    }
    publisher.expect(plan.qos);
    const result = await runPublisher(plan, publisher.sink);
    if (plan.qos === 0) return result;
    return { ...result, confirmations: await publisher.confirmed(result.published, plan.deadlineMs) };
  },
  async disconnect({ timeoutMs }) {
    publisher?.close();
    publisher = undefined;
    const before = closedByPeer;
    const deadline = Date.now() + timeoutMs;
    const open = (): number => sockets.size + mqttClients.size + leanSubscribers.size;
    while (open() > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    const terminated = open();
    for (const ws of sockets) ws.terminate();
    for (const client of mqttClients) client.end(true);
    for (const subscriber of leanSubscribers) subscriber.terminate();
    sockets.clear();
    mqttClients.clear();
    leanSubscribers.clear();
    return { closedByPeer: closedByPeer - before, terminated };
  },
});
