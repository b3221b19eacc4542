/**
 * `node --import tsx bench/store-append.ts [appends] [--html]`: append throughput of the LMDB store
 * (200 B payloads, Promise.all per batch), against raw lmdb puts measured in the same run,
 * plus single-append latency, replay reads and pruning. Prints a table and writes
 * bench/results/store-append.json (and with `--html` its report, store-append.html).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { open } from 'lmdb';
import { openLmdbStore, type MessageStore } from '../src/store/index.js';
import { takeHtmlFlag, writeHtmlReport } from './harness/html-report.js';

const { html, rest: ARGS } = takeHtmlFlag(process.argv.slice(2));
const APPENDS = Number(ARGS[0] ?? 100_000);
const PAYLOAD = new Uint8Array(200).fill(7);
const RUNS = 3;
const LATENCY_SAMPLES = 1000;

interface ThroughputCase {
  name: string;
  durability: 'flush' | 'commit' | 'raw lmdb put';
  batch: number;
  streams: number;
}

const CASES: ThroughputCase[] = [
  { name: 'raw lmdb put (baseline)', durability: 'raw lmdb put', batch: 1000, streams: 1 },
  { name: 'append, commit', durability: 'commit', batch: 1000, streams: 1 },
  { name: 'append, flush', durability: 'flush', batch: 1000, streams: 1 },
  { name: 'append, flush, batch 100', durability: 'flush', batch: 100, streams: 1 },
  { name: 'append, flush, batch 10k', durability: 'flush', batch: 10_000, streams: 1 },
  { name: 'raw lmdb put, 1k streams', durability: 'raw lmdb put', batch: 1000, streams: 1000 },
  { name: 'append, flush, 1k streams', durability: 'flush', batch: 1000, streams: 1000 },
];

const scratch = mkdtempSync(join(tmpdir(), 'relaymesh-bench-store-'));
let dirs = 0;
const freshDir = (): string => join(scratch, String(dirs++));

/** Appends per second and process CPU µs per append (all threads) for one run, in a fresh directory. */
async function runCase(c: ThroughputCase): Promise<{ perSec: number; cpuUs: number }> {
  const streams = Array.from({ length: c.streams }, (_, i) => `bench/${i}`);
  if (c.durability === 'raw lmdb put') {
    const root = open(join(freshDir(), 'raw.mdb'), {});
    const db = root.openDB({ name: 'entries' });
    const started = performance.now();
    const cpu = process.cpuUsage();
    for (let done = 0; done < APPENDS; done += c.batch) {
      const writes: Promise<boolean>[] = [];
      for (let i = done; i < Math.min(done + c.batch, APPENDS); i++) {
        writes.push(db.put([streams[i % c.streams]!, i + 1], [Date.now(), 'trace', PAYLOAD]));
      }
      await Promise.all(writes);
    }
    const result = measured(started, cpu);
    await root.close();
    return result;
  }
  const store = await openLmdbStore(freshDir(), { durability: c.durability });
  const started = performance.now();
  const cpu = process.cpuUsage();
  await appendAll(store, streams, c.batch);
  const result = measured(started, cpu);
  await store.close();
  return result;
}

function measured(started: number, cpu: NodeJS.CpuUsage): { perSec: number; cpuUs: number } {
  const used = process.cpuUsage(cpu);
  return { perSec: APPENDS / ((performance.now() - started) / 1000), cpuUs: (used.user + used.system) / APPENDS };
}

async function appendAll(store: MessageStore, streams: string[], batch: number): Promise<void> {
  for (let done = 0; done < APPENDS; done += batch) {
    const writes: Promise<unknown>[] = [];
    for (let i = done; i < Math.min(done + batch, APPENDS); i++) {
      writes.push(store.append(streams[i % streams.length]!, { payload: PAYLOAD, traceId: 'trace' }));
    }
    await Promise.all(writes);
  }
}

async function latency(durability: 'flush' | 'commit'): Promise<{ durability: string; p50Ms: number; p99Ms: number }> {
  const store = await openLmdbStore(freshDir(), { durability });
  const samples: number[] = [];
  for (let i = 0; i < LATENCY_SAMPLES; i++) {
    const started = performance.now();
    await store.append('latency', { payload: PAYLOAD, traceId: 'trace' });
    samples.push(performance.now() - started);
  }
  await store.close();
  samples.sort((a, b) => a - b);
  const at = (q: number): number => round(samples[Math.min(samples.length - 1, Math.floor(q * samples.length))]!, 3);
  return { durability, p50Ms: at(0.5), p99Ms: at(0.99) };
}

/** Replays the whole stream in pages of 1,000, then prunes it in one call. */
async function readAndPrune(): Promise<{ readPerSec: number; prunePerSec: number }> {
  const store = await openLmdbStore(freshDir());
  await appendAll(store, ['replay'], 1000);
  let started = performance.now();
  let read = 0;
  for (let after = 0; read < APPENDS; ) {
    const page = store.read('replay', after, 1000);
    if (page.length === 0) break;
    read += page.length;
    after = page[page.length - 1]!.offset;
  }
  const readPerSec = read / ((performance.now() - started) / 1000);
  started = performance.now();
  const pruned = await store.pruneThrough('replay', APPENDS);
  const prunePerSec = pruned / ((performance.now() - started) / 1000);
  await store.close();
  return { readPerSec, prunePerSec };
}

const round = (n: number, digits = 0): number => Number(n.toFixed(digits));
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

try {
  const startedAt = new Date().toISOString();
  const loadAtStart = loadavg()[0]!;
  // Warm up the JIT and lmdb once, then interleave the cases so that load from elsewhere
  // on the machine spreads over all of them rather than hitting one.
  await runCase(CASES[0]!);
  await runCase(CASES[2]!);
  const runs = CASES.map(() => ({ perSec: [] as number[], cpuUs: [] as number[] }));
  for (let r = 0; r < RUNS; r++) {
    for (const [i, c] of CASES.entries()) {
      const run = await runCase(c);
      runs[i]!.perSec.push(round(run.perSec));
      runs[i]!.cpuUs.push(round(run.cpuUs, 2));
    }
  }
  const throughput = CASES.map((c, i) => ({
    ...c,
    appends: APPENDS,
    runsPerSec: runs[i]!.perSec,
    medianPerSec: median(runs[i]!.perSec),
    medianCpuUsPerAppend: median(runs[i]!.cpuUs),
  }));
  const latencies = [await latency('commit'), await latency('flush')];
  const replay = await readAndPrune();
  const result = {
    startedAt,
    machine: { node: process.version, cpus: cpus().length, cpuModel: cpus()[0]?.model ?? '', platform: process.platform },
    /** 1-minute load average: other work on the machine skews every figure. */
    loadAverage: { start: round(loadAtStart, 2), end: round(loadavg()[0]!, 2) },
    config: { appends: APPENDS, payloadBytes: PAYLOAD.length, runs: RUNS, latencySamples: LATENCY_SAMPLES },
    throughput,
    latency: latencies,
    replay: { readEntriesPerSec: round(replay.readPerSec), pruneEntriesPerSec: round(replay.prunePerSec) },
  };

  const base = (row: ThroughputCase): number => throughput.find((b) => b.durability === 'raw lmdb put' && b.streams === row.streams)!.medianPerSec;
  const lines = [
    `store append: ${APPENDS.toLocaleString('en-US')} × ${PAYLOAD.length} B, median of ${RUNS} interleaved runs (load ${result.loadAverage.start} → ${result.loadAverage.end} on ${result.machine.cpus} cpus)`,
  ];
  for (const row of throughput) {
    const runs = row.runsPerSec.map((n) => Math.round(n / 1000) + 'k').join(' / ');
    lines.push(
      `${row.name.padEnd(26)} ${row.medianPerSec.toLocaleString('en-US').padStart(9)} appends/s  ×${(row.medianPerSec / base(row)).toFixed(2)} of raw` +
        `  ${row.medianCpuUsPerAppend.toFixed(1).padStart(5)} CPU µs/append  (${runs})`,
    );
  }
  for (const l of latencies) lines.push(`single awaited append, ${l.durability.padEnd(6)}  p50 ${l.p50Ms} ms  p99 ${l.p99Ms} ms`);
  lines.push(`replay read ${result.replay.readEntriesPerSec.toLocaleString('en-US')} entries/s, prune ${result.replay.pruneEntriesPerSec.toLocaleString('en-US')} entries/s`);
  process.stdout.write(lines.join('\n') + '\n');

  const outDir = join(import.meta.dirname, 'results');
  mkdirSync(outDir, { recursive: true });
  writeFileSync(join(outDir, 'store-append.json'), JSON.stringify(result, null, 2) + '\n');
  process.stdout.write(`wrote ${join(outDir, 'store-append.json')}\n`);
  if (html) process.stdout.write(`wrote ${writeHtmlReport(join(outDir, 'store-append.json'))}\n`);
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
