/**
 * A raw MQTT connection over TCP or WebSocket (`/mqtt`, subprotocol `mqtt`) that sends what
 * well-behaved clients never send and records what the broker answers; `play` runs one
 * HostileCase against it and returns what was observed, every wait bounded.
 */
import { connect, type Socket } from 'node:net';
import mqttPacket, { type Packet } from 'mqtt-packet';
import WebSocket from 'ws';
import { PINGREQ, connectBytes, type HostileCase, type MqttVersion, type Observed } from './mqtt-cases.js';

export type MqttTransport = 'tcp' | 'ws';

export interface MqttEndpoint {
  host: string;
  tcpPort: number;
  /** The broker's WebSocket port (MQTT at `/mqtt`). */
  wsPort: number;
}

export class MqttProbe {
  packets: Packet[] = [];
  closed = false;
  /** The broker sent bytes that do not parse as MQTT. */
  garbled = false;
  private readonly parser: ReturnType<typeof mqttPacket.parser>;
  private readonly waiters = new Set<() => void>();

  private constructor(
    private readonly write: (bytes: Buffer) => void,
    private readonly destroyLink: () => void,
    version: MqttVersion,
  ) {
    this.parser = mqttPacket.parser({ protocolVersion: version });
    this.parser.on('packet', (p: Packet) => {
      this.packets.push(p);
      this.wake();
    });
    this.parser.on('error', () => (this.garbled = true));
  }

  static open(transport: MqttTransport, at: MqttEndpoint, version: MqttVersion, timeoutMs: number): Promise<MqttProbe> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${transport} connect timed out`)), timeoutMs);
      if (transport === 'tcp') {
        const socket: Socket = connect(at.tcpPort, at.host);
        const probe = new MqttProbe((b) => void (socket.destroyed || socket.write(b)), () => socket.destroy(), version);
        socket.on('data', (chunk: Buffer) => probe.parser.parse(chunk));
        socket.on('error', () => undefined);
        socket.once('close', () => probe.markClosed());
        socket.once('connect', () => (clearTimeout(timer), resolve(probe)));
        socket.once('error', (err) => (clearTimeout(timer), reject(err)));
        return;
      }
      const ws = new WebSocket(`ws://${at.host}:${at.wsPort}/mqtt`, 'mqtt', { perMessageDeflate: false });
      const probe = new MqttProbe((b) => ws.readyState === WebSocket.OPEN && ws.send(b), () => ws.terminate(), version);
      ws.on('message', (data: Buffer) => probe.parser.parse(data));
      ws.on('error', () => undefined);
      ws.once('close', () => probe.markClosed());
      ws.once('open', () => (clearTimeout(timer), resolve(probe)));
      ws.once('error', (err) => (clearTimeout(timer), reject(err)));
    });
  }

  send(bytes: Buffer): void {
    this.write(bytes);
  }

  destroy(): void {
    this.destroyLink();
  }

  /** Waits until `done()` or the deadline; true when `done()`. */
  async until(done: () => boolean, timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (!done()) {
      const left = deadline - Date.now();
      if (left <= 0) return false;
      await new Promise<void>((resolve) => {
        const wake = (): void => {
          clearTimeout(timer);
          this.waiters.delete(wake);
          resolve();
        };
        const timer = setTimeout(wake, left);
        this.waiters.add(wake);
      });
    }
    return true;
  }

  private markClosed(): void {
    this.closed = true;
    this.wake();
  }

  private wake(): void {
    for (const wake of [...this.waiters]) wake();
  }
}

export interface PlayOptions {
  transport: MqttTransport;
  at: MqttEndpoint;
  /** Unique among the connections open at once (a shared id would be a takeover). */
  clientId: string;
  maxPacketBytes: number;
  /** Longest wait for any one reaction: longer is a stall. */
  timeoutMs: number;
}

/**
 * Plays `c`: CONNECT first when the case says so, then its chunks, then a PINGREQ. A broker
 * still waiting for the rest of a half-sent packet then gets zero bytes past the packet size
 * limit, which must close the connection; so a broker that neither answers nor closes stalls.
 */
export async function play(c: HostileCase, o: PlayOptions): Promise<Observed> {
  const probe = await MqttProbe.open(o.transport, o.at, c.version, o.timeoutMs);
  try {
    if (c.afterConnect) {
      probe.send(connectBytes(o.clientId, c.version));
      const connected = await probe.until(() => probe.closed || probe.packets.some((p) => p.cmd === 'connack'), o.timeoutMs);
      const connack = probe.packets.find((p) => p.cmd === 'connack');
      if (!connected || !connack || (connack.returnCode ?? connack.reasonCode ?? 0) !== 0) throw new Error(`CONNECT not accepted (${connected ? (connack ? 'refused' : 'closed') : 'no answer'})`);
      probe.packets = [];
    }
    for (const chunk of c.chunks) probe.send(chunk);
    const pingsBefore = (): number => probe.packets.filter((p) => p.cmd === 'pingresp').length;
    const before = pingsBefore();
    probe.send(PINGREQ);
    const answeredOrClosed = (): boolean => probe.closed || pingsBefore() > before;
    // A short first wait: most cases are answered or closed at once.
    if (!(await probe.until(answeredOrClosed, Math.min(1000, o.timeoutMs)))) {
      probe.send(Buffer.alloc(o.maxPacketBytes + 8));
      await probe.until(() => probe.closed, o.timeoutMs);
    }
    // A refused connection's DISCONNECT travels just before the close: both are in by now.
    return { packets: probe.packets, closed: probe.closed, answered: pingsBefore() > before, garbled: probe.garbled };
  } finally {
    probe.destroy();
  }
}
