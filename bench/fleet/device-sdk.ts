/**
 * Simulated devices on the relaymesh SDK (RelaymeshClient): heavier than raw sockets, but with
 * the SDK's own heartbeat and reconnect policy (exponential backoff with jitter), which is what
 * the reconnect storm measures.
 */
import WebSocket from 'ws';
import { RelaymeshClient, type WebSocketConstructor } from '../../packages/client/src/index.js';
import { nowUs } from '../fanout/clock.js';
import { FleetMembers, pickShare, zeroMask, withTimeout, type DeviceFleet } from './device-fleet.js';
import { deviceId } from './messages.js';

/** The SDK resubscribes after it reports `connected`: what is sent this soon after is not yet expected (µs). */
const RESUBSCRIBE_US = 500_000;

interface SdkDevice {
  index: number;
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

  protected publishOn(index: number, topic: string, payload: Buffer): boolean {
    const d = this.devices.get(index);
    if (!d?.client.connected) return false;
    // QoS 0 settles on write; a rejection means the link dropped in between, which the counters show as loss.
    d.client.publish(topic, payload, { qos: this.setup.qos }).catch(() => undefined);
    return true;
  }

  protected async endSession(d: SdkDevice): Promise<void> {
    d.closing = true;
    await withTimeout(d.client.close(), 5_000, 'close').catch(() => d.socket?.terminate());
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

  protected async open(index: number, timeoutMs: number): Promise<true | string> {
    const localAddress = this.nextSourceAddress();
    const device: SdkDevice = {
      index,
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
    client.on('message', (msg) => this.received(index, msg.payload, nowUs()));
    client.on('reconnecting', () => void this.stats.counters.reconnectAttempts++);
    client.on('disconnected', () => {
      if (!device.closing) this.lost(index, device.droppedAtUs === undefined ? 'unexpected' : 'dropped');
    });
    let subscribed = false;
    client.on('connected', () => {
      device.droppedAtUs = undefined;
      // The first session counts from its SUBSCRIBE's answer, below; later ones when the SDK is back.
      if (subscribed) this.add(device, nowUs() + RESUBSCRIBE_US);
    });
    try {
      await withTimeout(client.connect(), timeoutMs, 'connect');
      await client.subscribe(this.stats.workload.broadcastTopic, { qos: this.setup.qos });
      subscribed = true;
    } catch (err) {
      device.closing = true;
      await client.close().catch(() => undefined);
      return (err as Error).message;
    }
    this.add(device);
    return true;
  }
}
