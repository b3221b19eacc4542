/** What the dashboard costs over HTTP, measured from outside the browser: its event stream and device look-ups. */
import { performance } from 'node:perf_hooks';

export interface StreamProbe {
  windowS: number;
  /** The first update carries the traffic history; the ones after it only the newest sample. */
  firstUpdateBytes: number;
  updatesPerSecond: number;
  bytesPerSecond: number;
  meanUpdateBytes: number;
  /** Every update after the first: seconds since the stream opened, bytes. */
  updates: { t: number; bytes: number }[];
}

export interface Timings {
  samples: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

/** Reads GET /dashboard/stream for `seconds` and counts its updates and bytes. */
export async function probeStream(baseUrl: string, seconds: number): Promise<StreamProbe> {
  const controller = new AbortController();
  const opened = performance.now();
  const res = await fetch(`${baseUrl}/dashboard/stream`, { signal: controller.signal });
  if (!res.ok || !res.body) throw new Error(`GET /dashboard/stream answered ${res.status}`);
  const timer = setTimeout(() => controller.abort(), seconds * 1000);
  const reader = res.body.getReader();
  const events: { t: number; bytes: number }[] = [];
  let buffer = '';
  const decoder = new TextDecoder();
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      // An update ends with a blank line; chunks may split or join updates.
      for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
        events.push({ t: (performance.now() - opened) / 1000, bytes: Buffer.byteLength(buffer.slice(0, end + 2)) });
        buffer = buffer.slice(end + 2);
      }
    }
  } catch (err) {
    if ((err as Error).name !== 'AbortError') throw err;
  } finally {
    clearTimeout(timer);
  }
  const [first, ...rest] = events;
  const bytes = rest.reduce((sum, e) => sum + e.bytes, 0);
  const span = first ? seconds - first.t : seconds;
  return {
    windowS: seconds,
    firstUpdateBytes: first?.bytes ?? 0,
    updatesPerSecond: span > 0 ? rest.length / span : 0,
    bytesPerSecond: span > 0 ? bytes / span : 0,
    meanUpdateBytes: rest.length > 0 ? bytes / rest.length : 0,
    updates: rest.map((e) => ({ t: Number(e.t.toFixed(3)), bytes: e.bytes })),
  };
}

/** GET /dashboard/devices/<id> for each id in turn: latency, and how many the answering node knew. */
export async function probeDeviceLookups(baseUrl: string, ids: string[]): Promise<Timings & { found: number }> {
  const ms: number[] = [];
  let found = 0;
  for (const id of ids) {
    const started = performance.now();
    const res = await fetch(`${baseUrl}/dashboard/devices/${encodeURIComponent(id)}`);
    await res.arrayBuffer();
    ms.push(performance.now() - started);
    if (res.ok) found++;
  }
  return { ...timings(ms), found };
}

export function timings(ms: number[]): Timings {
  const sorted = [...ms].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
  return { samples: sorted.length, p50Ms: at(0.5), p99Ms: at(0.99), maxMs: sorted.at(-1) ?? NaN };
}
