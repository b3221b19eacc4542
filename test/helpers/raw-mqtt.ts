import { connect, type Socket } from 'node:net';
import mqttPacket, { type Packet } from 'mqtt-packet';

/** A bare MQTT TCP connection for what well-behaved clients never send (bad packets, silence). */
export class RawMqtt {
  readonly packets: Packet[] = [];
  readonly closed: Promise<void>;
  private readonly parser: ReturnType<typeof mqttPacket.parser>;

  private constructor(
    private readonly socket: Socket,
    private readonly protocolVersion: 4 | 5,
  ) {
    this.parser = mqttPacket.parser({ protocolVersion });
    this.parser.on('packet', (p: Packet) => this.packets.push(p));
    socket.on('data', (chunk: Buffer) => this.parser.parse(chunk));
    socket.on('error', () => undefined);
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
  }

  static open(port: number, protocolVersion: 4 | 5 = 4): Promise<RawMqtt> {
    return new Promise((resolve, reject) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => resolve(new RawMqtt(socket, protocolVersion)));
      socket.once('error', reject);
    });
  }

  send(packet: Packet): void {
    this.socket.write(mqttPacket.generate(packet, { protocolVersion: this.protocolVersion }));
  }

  sendBytes(bytes: Buffer): void {
    this.socket.write(bytes);
  }

  /** Waits (bounded) for a packet matching `match`. */
  async waitFor<P extends Packet>(match: (p: Packet) => p is P, timeoutMs = 15_000): Promise<P> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.packets.find(match);
      if (found) return found;
      if (Date.now() > deadline) throw new Error(`no matching packet; got ${this.packets.map((p) => p.cmd).join(', ')}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  /** Waits (bounded) for the broker to close the connection. */
  async waitClosed(timeoutMs = 15_000): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.closed, new Promise((_, reject) => (timer = setTimeout(() => reject(new Error('connection stayed open')), timeoutMs)))]);
    clearTimeout(timer);
  }

  destroy(): void {
    this.socket.destroy();
  }
}

export const isConnack = (p: Packet): p is Extract<Packet, { cmd: 'connack' }> => p.cmd === 'connack';
export const isDisconnect = (p: Packet): p is Extract<Packet, { cmd: 'disconnect' }> => p.cmd === 'disconnect';
export const isSuback = (p: Packet): p is Extract<Packet, { cmd: 'suback' }> => p.cmd === 'suback';
export const isPuback = (p: Packet): p is Extract<Packet, { cmd: 'puback' }> => p.cmd === 'puback';
export const isPublish = (p: Packet): p is Extract<Packet, { cmd: 'publish' }> => p.cmd === 'publish';

/**
 * A 5.0 client on a raw socket that never acknowledges, subscribed to `filter` at QoS 1 (e.g. a
 * `$share` group), with `receiveMaximum` when given; closed when the test ends.
 */
export async function silentSubscriber(t: { teardown(fn: () => unknown): void }, port: number, clientId: string, filter: string, receiveMaximum?: number): Promise<RawMqtt> {
  const raw = await RawMqtt.open(port, 5);
  t.teardown(() => raw.destroy());
  const properties = receiveMaximum !== undefined ? { properties: { receiveMaximum } } : {};
  raw.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clientId, clean: true, keepalive: 60, ...properties });
  await raw.waitFor(isConnack);
  raw.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: filter, qos: 1 }] });
  await raw.waitFor(isSuback);
  return raw;
}
