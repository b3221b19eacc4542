/**
 * A TCP relay on 127.0.0.1 that applies a NetworkModel per connection, both directions: each
 * chunk is held for a sampled one-way delay and leaves no earlier than the chunk before it, so
 * order is kept per connection. Outages freeze a connection and then reset both sides. The
 * upstream socket is bound to the client's own source address, so the broker sees the
 * simulator's 127.0.0.x spread, not the relay.
 */
import { createServer, connect, type Server, type Socket } from 'node:net';
import { LinkSampler, type NetworkModel, type Random } from './network-model.js';

export interface RelayCounters {
  connections: number;
  /** Connections cut by an emulated outage. */
  outages: number;
  chunks: number;
}

export interface RelayTarget {
  host: string;
  port: number;
}

export class DelayRelay {
  readonly counters: RelayCounters = { connections: 0, outages: 0, chunks: 0 };
  private readonly open = new Set<Socket>();

  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {}

  static start(target: RelayTarget, model: NetworkModel, random: Random = Math.random): Promise<DelayRelay> {
    // Half-open sockets: each direction's FIN travels through the queue like data, after what preceded it.
    const server = createServer({ noDelay: true, allowHalfOpen: true });
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => {
        const address = server.address();
        const relay = new DelayRelay(server, typeof address === 'object' && address ? address.port : 0);
        server.on('connection', (down) => relay.accept(down, target, new LinkSampler(model, random)));
        resolve(relay);
      });
    });
  }

  /** Stops accepting and resets every relayed connection. */
  async close(): Promise<void> {
    for (const s of this.open) s.destroy();
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  private accept(down: Socket, target: RelayTarget, sampler: LinkSampler): void {
    this.counters.connections++;
    const localAddress = down.remoteAddress?.replace(/^::ffff:/, '');
    const up = connect({ host: target.host, port: target.port, noDelay: true, allowHalfOpen: true, ...(localAddress ? { localAddress } : {}) });
    this.open.add(down).add(up);
    const cut = (): void => {
      down.destroy();
      up.destroy();
    };
    for (const s of [down, up]) {
      s.on('error', cut);
      s.on('close', () => {
        this.open.delete(s);
        cut();
      });
    }
    const uplink = new HeldDirection(down, up, sampler, this.counters);
    const downlink = new HeldDirection(up, down, sampler, this.counters);
    const firstOutage = sampler.nextOutageInMs();
    if (firstOutage !== undefined) {
      const timer = setTimeout(() => {
        // A tunnel: nothing passes for a while, then the connection is gone (the NAT binding lapsed).
        this.counters.outages++;
        uplink.freeze();
        downlink.freeze();
        setTimeout(cut, sampler.outageLengthMs()).unref();
      }, firstOutage);
      timer.unref();
      down.once('close', () => clearTimeout(timer));
    }
  }
}

/** One direction of a relayed connection: a queue of chunks, each released at its due time. */
class HeldDirection {
  private readonly queue: { dueAt: number; chunk: Buffer | null }[] = [];
  private lastDueAt = 0;
  private timer: NodeJS.Timeout | undefined;
  private frozen = false;

  constructor(
    from: Socket,
    private readonly to: Socket,
    private readonly sampler: LinkSampler,
    private readonly counters: RelayCounters,
  ) {
    from.on('data', (chunk: Buffer) => this.hold(chunk));
    // A half-close travels like data: after everything sent before it.
    from.on('end', () => this.hold(null));
  }

  freeze(): void {
    this.frozen = true;
    clearTimeout(this.timer);
  }

  private hold(chunk: Buffer | null): void {
    if (chunk) this.counters.chunks++;
    const now = performance.now();
    this.lastDueAt = Math.max(this.lastDueAt, now + this.sampler.delayMs());
    this.queue.push({ dueAt: this.lastDueAt, chunk });
    if (this.queue.length === 1) this.arm();
  }

  private arm(): void {
    const head = this.queue[0];
    if (!head || this.frozen) return;
    this.timer = setTimeout(() => this.release(), Math.max(0, head.dueAt - performance.now()));
  }

  private release(): void {
    const now = performance.now();
    while (this.queue.length > 0 && this.queue[0]!.dueAt <= now + 0.5) {
      const { chunk } = this.queue.shift()!;
      if (this.to.destroyed) return;
      if (chunk) this.to.write(chunk);
      else this.to.end();
    }
    this.arm();
  }
}
