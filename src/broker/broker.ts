import { start as startActorSystem, stop as stopActor, type Ref } from 'nact';
import { spawnShardSupervisor } from '../../actors/shard-supervisor.js';
import { turnScheduler } from '../../actors/turn-scheduler.js';
import { HashRing } from '../cluster/hash-ring.js';
import { createLogger, type Logger } from '../logger.js';
import { createDefaultRegistry } from '../protocol/handlers/index.js';
import {
  CloseCode,
  ErrorCode,
  ProtocolError,
  checkMessageProperties,
  deviceIdProblem,
  topicNameProblem,
  type BrokerPort,
  inboxStream,
  type MessageProperties,
  type Qos,
} from '../protocol/index.js';
import { startWsServer, type WsServer } from '../transport/index.js';
import { buildAuthenticator } from './auth/index.js';
import { DevicePort } from './device-port.js';
import { DeviceRegistry, type LiveDevice } from './device-registry.js';
import { Gateway, type ConnectionSlot } from './gateway.js';
import { startLivenessSweep } from './liveness.js';
import { openLmdbStore } from '../store/index.js';
import { BrokerMetrics } from './ops/metrics.js';
import { opsRoutes } from './ops/routes.js';
import { benchReportsDir } from './ops/bench-reports.js';
import { lockDataDir } from './ops/data-dir-lock.js';
import { refuseServedPort } from './ops/port-check.js';
import { ClusterBridge } from './cluster-bridge.js';
import { registerClusterMetrics } from './ops/cluster-metrics.js';
import { startInboxHandoff } from './inbox-handoff.js';
import { Delivery, type MessageRouter } from './delivery.js';
import type { StoreWriteFailed } from './durable/detached-writes.js';
import { DurableIndex } from './durable/durable-index.js';
import { startMaintenance } from './durable/maintenance.js';
import { SessionKeeper } from './durable/session-keeper.js';
import { DeviceSessions } from './session/device-sessions.js';
import { TopicFanout } from './topic-fanout.js';
import { resolveOptions, type BrokerOptions, type ResolvedOptions } from './options.js';
import { traceIdGenerator } from './trace-ids.js';
import { MqttGateway, RetainedStore, SentHistory, SharedSubscriptions, mqttOverWebSocket, startTcpListener, type TcpListener } from '../mqtt/index.js';

export interface PublishOptions {
  qos?: Qos;
  traceId?: string;
  /** Passed to every receiver (SDK `message.props`, MQTT 5 publication properties). */
  props?: MessageProperties;
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
  /** Port of the MQTT TCP listener, when `mqtt.port` was given. */
  readonly mqttPort: number | undefined;
  readonly options: Readonly<ResolvedOptions>;
  readonly log: Logger;
  /** Publishes to a topic from the server side; returns the matching local subscriptions. */
  publish(topic: string, payload: Uint8Array | string, options?: PublishOptions): Promise<number>;
  /**
   * Sends to one device; returns whether it went to a live connection. With QoS 1 it is
   * stored first and waits in the device's inbox until acknowledged.
   */
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
  if (!options.sharedPort) await refuseServedPort(options.host, options.port);
  const dataDirLock = lockDataDir(options.dataDir);
  const store = await openLmdbStore(options.dataDir, { durability: options.durability }).catch((err: unknown) => {
    dataDirLock.release();
    throw err;
  });
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

  let server: WsServer<ConnectionSlot> | undefined;
  // `mqtt` is created below, once the gateway exists; metrics read it only when scraped.
  const metrics: BrokerMetrics = new BrokerMetrics({
    transport: () => server?.stats,
    devices,
    store,
    clusterFaults: () => cluster?.socketFaults ?? 0,
    connections: { relaymesh: () => server?.connections.size ?? 0, mqtt: (): number => mqtt.connectionCount },
    sharedDropped: () => shared.droppedWaiting,
  });
  const fanout = new TopicFanout<LiveDevice>(turnScheduler, { ...options.fanout, observeLeafLatency: (s) => metrics.fanoutSeconds.observe(s) });
  const storeWriteFailed: StoreWriteFailed = (operation, err) => {
    metrics.storeWriteFailures.inc({ operation });
    log.error({ err, operation }, 'store write failed');
  };
  const index = new DurableIndex(store, storeWriteFailed);
  const sessions = new SessionKeeper(store, options.sessionExpiryMs, storeWriteFailed);
  const traceLogs = log.isLevelEnabled('debug');
  // Label children resolved once: a label look-up per message showed in profiles.
  const acceptedByQos = {
    publish: [metrics.messages.labels('publish', '0'), metrics.messages.labels('publish', '1')],
    send: [metrics.messages.labels('send', '0'), metrics.messages.labels('send', '1')],
  };
  const shared = new SharedSubscriptions(metrics.traffic.mqtt);
  shared.parkStored(store.sessions(), options.sessionExpiryMs);
  const delivery = new Delivery(store, index, fanout, devices, options, storeWriteFailed, shared, (kind, message) => {
    acceptedByQos[kind][message.qos]!.inc();
    // Checked first: the log record would be built for every message even with debug off.
    if (traceLogs) log.debug({ traceId: message.traceId, kind, qos: message.qos, from: message.from, to: 'topic' in message ? message.topic : message.target }, 'message accepted');
  });

  // Start-up failed after the store opened: let go of what was taken, so a retry finds it free.
  const giveUp = async (err: unknown, joined?: ClusterBridge): Promise<never> => {
    await joined?.close();
    stopActor(system);
    await store.close();
    dataDirLock.release();
    throw err;
  };
  const cluster = options.cluster ? await ClusterBridge.join(options.nodeId, options.cluster, { delivery, devices, store, index, groups: shared, log }).catch((err) => giveUp(err)) : undefined;
  if (cluster) registerClusterMetrics(metrics.registry, () => cluster.stats());
  const router: MessageRouter = cluster ?? delivery;
  const authenticate = await buildAuthenticator(options).catch((err) => giveUp(err, cluster));
  const portDeps = { delivery: router, authenticate, newTraceId };
  const deviceSessions: DeviceSessions = new DeviceSessions({
    store,
    index,
    keeper: sessions,
    fanout,
    devices,
    maxSubscriptions: options.limits.maxSubscriptions,
    outbox: { ackTimeoutMs: options.ackTimeoutMs, maxInflight: options.maxInflight },
    outboxObserver: metrics.outboxObserver,
    ...(cluster ? { presence: { connected: (deviceId: string) => cluster.deviceConnected(deviceId), left: (deviceId: string) => cluster.deviceLeft(deviceId) } } : {}),
  });

  gateway = new Gateway({
    registry: createDefaultRegistry(),
    devices,
    shards: { ring: new HashRing(shardNames), refs: shardRefs },
    authenticate,
    newPort: () => new DevicePort(portDeps),
    sessions: deviceSessions,
    limits: {
      maxFrameBytes: options.maxFrameBytes,
      heartbeatMs: options.heartbeatMs,
      maxInflight: options.maxInflight,
      ...options.limits,
    },
    trustedProxies: new Set(options.trustedProxy?.addresses ?? []),
    log,
  });

  const mqtt = new MqttGateway({
    gateway,
    devices,
    authenticate,
    sessions: deviceSessions,
    router,
    retained: new RetainedStore(store, storeWriteFailed),
    sentHistory: new SentHistory(store),
    shared,
    tally: metrics.traffic.mqtt,
    newTraceId,
    limits: { ...options.limits, maxPacketBytes: options.maxFrameBytes, handshakeTimeoutMs: options.handshakeTimeoutMs, sessionExpiryMs: options.sessionExpiryMs },
    log,
  });

  let closing: Promise<void> | undefined;
  const kick = (deviceId: string, reason: string): boolean => {
    const d = devices.get(deviceId);
    if (!d) return false;
    gateway.closeDevice(d, CloseCode.KICKED, reason);
    return true;
  };
  const routes = opsRoutes({
    metrics,
    devices,
    fanout,
    store,
    nodeId: options.nodeId,
    kick,
    ...(options.adminToken ? { adminToken: options.adminToken } : {}),
    ...(cluster ? { cluster: () => cluster.snapshot(), whereIs: (deviceId: string) => cluster.whereIs(deviceId) } : {}),
    benchReportsDir: benchReportsDir(options.ops.benchReportsDir),
    ready: () => {
      const checks = {
        listening: server !== undefined && closing === undefined,
        storeOpen: closing === undefined,
        ...(cluster ? { clusterJoined: cluster.joined() } : {}),
      };
      return { ready: Object.values(checks).every(Boolean), checks };
    },
  });
  let mqttTcp: TcpListener | undefined;
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
        tally: metrics.traffic.relaymesh,
        ...(options.tls ? { tls: options.tls } : {}),
        ...(options.trustedProxy ? { identityHeader: options.trustedProxy.header } : {}),
        routes,
        mqtt: { path: options.mqtt.path, events: mqttOverWebSocket(mqtt) },
      },
      gateway,
    );
    mqttTcp =
      options.mqtt.port === undefined || options.mqtt.port === 'off'
        ? undefined
        : await startTcpListener(
            {
              host: options.host,
              port: options.mqtt.port,
              softBackpressureBytes: options.softBackpressureBytes,
              hardBackpressureBytes: options.maxBackpressureBytes,
              ...(options.tls ? { tls: options.tls } : {}),
            },
            mqtt,
          );
  } catch (err) {
    mqtt.close();
    server?.stopListening();
    return giveUp(err, cluster);
  }
  const stopMaintenance = startMaintenance({ store, index, devices, log, options, sessionExpired: (deviceId) => mqtt.sessionExpired(deviceId) });
  const stopHandoff = cluster ? startInboxHandoff(cluster, { store, index, devices, log }, 1000) : () => undefined;
  const listening = server;
  const stopSweep = startLivenessSweep(listening.connections, (conn) => gateway.livenessOf(conn), options);
  if (options.anonymous) log.warn('anonymous mode: any device id is accepted without credentials');
  log.info({ host: options.host, port: listening.port, path: options.path, mqttPath: options.mqtt.path, mqttPort: mqttTcp?.port, shards: options.shards }, 'relaymesh listening');

  return {
    port: listening.port,
    mqttPort: mqttTcp?.port,
    options,
    log,
    async publish(topic, payload, opts = {}) {
      const problem = topicNameProblem(topic);
      if (problem) throw new ProtocolError(ErrorCode.INVALID_TOPIC, `${JSON.stringify(topic)}: ${problem}`);
      const props = checkedProps(opts.props);
      const result = await router.publish({ topic, payload: toBytes(payload), qos: opts.qos ?? 0, traceId: opts.traceId ?? newTraceId(), ...(props ? { props } : {}) });
      return result.reached;
    },
    async send(deviceId, payload, opts = {}) {
      const problem = deviceIdProblem(deviceId);
      if (problem) throw new ProtocolError(ErrorCode.INVALID_FIELD, problem);
      const props = checkedProps(opts.props);
      const result = await router.send({ target: deviceId, payload: toBytes(payload), qos: opts.qos ?? 0, traceId: opts.traceId ?? newTraceId(), ...(props ? { props } : {}) });
      return result.reached > 0;
    },
    device(deviceId) {
      const d = devices.get(deviceId);
      if (!d) return undefined;
      return {
        deviceId,
        sessionId: d.session.sessionId,
        state: d.status.state,
        remoteAddress: d.conn.remoteAddress,
        subscriptions: [...d.session.subscriptions.keys()],
        counters: { ...d.session.counters, dropped: d.conn.framesDropped },
      };
    },
    get connectedDevices() {
      return devices.size;
    },
    kick(deviceId, reason = 'kicked by operator') {
      return kick(deviceId, reason);
    },
    chaos: {
      crashDeviceActor(deviceId) {
        const d = devices.get(deviceId);
        if (!d) return false;
        d.actor.post({ type: 'crash', reason: 'chaos.crashDeviceActor' });
        return true;
      },
    },
    close() {
      closing ??= (async () => {
        listening.stopListening();
        const mqttStopped = mqttTcp?.close();
        mqtt.close();
        stopSweep();
        stopMaintenance();
        stopHandoff();
        listening.closeAll(CloseCode.SHUTTING_DOWN, 'broker shutting down');
        fanout.destroy();
        await mqttStopped;
        await cluster?.close();
        stopActor(system);
        await store.close();
        dataDirLock.release();
        log.info('relaymesh stopped');
      })();
      return closing;
    },
  };
}

function toBytes(payload: Uint8Array | string): Uint8Array {
  return typeof payload === 'string' ? new TextEncoder().encode(payload) : payload;
}

/** Properties given to the server-side API, held to the rules of the wire (they are encoded into MSG frames). */
function checkedProps(props: MessageProperties | undefined): MessageProperties | undefined {
  if (props === undefined) return undefined;
  const checked = checkMessageProperties(props);
  if (checked === 'invalid') throw new ProtocolError(ErrorCode.INVALID_FIELD, 'props: not valid message properties (see docs/protocol.md §5.1)');
  return checked;
}
