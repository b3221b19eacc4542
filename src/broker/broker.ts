import { start as startActorSystem, stop as stopActor, dispatch, type Ref } from 'nact';
import { spawnShardSupervisor } from '../../actors/shard-supervisor.js';
import { HashRing } from '../cluster/hash-ring.js';
import { createLogger, type Logger } from '../logger.js';
import { createDefaultRegistry } from '../protocol/handlers/index.js';
import {
  CloseCode,
  ErrorCode,
  ProtocolError,
  deviceIdProblem,
  topicNameProblem,
  type BrokerPort,
  type DirectMessage,
  type Publication,
  type Qos,
} from '../protocol/index.js';
import { startWsServer, type WsServer } from '../transport/index.js';
import { acceptAnyDevice } from './auth.js';
import { DeviceRegistry, type LiveDevice } from './device-registry.js';
import { Gateway } from './gateway.js';
import { startLivenessSweep } from './liveness.js';
import { encodeDirectMessage, encodeTopicMessage } from './deliveries.js';
import { TopicFanout } from './topic-fanout.js';
import { resolveOptions, type BrokerOptions, type ResolvedOptions } from './options.js';
import { traceIdGenerator } from './trace-ids.js';

export interface PublishOptions {
  qos?: Qos;
  traceId?: string;
}

export interface DeviceInfo {
  deviceId: string;
  sessionId: string;
  state: string;
  remoteAddress: string;
  subscriptions: string[];
  counters: { framesIn: number; framesOut: number; errors: number; restarts: number; dropped: number };
}

/** A running broker embedded in this process. */
export interface Broker {
  readonly port: number;
  readonly options: Readonly<ResolvedOptions>;
  readonly log: Logger;
  /** Publishes to a topic from the server side; returns the matching local subscriptions. */
  publish(topic: string, payload: Uint8Array | string, options?: PublishOptions): Promise<number>;
  /** Sends to one device; returns whether it was delivered to a live connection. */
  send(deviceId: string, payload: Uint8Array | string, options?: PublishOptions): Promise<boolean>;
  device(deviceId: string): DeviceInfo | undefined;
  readonly connectedDevices: number;
  /** Closes a device's connection with KICKED. */
  kick(deviceId: string, reason?: string): boolean;
  /** Fault injection for resilience tests and drills. */
  readonly chaos: { crashDeviceActor(deviceId: string): boolean };
  /** Stops accepting, tells every client to reconnect elsewhere, releases everything. */
  close(): Promise<void>;
}

export async function createBroker(input: BrokerOptions = {}): Promise<Broker> {
  const options = resolveOptions(input);
  const log = createLogger(options.logLevel);
  const system = startActorSystem();
  const shardNames = Array.from({ length: options.shards }, (_, i) => `shard-${i}`);
  const devices = new DeviceRegistry();
  const newTraceId = traceIdGenerator();
  const shardRefs = new Map<string, Ref<never>>();
  let gateway!: Gateway;

  for (const name of shardNames) {
    shardRefs.set(
      name,
      spawnShardSupervisor(system, name, {
        maxRestarts: options.maxRestarts,
        windowMs: options.restartWindowMs,
        onCrash: (child, err) => log.warn({ actor: child, err }, 'device actor crashed; restarting it'),
        onGiveUp: (child) => {
          const device = devices.byActor(child);
          log.error({ actor: child, deviceId: device?.session.deviceId }, 'device actor keeps crashing; closing its connection');
          // After nact has stopped the child: closing runs the disconnect path, which stops it too.
          setImmediate(() => device?.conn.close(CloseCode.INTERNAL_ERROR, 'session failed repeatedly'));
        },
      }),
    );
  }

  const fanout = new TopicFanout<LiveDevice>(system, options.fanout);
  const publish = (publication: Publication): number =>
    fanout.broadcast(publication.topic, encodeTopicMessage(publication), publication.qos === 0);
  const sendDirect = (message: DirectMessage): boolean => {
    const target = devices.get(message.target);
    if (!target || target.conn.closed) return false;
    target.conn.write(encodeDirectMessage(message), message.qos === 0);
    return true;
  };

  const portFor = (device: () => LiveDevice): BrokerPort => ({
    subscribe: (filters, qos) => {
      for (const filter of filters) fanout.subscribe(device(), filter, qos);
    },
    unsubscribe: (filters) => {
      for (const filter of filters) fanout.unsubscribe(device(), filter);
    },
    publish: (publication) => {
      publish(publication);
      return undefined;
    },
    send: (message) => {
      sendDirect(message);
      return undefined;
    },
    ack: () => undefined,
    newTraceId,
  });

  gateway = new Gateway({
    registry: createDefaultRegistry(),
    devices,
    shards: { ring: new HashRing(shardNames), refs: shardRefs },
    authenticate: options.authenticate ?? acceptAnyDevice,
    portFor,
    onDeviceGone: (device) => fanout.removeMember(device),
    limits: { maxFrameBytes: options.maxFrameBytes, heartbeatMs: options.heartbeatMs, maxInflight: options.maxInflight },
    log,
  });

  let server: WsServer;
  try {
    server = await startWsServer(
      {
        host: options.host,
        port: options.port,
        path: options.path,
        // uWS closes the socket above this; between maxFrameBytes and this the client gets TOO_LARGE.
        maxPayloadBytes: options.maxFrameBytes * 4,
        softBackpressureBytes: options.softBackpressureBytes,
        hardBackpressureBytes: options.maxBackpressureBytes,
        allowUwsFallback: options.allowUwsFallback,
        ...(options.tls ? { tls: options.tls } : {}),
        routes: [{ path: '/healthz', handle: () => ({ status: '200 OK', contentType: 'text/plain', body: 'ok' }) }],
      },
      gateway,
    );
  } catch (err) {
    stopActor(system);
    throw err;
  }
  const stopSweep = startLivenessSweep(server.connections, (conn) => gateway.isHandshaking(conn), options);
  if (options.anonymous) log.warn('anonymous mode: any device id is accepted without credentials');
  log.info({ host: options.host, port: server.port, path: options.path, shards: options.shards }, 'relaymesh listening');

  let closing: Promise<void> | undefined;
  return {
    port: server.port,
    options,
    log,
    async publish(topic, payload, opts = {}) {
      const problem = topicNameProblem(topic);
      if (problem) throw new ProtocolError(ErrorCode.INVALID_TOPIC, `${JSON.stringify(topic)}: ${problem}`);
      return publish({ topic, payload: toBytes(payload), qos: opts.qos ?? 0, traceId: opts.traceId ?? newTraceId() });
    },
    async send(deviceId, payload, opts = {}) {
      const problem = deviceIdProblem(deviceId);
      if (problem) throw new ProtocolError(ErrorCode.INVALID_FIELD, problem);
      return sendDirect({ target: deviceId, payload: toBytes(payload), qos: opts.qos ?? 0, traceId: opts.traceId ?? newTraceId() });
    },
    device(deviceId) {
      const d = devices.get(deviceId);
      if (!d) return undefined;
      return {
        deviceId,
        sessionId: d.session.sessionId,
        state: d.session.state,
        remoteAddress: d.conn.remoteAddress,
        subscriptions: [...d.session.subscriptions.keys()],
        counters: { ...d.session.counters, dropped: d.conn.framesDropped },
      };
    },
    get connectedDevices() {
      return devices.size;
    },
    kick(deviceId, reason = 'kicked by operator') {
      const d = devices.get(deviceId);
      if (!d) return false;
      gateway.closeDevice(d, CloseCode.KICKED, reason);
      return true;
    },
    chaos: {
      crashDeviceActor(deviceId) {
        const d = devices.get(deviceId);
        if (!d) return false;
        dispatch(d.actor, { type: 'crash', reason: 'chaos.crashDeviceActor' });
        return true;
      },
    },
    close() {
      closing ??= (async () => {
        server.stopListening();
        stopSweep();
        server.closeAll(CloseCode.SHUTTING_DOWN, 'broker shutting down');
        fanout.destroy();
        stopActor(system);
        log.info('relaymesh stopped');
      })();
      return closing;
    },
  };
}

function toBytes(payload: Uint8Array | string): Uint8Array {
  return typeof payload === 'string' ? new TextEncoder().encode(payload) : payload;
}
