/**
 * Simulated devices for the MQTT peers (Mosquitto, Aedes): one mqtt.js client each over
 * WebSocket, MQTT 3.1.1, clean sessions. The same traffic as relaymesh devices: telemetry to
 * their partition's topic, the broadcast topic, and their own command topic (MQTT has no
 * point-to-point send, so commands are publishes to cmd/<device>).
 */
import mqtt, { type MqttClient } from 'mqtt';
import { nowUs } from '../fanout/clock.js';
import { FleetMembers, pickShare, zeroMask, waitUntil, type DeviceFleet } from './device-fleet.js';
import { deviceId } from './messages.js';

interface MqttDevice {
  index: number;
  client: MqttClient;
  live: boolean;
  closing: boolean;
}


export class MqttFleet extends FleetMembers<MqttDevice> implements DeviceFleet {
  protected isLive(d: MqttDevice): boolean {
    return d.live && d.client.connected;
  }

  protected publishOn(index: number, topic: string, payload: Buffer): boolean {
    const d = this.devices.get(index);
    if (!d?.live || !d.client.connected) return false;
    d.client.publish(topic, payload, { qos: this.setup.qos });
    return true;
  }

  protected async endSession(d: MqttDevice): Promise<void> {
    d.closing = true;
    d.live = false;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => (d.client.end(true), resolve()), 5_000);
      d.client.end(false, {}, () => (clearTimeout(timer), resolve()));
    });
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

  protected open(index: number, timeoutMs: number): Promise<true | string> {
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
      const device: MqttDevice = { index, client, live: false, closing: false };
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
        const w = this.stats.workload;
        const topics = { [w.broadcastTopic]: { qos: this.setup.qos }, [w.mqttCommandTopic(index)]: { qos: this.setup.qos } };
        client.subscribe(topics, (err) => {
          if (err) return settle(`SUBSCRIBE failed: ${err.message}`);
          device.live = true;
          this.add(device);
          settle(true);
        });
      });
      client.on('message', (_topic, payload) => this.received(index, payload, nowUs()));
      client.on('error', (err) => settle(err.message));
      client.on('close', () => {
        settle('closed during the handshake');
        const wasLive = device.live;
        device.live = false;
        if (wasLive && !device.closing) this.lost(index);
      });
    });
  }
}
