/**
 * The campaign's frame source: a seeded, fast mix of valid frames, mutated valid frames, random
 * bytes and the hostile shapes of arbitraries.ts. Structured frames are sampled from the
 * fast-check arbitraries once, at start-up; per-frame work is a PRNG draw and at most one copy.
 */
import fc from 'fast-check';
import { encodeFrame } from '../../src/protocol/index.js';
import * as arb from '../../kit/fuzz/arbitraries.js';
import { flipBits, insertBytes, overwrite, removeBytes, splice, truncate } from '../../kit/fuzz/mutations.js';

export type Category =
  | 'valid'
  | 'server-kind'
  | 'mutated'
  | 'truncated'
  | 'random'
  | 'text'
  | 'wrong-type'
  | 'lying-length'
  | 'nested'
  | 'extension'
  | 'unknown-kind'
  | 'oversized';

export interface FuzzMessage {
  category: Category;
  /** Bytes go as a binary WebSocket message, a string as a text one. */
  data: Uint8Array | string;
}

/** Share of each category, in frames per 10,000. */
const WEIGHTS: Record<Category, number> = {
  valid: 2000,
  'server-kind': 300,
  mutated: 2500,
  truncated: 800,
  random: 1400,
  text: 200,
  'wrong-type': 1000,
  'lying-length': 800,
  nested: 100,
  extension: 450,
  'unknown-kind': 440,
  oversized: 10,
};

/** A small fast PRNG (mulberry32): the campaign draws several numbers per frame. */
export class Prng {
  constructor(private state: number) {}

  /** A float in [0, 1). */
  next(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) | 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }

  bytes(n: number): Uint8Array {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = this.int(256);
    return out;
  }
}

interface Pools {
  valid: Uint8Array[];
  server: Uint8Array[];
  hello: Uint8Array[];
  wrongType: Uint8Array[];
  lyingLength: Uint8Array[];
  nested: Uint8Array[];
  extension: Uint8Array[];
  unknownKind: Uint8Array[];
  oversized: Uint8Array[];
}

export class FrameMix {
  private readonly pools: Pools;
  private readonly table: Category[];

  /** `maxFrameBytes` is the broker's: oversized frames straddle it and its transport limit (4×). */
  constructor(
    private readonly rng: Prng,
    seed: number,
    maxFrameBytes: number,
  ) {
    const sample = <T>(a: fc.Arbitrary<T>, n: number, offset: number) => fc.sample(a, { numRuns: n, seed: seed + offset });
    this.pools = {
      valid: sample(arb.clientFrame, 4000, 1).map(encodeFrame),
      server: sample(arb.serverFrame, 500, 2).map(encodeFrame),
      hello: sample(arb.clientFrame, 2000, 3).filter((f) => f.kind === 1).map(encodeFrame),
      wrongType: sample(arb.wrongTypeFrame, 2000, 4).map((w) => w.bytes),
      lyingLength: sample(arb.lyingLengthFrame, 1000, 5).map((l) => l.bytes),
      nested: sample(arb.deeplyNested(maxFrameBytes), 60, 6).map((n) => n.bytes),
      extension: sample(arb.extensionFrame, 1000, 7),
      unknownKind: sample(arb.unknownKindFrame, 500, 8).map((u) => u.bytes),
      oversized: [maxFrameBytes + 1, maxFrameBytes * 2, maxFrameBytes * 4, maxFrameBytes * 4 + 1, maxFrameBytes * 4 + 65_536].map((n) => rng.bytes(n)),
    };
    this.table = [];
    for (const [category, weight] of Object.entries(WEIGHTS) as [Category, number][]) for (let i = 0; i < weight; i++) this.table.push(category);
  }

  /** The next frame for a live session. */
  next(): FuzzMessage {
    const category = this.table[this.rng.int(this.table.length)]!;
    return { category, data: this.make(category) };
  }

  /** The first frame of a connection: a HELLO (valid or mutated) or anything else. */
  nextFirst(): FuzzMessage {
    const r = this.rng.next();
    if (r < 0.3) return { category: 'valid', data: this.rng.pick(this.pools.hello) };
    if (r < 0.6) return { category: 'mutated', data: this.mutate(this.rng.pick(this.pools.hello)) };
    return this.next();
  }

  private make(category: Category): Uint8Array | string {
    const { rng, pools } = this;
    switch (category) {
      case 'valid':
        return rng.pick(pools.valid);
      case 'server-kind':
        return rng.pick(pools.server);
      case 'mutated':
        return this.mutate(rng.next() < 0.8 ? rng.pick(pools.valid) : rng.pick(pools.server));
      case 'truncated': {
        const frame = rng.pick(pools.valid);
        return truncate(frame, rng.int(frame.length));
      }
      case 'random':
        return this.randomBytes();
      case 'text':
        return String.fromCharCode(...rng.bytes(rng.int(48)));
      case 'wrong-type':
        return rng.pick(pools.wrongType);
      case 'lying-length':
        return rng.pick(pools.lyingLength);
      case 'nested':
        return rng.pick(pools.nested);
      case 'extension':
        return rng.pick(pools.extension);
      case 'unknown-kind':
        return rng.pick(pools.unknownKind);
      case 'oversized':
        return rng.pick(pools.oversized);
    }
  }

  private mutate(frame: Uint8Array): Uint8Array {
    const { rng } = this;
    switch (rng.int(5)) {
      case 0:
        return flipBits(frame, Array.from({ length: 1 + rng.int(4) }, () => rng.int(frame.length * 8)));
      case 1:
        return overwrite(frame, rng.int(frame.length), rng.bytes(1 + rng.int(4)));
      case 2:
        return insertBytes(frame, rng.int(frame.length + 1), rng.bytes(1 + rng.int(8)));
      case 3:
        return removeBytes(frame, rng.int(frame.length), 1 + rng.int(8));
      default: {
        const other = rng.pick(this.pools.valid);
        return splice(frame, other, rng.int(frame.length + 1), rng.int(other.length + 1));
      }
    }
  }

  private randomBytes(): Uint8Array {
    const { rng } = this;
    const r = rng.next();
    const bytes = rng.bytes(r < 0.9 ? rng.int(65) : 64 + rng.int(4032));
    // Often led by an array header and a small kind, to get past the first checks.
    if (bytes.length >= 2 && r < 0.5) {
      bytes[0] = 0x92 + rng.int(14);
      bytes[1] = rng.int(17);
    }
    return bytes;
  }
}
