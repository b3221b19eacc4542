/**
 * relaymesh's own view of a phase, from its Prometheus endpoint (GET /metrics): how long
 * messages spent inside the broker's fan-out trees, how many frames each socket write carried,
 * and QoS 0 drops. Read before and after a phase; the difference is the phase's.
 */

export interface MetricsScrape {
  /** relaymesh_fanout_seconds buckets: upper bound (s) → cumulative count. */
  fanoutBuckets: Map<number, number>;
  framesOut: number;
  socketWrites: number;
  dropped: number;
}

export interface BrokerInternals {
  /** Publish entering a fan-out tree to a leaf writing it: the bucket bound (ms) under which 50% / 99% fell. */
  fanoutP50Ms: number;
  fanoutP99Ms: number;
  fanoutCount: number;
  /** Frames per socket write: above 1, the broker batched a tick's frames per socket. */
  framesPerWrite: number;
  /** QoS 0 deliveries the broker dropped for backed-up sockets. */
  dropped: number;
}

export async function scrapeMetrics(url: string): Promise<MetricsScrape | undefined> {
  let text: string;
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(5_000) });
    if (!res.ok) return undefined;
    text = await res.text();
  } catch {
    return undefined;
  }
  const fanoutBuckets = new Map<number, number>();
  const scalars = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line.startsWith('#') || line.length === 0) continue;
    const bucket = /^relaymesh_fanout_seconds_bucket\{le="([^"]+)"\} (\S+)/.exec(line);
    if (bucket) {
      fanoutBuckets.set(bucket[1] === '+Inf' ? Infinity : Number(bucket[1]), Number(bucket[2]));
      continue;
    }
    const scalar = /^(relaymesh_[a-z_]+) (\S+)$/.exec(line);
    if (scalar) scalars.set(scalar[1]!, Number(scalar[2]));
  }
  return {
    fanoutBuckets,
    framesOut: scalars.get('relaymesh_frames_out_total') ?? 0,
    socketWrites: scalars.get('relaymesh_socket_writes_total') ?? 0,
    dropped: scalars.get('relaymesh_dropped_total') ?? 0,
  };
}

export function internalsBetween(a: MetricsScrape | undefined, b: MetricsScrape | undefined): BrokerInternals | undefined {
  if (!a || !b || b.fanoutBuckets.size === 0) return undefined;
  const bounds = [...b.fanoutBuckets.keys()].sort((x, y) => x - y);
  const counts = bounds.map((le) => (b.fanoutBuckets.get(le) ?? 0) - (a.fanoutBuckets.get(le) ?? 0));
  const total = counts[counts.length - 1] ?? 0;
  const quantileMs = (q: number): number => {
    if (total <= 0) return NaN;
    const i = counts.findIndex((c) => c >= q * total);
    return (bounds[i] ?? Infinity) * 1000;
  };
  const writes = b.socketWrites - a.socketWrites;
  return {
    fanoutP50Ms: quantileMs(0.5),
    fanoutP99Ms: quantileMs(0.99),
    fanoutCount: total,
    framesPerWrite: writes > 0 ? (b.framesOut - a.framesOut) / writes : NaN,
    dropped: b.dropped - a.dropped,
  };
}
