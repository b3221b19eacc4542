/**
 * Simulated devices on the relaymesh SDK (RelaymeshClient): heavier than raw sockets, but with
 * the SDK's own heartbeat and reconnect policy (exponential backoff with jitter), which is what
 * the reconnect storm measures.
 */
import WebSocket from 'ws';
import { RelaymeshClient, type WebSocketConstructor } from '../../packages/client/src/index.js';
import { nowUs } from '../fanout/clock.js';
import { FleetMembers, connectMany, pickShare, zeroMask, withTimeout, type DeviceFleet } from './device-fleet.js';
import type { DeviceStats } from './device-stats.js';
import { TOPICS, deviceId, type ConnectPlan, type ConnectReport, type WorkerSetup } from './messages.js';

interface SdkDevice {
  index: number;
  topic: string;
  client: RelaymeshClient;
  /** The socket the client dialled last: the drop resets it under the SDK's feet, like a network failure. */
  socket: WebSocket | undefined;
  closing: boolean;
  /** Set when dropped, cleared when the session is back. */
  droppedAtUs: number | undefined;
}


/** A WebSocket class for one device: binds its source address and remembers each socket it opens. */
function socketClass(localAddress: string | undefined, opened: (ws: WebSocket) => void): WebSocketConstructor {
  class DeviceSocket extends WebSocket {
    constructor(url: string) {
      super(url, { perMessageDeflate: false, generateMask: zeroMask, ...(localAddress ? { localAddress } : {}) });
      opened(this);
    }
  }
  return DeviceSocket as unknown as WebSocketConstructor;
}

export class SdkFleet extends FleetMembers<SdkDevice> implements DeviceFleet {
  protected isLive(d: SdkDevice): boolean {
    return d.client.connected;
  }

  connect(plan: ConnectPlan): Promise<ConnectReport> {
    return connectMany(plan, (index) => this.open(index, plan.timeoutMs));
  }

  publish(index: number, payload: Buffer): boolean {
    const d = this.devices.get(index);
    if (!d?.client.connected) return false;
    // QoS 0 settles on write; a rejection means the link dropped in between, which the counters show as loss.
    d.client.publish(d.topic, payload, { qos: this.setup.qos }).catch(() => undefined);
    return true;
  }

  tick(): void {
    // The SDK runs its own heartbeat timers.
  }

  drop(fraction: number): number {
    const victims = pickShare(this.liveDevices(), fraction);
    const at = nowUs();
    for (const d of victims) {
      d.droppedAtUs = at;
      d.socket?.terminate();
    }
    return victims.length;
  }

  async shrink(keep: number, timeoutMs: number): Promise<number> {
    const going = this.beyond(keep);
    for (const d of going) d.closing = true;
    const closing = Promise.all(going.map((d) => d.client.close().catch(() => undefined)));
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([closing, new Promise((r) => (timer = setTimeout(r, timeoutMs)))]);
    clearTimeout(timer);
    for (const d of going) {
      d.socket?.terminate();
    }
    this.forgetBeyond(keep);
    return going.length;
  }

  private async open(index: number, timeoutMs: number): Promise<true | string> {
    const localAddress = this.nextSourceAddress();
    const device: SdkDevice = {
      index,
      topic: TOPICS.telemetry(index % this.setup.partitions, index),
      client: undefined as unknown as RelaymeshClient,
      socket: undefined,
      closing: false,
      droppedAtUs: undefined,
    };
    const client = new RelaymeshClient({
      url: this.setup.url,
      deviceId: deviceId(index),
      requestTimeoutMs: timeoutMs,
      WebSocket: socketClass(localAddress, (ws) => (device.socket = ws)),
    });
    device.client = client;
    client.on('error', () => undefined);
    client.on('message', (msg) => this.stats.delivered(msg.payload));
    client.on('reconnecting', () => void this.stats.counters.reconnectAttempts++);
    client.on('disconnected', () => {
      if (!device.closing && device.droppedAtUs === undefined) this.stats.counters.unexpectedCloses++;
    });
    client.on('connected', () => {
      if (device.droppedAtUs === undefined) return;
      this.stats.counters.reconnects++;
      this.stats.reconnectTime.record(nowUs() - device.droppedAtUs);
      device.droppedAtUs = undefined;
    });
    try {
      await withTimeout(client.connect(), timeoutMs, 'connect');
      await client.subscribe(TOPICS.broadcast, { qos: this.setup.qos });
    } catch (err) {
      device.closing = true;
      await client.close().catch(() => undefined);
      return (err as Error).message;
    }
    this.add(device);
    return true;
  }
}
