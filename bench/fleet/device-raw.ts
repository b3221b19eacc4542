/**
 * Lean simulated devices: one `ws` socket each speaking relaymesh protocol v1 through its own
 * codec (src/protocol), no SDK machinery, so one process holds thousands. Each device says
 * HELLO, subscribes to the broadcast topic, publishes telemetry when told, acks QoS 1
 * deliveries and pings at the broker's heartbeat interval.
 */
import WebSocket from 'ws';
import { FrameKind, decodeFrame, encodeFrame, type Frame } from '../../src/protocol/index.js';
import { nowUs } from '../fanout/clock.js';
import { FleetMembers, pickShare, zeroMask, waitUntil, type DeviceFleet } from './device-fleet.js';
import { deviceId } from './messages.js';

interface RawDevice {
  index: number;
  ws: WebSocket;
  live: boolean;
  /** Closed on the bench's request: not an unexpected close. */
  closing: boolean;
  seq: number;
  nextPingAt: number;
}


export class RawFleet extends FleetMembers<RawDevice> implements DeviceFleet {
  protected isLive(d: RawDevice): boolean {
    return d.live;
  }

  protected publishOn(index: number, topic: string, payload: Buffer): boolean {
    const d = this.devices.get(index);
    if (!d?.live) return false;
    d.ws.send(encodeFrame({ kind: FrameKind.PUB, seq: ++d.seq, topic, payload, qos: this.setup.qos }));
    return true;
  }

  protected async endSession(d: RawDevice): Promise<void> {
    d.closing = true;
    d.live = false;
    if (d.ws.readyState === WebSocket.OPEN) d.ws.close(1000, 'drive over');
    await waitUntil(() => d.ws.readyState === WebSocket.CLOSED, 5_000, 50);
    d.ws.terminate();
  }

  tick(nowMs: number): void {
    for (const d of this.devices.values()) {
      if (!d.live || nowMs < d.nextPingAt) continue;
      d.nextPingAt = nowMs + this.setup.heartbeatMs;
      d.ws.send(encodeFrame({ kind: FrameKind.PING, seq: ++d.seq, ts: Math.round(nowUs()) }));
    }
  }

  /** Dropped raw devices do not come back: the reconnect storm runs on SDK devices. */
  drop(fraction: number): number {
    const victims = pickShare(this.liveDevices(), fraction);
    for (const d of victims) {
      d.closing = true;
      d.ws.terminate();
    }
    return victims.length;
  }

  async shrink(keep: number, timeoutMs: number): Promise<number> {
    const going = this.beyond(keep);
    for (const d of going) {
      d.closing = true;
      // Broker-side sessions end on a close frame; the broker closes TCP first, so TIME_WAIT stays on its side.
      if (d.ws.readyState === WebSocket.OPEN) d.ws.close(1000, 'bench shrink');
    }
    await waitUntil(() => going.every((d) => d.ws.readyState === WebSocket.CLOSED), timeoutMs);
    for (const d of going) {
      if (d.ws.readyState !== WebSocket.CLOSED) d.ws.terminate();
    }
    this.forgetBeyond(keep);
    return going.length;
  }

  protected open(index: number, timeoutMs: number): Promise<true | string> {
    return new Promise((resolve) => {
      const localAddress = this.nextSourceAddress();
      const ws = new WebSocket(this.setup.url, {
        perMessageDeflate: false,
        skipUTF8Validation: true,
        handshakeTimeout: timeoutMs,
        generateMask: zeroMask,
        ...(localAddress ? { localAddress } : {}),
      });
      const device: RawDevice = {
        index,
        ws,
        live: false,
        closing: false,
        seq: 0,
        nextPingAt: 0,
      };
      let settled = false;
      const settle = (result: true | string): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (result !== true) {
          device.closing = true;
          ws.terminate();
        }
        resolve(result);
      };
      const timer = setTimeout(() => settle('no WELCOME/OK in time'), timeoutMs);
      ws.on('open', () => ws.send(encodeFrame({ kind: FrameKind.HELLO, seq: ++device.seq, versions: [1], deviceId: deviceId(index) })));
      ws.on('message', (data: Buffer) => {
        const atUs = nowUs();
        const decoded = decodeFrame(data);
        if (!decoded.ok) return;
        this.onFrame(device, decoded.frame, atUs, settle);
      });
      ws.on('error', (err) => settle(err.message));
      ws.on('close', (code) => {
        settle(`closed with ${code} during the handshake`);
        const wasLive = device.live;
        device.live = false;
        if (wasLive && !device.closing) this.lost(index);
      });
    });
  }

  private onFrame(d: RawDevice, frame: Frame, atUs: number, settle: (r: true | string) => void): void {
    switch (frame.kind) {
      case FrameKind.MSG:
        this.received(d.index, frame.payload, atUs);
        if (frame.qos === 1) d.ws.send(encodeFrame({ kind: FrameKind.ACK, seq: ++d.seq, stream: frame.stream, offset: frame.offset }));
        return;
      case FrameKind.PONG:
        if (frame.ts !== undefined) this.stats.pong(frame.ts);
        return;
      case FrameKind.WELCOME:
        d.ws.send(encodeFrame({ kind: FrameKind.SUB, seq: ++d.seq, filters: [this.stats.workload.broadcastTopic], qos: this.setup.qos }));
        return;
      case FrameKind.OK:
        if (d.live) return;
        d.live = true;
        // Spread the fleet's pings over the interval instead of pinging in lockstep.
        d.nextPingAt = Date.now() + Math.random() * this.setup.heartbeatMs;
        this.add(d);
        settle(true);
        return;
      case FrameKind.ERROR:
        if (!d.live) settle(`ERROR ${frame.code}: ${frame.message}`);
        return;
      default:
        return;
    }
  }
}
