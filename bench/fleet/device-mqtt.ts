/**
 * Simulated devices for the MQTT peers (Mosquitto, Aedes): one mqtt.js client each over
 * WebSocket, MQTT 3.1.1, clean sessions. The same traffic as relaymesh devices: telemetry to
 * their partition's topic, the broadcast topic, and their own command topic (MQTT has no
 * point-to-point send, so commands are publishes to cmd/<device>).
 */
import mqtt, { type MqttClient } from 'mqtt';
import { FleetMembers, connectMany, pickShare, zeroMask, waitUntil, type DeviceFleet } from './device-fleet.js';
import type { DeviceStats } from './device-stats.js';
import { TOPICS, deviceId, type ConnectPlan, type ConnectReport, type WorkerSetup } from './messages.js';

interface MqttDevice {
  index: number;
  topic: string;
  client: MqttClient;
  live: boolean;
  closing: boolean;
}


export class MqttFleet extends FleetMembers<MqttDevice> implements DeviceFleet {
  protected isLive(d: MqttDevice): boolean {
    return d.live && d.client.connected;
  }

  connect(plan: ConnectPlan): Promise<ConnectReport> {
    return connectMany(plan, (index) => this.open(index, plan.timeoutMs));
  }

  publish(index: number, payload: Buffer): boolean {
    const d = this.devices.get(index);
    if (!d?.live || !d.client.connected) return false;
    d.client.publish(d.topic, payload, { qos: this.setup.qos });
    return true;
  }

  tick(): void {
    // mqtt.js sends PINGREQ on its own keepalive timer.
  }

  drop(fraction: number): number {
    const victims = pickShare(this.liveDevices(), fraction);
    for (const d of victims) {
      d.closing = true;
      d.client.stream?.destroy();
    }
    return victims.length;
  }

  async shrink(keep: number, timeoutMs: number): Promise<number> {
    const going = this.beyond(keep);
    for (const d of going) {
      d.closing = true;
      d.client.end(false);
    }
    await waitUntil(() => going.every((d) => d.client.disconnected || !d.client.connected), timeoutMs);
    for (const d of going) {
      d.client.end(true);
    }
    this.forgetBeyond(keep);
    return going.length;
  }

  private open(index: number, timeoutMs: number): Promise<true | string> {
    return new Promise((resolve) => {
      const localAddress = this.nextSourceAddress();
      const client = mqtt.connect(this.setup.url, {
        clientId: deviceId(index),
        protocolVersion: 4,
        clean: true,
        keepalive: Math.max(1, Math.round(this.setup.heartbeatMs / 1000)),
        reconnectPeriod: 0,
        connectTimeout: timeoutMs,
        wsOptions: { perMessageDeflate: false, generateMask: zeroMask, ...(localAddress ? { localAddress } : {}) },
      });
      const device: MqttDevice = { index, topic: TOPICS.telemetry(index % this.setup.partitions, index), client, live: false, closing: false };
      let settled = false;
      const settle = (result: true | string): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (result !== true) {
          device.closing = true;
          client.end(true);
        }
        resolve(result);
      };
      const timer = setTimeout(() => settle('no CONNACK/SUBACK in time'), timeoutMs);
      client.on('connect', () => {
        const topics = { [TOPICS.broadcast]: { qos: this.setup.qos }, [TOPICS.mqttCommand(index)]: { qos: this.setup.qos } };
        client.subscribe(topics, (err) => {
          if (err) return settle(`SUBSCRIBE failed: ${err.message}`);
          device.live = true;
          this.add(device);
          settle(true);
        });
      });
      client.on('message', (_topic, payload) => this.stats.delivered(payload));
      client.on('error', (err) => settle(err.message));
      client.on('close', () => {
        settle('closed during the handshake');
        if (device.live && !device.closing) this.stats.counters.unexpectedCloses++;
        device.live = false;
      });
    });
  }
}
