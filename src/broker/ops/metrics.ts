import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { newMessageTally, type MessageTally } from '../../protocol/index.js';
import type { MessageStore } from '../../store/index.js';
import type { TransportStats } from '../../transport/index.js';
import type { DeviceRegistry } from '../device-registry.js';
import type { OutboxObserver } from '../durable/outbox.js';

export interface MetricsSources {
  transport: () => TransportStats | undefined;
  devices: DeviceRegistry;
  store: MessageStore;
  /** Cluster-port socket handlers that threw (0 when not clustered). */
  clusterFaults: () => number;
  /** Open connections per device protocol (MQTT: over TCP and WebSocket). */
  connections: Record<DeviceProtocol, () => number>;
  /** QoS 1 messages of MQTT `$share` groups dropped because too many waited in their group. */
  sharedDropped: () => number;
}

/** The protocols devices speak to the broker: the `protocol` label of the per-protocol metrics. */
export type DeviceProtocol = 'relaymesh' | 'mqtt';
export const DEVICE_PROTOCOLS: readonly DeviceProtocol[] = ['relaymesh', 'mqtt'];

/**
 * The broker's Prometheus metrics (its own registry, so several brokers in one process do not
 * collide). Totals kept elsewhere (transport counters) are read at scrape time; the hot path
 * only bumps plain numbers.
 */
export class BrokerMetrics {
  readonly registry = new Registry();
  readonly messages = new Counter({ name: 'relaymesh_messages_total', help: 'Messages accepted, by kind (publish, send) and QoS', labelNames: ['kind', 'qos'], registers: [this.registry] });
  readonly fanoutSeconds = new Histogram({
    name: 'relaymesh_fanout_seconds',
    help: 'Time from a publish entering a fan-out tree to a leaf writing it to its sockets',
    buckets: [0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1],
    registers: [this.registry],
  });
  readonly deliveryAckSeconds = new Histogram({
    name: 'relaymesh_delivery_ack_seconds',
    help: 'End to end for QoS 1: from writing a delivery to the device until its ack arrives',
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 5, 10],
    registers: [this.registry],
  });
  private readonly replays = new Counter({ name: 'relaymesh_replayed_total', help: 'Stored messages sent from the store (replay and catch-up)', registers: [this.registry] });
  private readonly redeliveries = new Counter({ name: 'relaymesh_redelivered_total', help: 'Deliveries sent again after the ack timeout', registers: [this.registry] });
  readonly storeWriteFailures = new Counter({ name: 'relaymesh_store_write_failures_total', help: 'Store writes nobody waited for that failed, by operation', labelNames: ['operation'], registers: [this.registry] });

  /**
   * Messages in and out per protocol: each connection holds its protocol's tally (resolved
   * once, at connect), the hot path bumps plain numbers, the counters read them when scraped.
   */
  readonly traffic: Record<DeviceProtocol, MessageTally> = { relaymesh: newMessageTally(), mqtt: newMessageTally() };

  readonly outboxObserver: OutboxObserver = {
    replayed: (n) => this.replays.inc(n),
    redelivered: (n) => this.redeliveries.inc(n),
    acked: (seconds) => this.deliveryAckSeconds.observe(seconds),
  };

  constructor(sources: MetricsSources) {
    collectDefaultMetrics({ register: this.registry, prefix: 'relaymesh_process_' });
    // prom-client names three current counts `*_total` gauges, which Prometheus reads as
    // counters; the same counts stay available by type (relaymesh_process_nodejs_active_handles…).
    for (const kind of ['resources', 'handles', 'requests']) this.registry.removeSingleMetric(`relaymesh_process_nodejs_active_${kind}_total`);
    const gauge = (name: string, help: string, read: () => number) =>
      new Gauge({ name, help, registers: [this.registry], collect() { this.set(read()); } });
    // Totals kept by the transport are counters to Prometheus (rate() works on them): at scrape
    // time the counter is set to the transport's running total, which never goes down.
    const total = (name: string, help: string, read: () => number) =>
      new Counter({ name, help, registers: [this.registry], collect() { this.reset(); this.inc(read()); } });
    const transport = (read: (s: TransportStats) => number) => () => {
      const stats = sources.transport();
      return stats ? read(stats) : 0;
    };
    gauge('relaymesh_connections', 'Open WebSocket connections', transport((s) => s.opened - s.closed));
    gauge('relaymesh_devices_connected', 'Devices with a live session', () => sources.devices.size);
    const traffic = this.traffic;
    new Gauge({
      name: 'relaymesh_device_connections',
      help: 'Open device connections, by protocol (relaymesh over WebSocket; MQTT over TCP and WebSocket)',
      labelNames: ['protocol'],
      registers: [this.registry],
      collect() {
        for (const protocol of DEVICE_PROTOCOLS) this.set({ protocol }, sources.connections[protocol]());
      },
    });
    const perProtocol = (name: string, help: string, read: (tally: MessageTally) => number) =>
      new Counter({
        name,
        help,
        labelNames: ['protocol'],
        registers: [this.registry],
        collect() {
          this.reset();
          for (const protocol of DEVICE_PROTOCOLS) this.inc({ protocol }, read(traffic[protocol]));
        },
      });
    perProtocol('relaymesh_device_messages_in_total', 'Messages (publish, send) accepted from devices, by protocol', (t) => t.messagesIn);
    perProtocol('relaymesh_device_messages_out_total', 'Message deliveries written to devices (live, replayed, redelivered), by protocol', (t) => t.messagesOut);
    total('relaymesh_connects_total', 'Connections accepted since start', transport((s) => s.opened));
    total('relaymesh_disconnects_total', 'Connections closed since start', transport((s) => s.closed));
    total('relaymesh_frames_in_total', 'Frames received', transport((s) => s.framesIn));
    total('relaymesh_bytes_in_total', 'Bytes received', transport((s) => s.bytesIn));
    total('relaymesh_frames_out_total', 'Frames sent', transport((s) => s.framesOut));
    total('relaymesh_bytes_out_total', 'Bytes sent', transport((s) => s.bytesOut));
    total('relaymesh_socket_writes_total', 'Socket writes (each carries every frame of one tick for one socket)', transport((s) => s.writes));
    total('relaymesh_dropped_total', 'QoS 0 deliveries dropped for backed-up sockets', transport((s) => s.framesDropped));
    total('relaymesh_mqtt_shared_dropped_total', 'QoS 1 messages of MQTT $share groups dropped: too many waited in their group', sources.sharedDropped);
    gauge('relaymesh_acks_pending', 'QoS 1 deliveries waiting for their ack', () => {
      let pending = 0;
      for (const device of sources.devices.values()) pending += device.outbox.inflightCount;
      return pending;
    });
    new Counter({
      name: 'relaymesh_socket_faults_total',
      help: 'Socket message handlers that threw, by port: the socket was closed, the process kept running',
      labelNames: ['port'],
      registers: [this.registry],
      collect() {
        this.reset();
        this.inc({ port: 'device' }, transport((s) => s.faults)());
        this.inc({ port: 'cluster' }, sources.clusterFaults());
      },
    });
    gauge('relaymesh_store_bytes', 'Size of the LMDB data file', () => sources.store.sizeBytes());
  }

  async render(): Promise<string> {
    return this.registry.metrics();
  }
}
