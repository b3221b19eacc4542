/**
 * The campaign's second front: the broker's cluster port. Sockets that never authenticate and
 * sockets that complete the HMAC handshake with the cluster secret both throw seeded bad input
 * (random bytes, arbitrary msgpack, frame-shaped arrays with hostile kinds and ids). The broker
 * must answer each with a close whose reason fits a close frame, and never with a crash.
 */
import { pack } from 'msgpackr';
import { WebSocket, type RawData } from 'ws';
import { proofOf } from '../../src/cluster/handshake.js';
import { CLUSTER_PROTOCOL_VERSION, Kind, decodeFrame, encodeFrame } from '../../src/cluster/wire.js';
import { MAX_CLOSE_REASON_BYTES } from '../../src/protocol/index.js';
import type { Prng } from './frame-mix.js';

export interface ClusterPortTarget {
  port: number;
  nodeId: string;
  secret: string;
}

export interface ClusterPortStats {
  sockets: number;
  authenticated: number;
  messagesSent: number;
  closesByCode: Record<string, number>;
  /** Close reasons longer than a close frame holds (must stay 0). */
  oversizedReasons: number;
  /** Sockets that got neither a close nor an answer within the stall limit. */
  stalls: number;
}

/** Messages thrown at one socket before it is given up. */
const MESSAGES_PER_SOCKET = 8;

export class ClusterPortFuzzer {
  readonly stats: ClusterPortStats = { sockets: 0, authenticated: 0, messagesSent: 0, closesByCode: {}, oversizedReasons: 0, stalls: 0 };
  private running = true;

  constructor(
    private readonly target: ClusterPortTarget,
    private readonly rng: Prng,
    private readonly stallMs: number,
  ) {}

  /** Socket after socket until stopped; half of them authenticate first. */
  async run(): Promise<void> {
    for (let i = 0; this.running; i++) {
      await this.oneSocket(i % 2 === 1).catch(() => undefined);
    }
  }

  stop(): void {
    this.running = false;
  }

  private async oneSocket(authenticate: boolean): Promise<void> {
    const ws = new WebSocket(`ws://127.0.0.1:${this.target.port}/cluster`);
    ws.on('error', () => undefined);
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    this.stats.sockets++;
    const closed = new Promise<void>((resolve) =>
      ws.once('close', (code, reason) => {
        this.stats.closesByCode[code] = (this.stats.closesByCode[code] ?? 0) + 1;
        if (reason.byteLength > MAX_CLOSE_REASON_BYTES) this.stats.oversizedReasons++;
        resolve();
      }),
    );
    if (authenticate && (await this.handshake(ws))) this.stats.authenticated++;
    for (let n = 0; n < MESSAGES_PER_SOCKET && ws.readyState === WebSocket.OPEN; n++) {
      ws.send(this.hostileMessage());
      this.stats.messagesSent++;
    }
    const stall = new Promise<'stall'>((resolve) => setTimeout(() => resolve('stall'), this.stallMs).unref());
    // An authenticated link may accept frames that happen to be valid: a PING's PONG shows it still answers.
    if (ws.readyState === WebSocket.OPEN) ws.send(encodeFrame({ kind: Kind.PING, seq: 1 }));
    const answered = new Promise<void>((resolve) => ws.on('message', (d: RawData) => {
      const f = decodeFrame(d as Buffer);
      if (typeof f !== 'string' && f.kind === Kind.PONG && f.seq === 1) resolve();
    }));
    if ((await Promise.race([closed, answered, stall])) === 'stall') this.stats.stalls++;
    ws.terminate();
  }

  private handshake(ws: WebSocket): Promise<boolean> {
    const self = `fuzz-${this.rng.int(1_000_000)}`;
    const nonce = `n${this.rng.int(1e9)}`;
    return new Promise((resolve) => {
      const step = (data: RawData): void => {
        const frame = decodeFrame(data as Buffer);
        if (typeof frame === 'string') return resolve(false);
        if (frame.kind === Kind.CHALLENGE) {
          ws.send(encodeFrame({ kind: Kind.PROOF, proof: proofOf(this.target.secret, 'dialer', self, this.target.nodeId, nonce, frame.nonce) }));
        } else if (frame.kind === Kind.WELCOME) {
          ws.off('message', step);
          resolve(true);
        }
      };
      ws.on('message', step);
      ws.once('close', () => resolve(false));
      ws.send(encodeFrame({ kind: Kind.HELLO, version: CLUSTER_PROTOCOL_VERSION, nodeId: self, expect: this.target.nodeId, nonce }));
    });
  }

  private hostileMessage(): Uint8Array {
    const r = this.rng;
    switch (r.int(5)) {
      case 0:
        return r.bytes(1 + r.int(256));
      case 1:
        return pack([r.pick(['A', 'é', '😀', '\uD800']).repeat(50 + r.int(300))]);
      case 2:
        return pack([r.int(20) - 2, ...Array.from({ length: r.int(8) }, () => this.value())]);
      case 3:
        return pack([r.pick([Kind.HELLO, Kind.CHALLENGE, Kind.LSA, Kind.DATA]), 1, 'x'.repeat(64), 'y'.repeat(64), 'n']);
      default:
        return pack(this.value());
    }
  }

  private value(): unknown {
    const r = this.rng;
    return r.pick<() => unknown>([
      () => r.int(2 ** 31),
      () => -r.int(1000),
      () => 'z'.repeat(r.int(5000)),
      () => r.bytes(r.int(64)),
      () => [r.int(10), 'a'],
      () => ({ k: r.int(5) }),
      () => null,
      () => 1.5,
    ])();
  }
}
