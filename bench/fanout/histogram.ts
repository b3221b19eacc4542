/**
 * A log-linear latency histogram in microseconds: exact below 64 µs, then 64 buckets per
 * power of two (under 1.6% error). Fixed size, cheap to record into, mergeable across
 * processes as sparse [bucket, count] pairs.
 */
const SUB_BITS = 6;
const SUB = 1 << SUB_BITS;
const OCTAVES = 32 - SUB_BITS;
const MAX_VALUE = 2 ** 31 - 1;

export type SparseCounts = [bucket: number, count: number][];

export class LatencyHistogram {
  private readonly counts = new Float64Array(SUB * (OCTAVES + 1));
  count = 0;
  max = 0;
  private sum = 0;

  record(us: number): void {
    const v = us <= 0 ? 0 : us >= MAX_VALUE ? MAX_VALUE : Math.floor(us);
    this.counts[bucketOf(v)]!++;
    this.count++;
    this.sum += v;
    if (v > this.max) this.max = v;
  }

  /** The value below which `p` percent of recorded values fall (bucket midpoint). */
  percentile(p: number): number {
    if (this.count === 0) return NaN;
    const target = Math.max(1, Math.ceil((p / 100) * this.count));
    let seen = 0;
    for (let i = 0; i < this.counts.length; i++) {
      seen += this.counts[i]!;
      if (seen >= target) return Math.min(this.max, midpointOf(i));
    }
    return this.max;
  }

  get mean(): number {
    return this.count === 0 ? NaN : this.sum / this.count;
  }

  toSparse(): { counts: SparseCounts; max: number; sum: number } {
    const counts: SparseCounts = [];
    this.counts.forEach((c, i) => {
      if (c > 0) counts.push([i, c]);
    });
    return { counts, max: this.max, sum: this.sum };
  }

  merge(other: { counts: SparseCounts; max: number; sum: number }): void {
    for (const [bucket, c] of other.counts) {
      this.counts[bucket]! += c;
      this.count += c;
    }
    this.sum += other.sum;
    if (other.max > this.max) this.max = other.max;
  }
}

function bucketOf(v: number): number {
  if (v < SUB) return v;
  const exp = 31 - Math.clz32(v);
  const shift = exp - SUB_BITS;
  return (shift + 1) * SUB + ((v >>> shift) - SUB);
}

function midpointOf(bucket: number): number {
  const octave = Math.floor(bucket / SUB);
  if (octave === 0) return bucket;
  const width = 2 ** (octave - 1);
  const low = (bucket - octave * SUB + SUB) * width;
  return low + (width - 1) / 2;
}
