/**
 * The fuzz campaign: a broker in its own process, a pool of connections throwing a seeded mix
 * of bad and valid frames at it, then the verdict: still alive, still answering, stored
 * messages intact, memory before and after.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FrameKind, encodeFrame, type MsgFrame } from '../../src/protocol/index.js';
import { freePort } from '../../kit/free-port.js';
import { startBrokerProcess, type BrokerProcess } from '../../kit/broker-process.js';
import { CampaignStats } from './campaign-stats.js';
import { ClusterPortFuzzer, type ClusterPortStats } from './cluster-port.js';
import { limitsFor } from '../../kit/fuzz/expected-reply.js';
import { FrameMix, Prng } from './frame-mix.js';
import { FrameBudget, FuzzConnection } from './fuzz-connection.js';
import { ProbeSocket } from '../../kit/fuzz/probe-socket.js';

export interface CampaignOptions {
  frames: number;
  connections: number;
  seed: number;
  maxFrameBytes: number;
  stallMs: number;
  maxSeconds: number;
}

/** CPU seconds (user + system) a process has used. */
export function readCpuSeconds(pid: number): number {
  // Fields after the parenthesized command name; utime and stime are the 12th and 13th of them.
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
}
const CLOCK_TICKS = 100;

export interface MemorySample {
  rssKb: number;
  anonKb: number;
  fileKb: number;
  peakKb: number;
}

export interface CampaignResult {
  startedAt: string;
  durationS: number;
  fuzzingS: number;
  options: CampaignOptions;
  framesPerSecond: number;
  /** CPU seconds used by the broker process and by this (client) process while fuzzing. */
  cpuS: { broker: number; client: number };
  stats: CampaignStats;
  /** What the cluster port was sent alongside, and how it answered. */
  clusterPort: ClusterPortStats;
  /** The broker process exited during the campaign (must be null). */
  crash: { code: number | null; signal: string | null; output: string } | null;
  aliveAtEnd: boolean;
  answeringAtEnd: boolean;
  storedMessages: { stored: number; intact: boolean; detail: string };
  /** Round trips of a bystander's PING every 500 ms during the campaign, in ms. */
  bystanderPingMs: { samples: number; p50: number; p99: number; max: number; unanswered: number };
  memory: { before: MemorySample; after: MemorySample; peakRssKb: number };
  /** Size of the broker's data directory at the end: what the valid frames among the fuzz stored (QoS 1 messages, sessions, cursors). */
  dataDirBytes: number;
  gracefulShutdown: { code: number | null; signal: string | null; ms: number } | null;
  brokerOutputTail: string;
}

const STORED = 32;
const CLUSTER_NODE_ID = 'fuzz-node';
const CLUSTER_SECRET = 'fuzz-campaign-cluster-secret';
const PROGRESS_EVERY_MS = 5_000;

export async function runCampaign(options: CampaignOptions, log: (line: string) => void): Promise<CampaignResult> {
  const startedAt = new Date();
  const dataDir = mkdtempSync(join(tmpdir(), 'relaymesh-fuzz-'));
  const clusterPort = await freePort();
  const broker = await startBrokerProcess(await freePort(), dataDir, [
    '--max-frame-bytes', String(options.maxFrameBytes),
    '--node-id', CLUSTER_NODE_ID, '--cluster-port', String(clusterPort), '--cluster-secret', CLUSTER_SECRET,
  ]);
  const pid = broker.child.pid!;
  let stopping = false;
  let crash: CampaignResult['crash'] = null;
  void broker.exited.then(({ code, signal }) => {
    if (!stopping) crash = { code, signal, output: broker.output().slice(-8000) };
  });
  try {
    log(`broker pid ${pid} at ${broker.url}; seed ${options.seed}`);
    const owner = `stored-owner-${options.seed}`;
    const stored = await storeMessages(broker.url, owner, options.stallMs);
    const before = readMemory(pid);
    let peakRssKb = before.rssKb;

    const stats = new CampaignStats();
    const rng = new Prng(options.seed);
    const mix = new FrameMix(rng, options.seed, options.maxFrameBytes);
    const budget = new FrameBudget(options.frames);
    const fuzzStart = Date.now();
    const brokerCpuStart = readCpuSeconds(pid);
    const clientCpuStart = process.cpuUsage();
    const deadline = fuzzStart + options.maxSeconds * 1000;
    const pool = Array.from(
      { length: options.connections },
      (_, index) => new FuzzConnection({ url: broker.url, index, mix, limits: limitsFor(options.maxFrameBytes), stats, budget, stallMs: options.stallMs, deadline, firstFrameFuzzRate: 0.1, random: () => rng.next() }),
    );
    const bystander = await Bystander.start(broker.url, options.stallMs);
    const progress = setInterval(() => {
      const m = readMemory(pid);
      peakRssKb = Math.max(peakRssKb, m.rssKb);
      const s = (Date.now() - fuzzStart) / 1000;
      log(`${s.toFixed(0)} s: ${stats.framesSent} frames (${(stats.framesSent / s).toFixed(0)}/s), ${stats.errorFrames} ERROR, ${stats.closes} closes, ${stats.stalls} stalls, broker RSS ${(m.rssKb / 1024).toFixed(0)} MiB`);
    }, PROGRESS_EVERY_MS);
    const cluster = new ClusterPortFuzzer({ port: clusterPort, nodeId: CLUSTER_NODE_ID, secret: CLUSTER_SECRET }, new Prng(options.seed + 1), options.stallMs);
    const clusterRun = cluster.run();
    const crashed = broker.exited.then(() => pool.forEach((c) => c.stop()));
    await Promise.race([Promise.all(pool.map((c) => c.run())), crashed]);
    cluster.stop();
    await clusterRun;
    clearInterval(progress);
    const fuzzingS = (Date.now() - fuzzStart) / 1000;
    const clientCpu = process.cpuUsage(clientCpuStart);
    const cpuS = {
      broker: crash ? NaN : Number((readCpuSeconds(pid) - brokerCpuStart).toFixed(1)),
      client: Number(((clientCpu.user + clientCpu.system) / 1e6).toFixed(1)),
    };
    const bystanderPingMs = bystander.stop();
    if (budget.left > 0 && !crash) log(`time limit of ${options.maxSeconds} s reached with ${budget.left} frames unsent`);

    const alive = broker.child.exitCode === null && broker.child.signalCode === null;
    const answering = alive && (await answers(broker.url, options.stallMs));
    const storedMessages = alive ? await checkStored(broker.url, owner, stored, options.stallMs) : { stored: STORED, intact: false, detail: 'broker gone' };
    const after = alive ? readMemory(pid) : before;
    peakRssKb = Math.max(peakRssKb, after.peakKb);
    stopping = true;
    const gracefulShutdown = alive ? await shutdown(broker) : null;
    return {
      startedAt: startedAt.toISOString(),
      durationS: (Date.now() - startedAt.getTime()) / 1000,
      fuzzingS,
      options,
      framesPerSecond: stats.framesSent / fuzzingS,
      cpuS,
      stats,
      clusterPort: cluster.stats,
      crash,
      aliveAtEnd: alive,
      answeringAtEnd: answering,
      storedMessages,
      bystanderPingMs,
      memory: { before, after, peakRssKb },
      dataDirBytes: directoryBytes(dataDir),
      gracefulShutdown,
      brokerOutputTail: broker.output().slice(-4000),
    };
  } finally {
    stopping = true;
    if (broker.child.exitCode === null && broker.child.signalCode === null) broker.child.kill('SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
  }
}

function directoryBytes(dir: string): number {
  let total = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    total += entry.isDirectory() ? directoryBytes(path) : statSync(path).blocks * 512;
  }
  return total;
}

/** QoS 1 SENDs to an offline device, each confirmed by OK before the next. */
export async function storeMessages(url: string, owner: string, timeoutMs: number): Promise<Uint8Array[]> {
  const seeder = await ProbeSocket.connect(url, `${owner}-seeder`, timeoutMs);
  const payloads: Uint8Array[] = [];
  for (let i = 0; i < STORED; i++) {
    const payload = new Uint8Array(randomBytes((i * 397) % 1500));
    seeder.send(encodeFrame({ kind: FrameKind.SEND, seq: 100 + i, target: owner, payload, qos: 1 }));
    if ((await seeder.until((f) => f.kind === FrameKind.OK && f.ref === 100 + i, timeoutMs)) !== 'matched') throw new Error(`stored message ${i} not confirmed`);
    payloads.push(payload);
  }
  seeder.close();
  return payloads;
}

export async function checkStored(url: string, owner: string, stored: Uint8Array[], timeoutMs: number): Promise<CampaignResult['storedMessages']> {
  const socket = await ProbeSocket.connect(url, owner, timeoutMs);
  try {
    const got: MsgFrame[] = [];
    const isMsg = (f: { kind: FrameKind }) => f.kind === FrameKind.MSG;
    const deadline = Date.now() + timeoutMs;
    while (got.length < stored.length && Date.now() < deadline) {
      if ((await socket.until(isMsg, deadline - Date.now())) !== 'matched') break;
      got.push(...(socket.take().filter(isMsg) as MsgFrame[]));
    }
    await new Promise((r) => setTimeout(r, 300));
    got.push(...(socket.take().filter(isMsg) as MsgFrame[]));
    const problems: string[] = [];
    if (got.length !== stored.length) problems.push(`${got.length} of ${stored.length} arrived`);
    got.forEach((m, i) => {
      if (m.stream !== `$inbox/${owner}` || m.offset !== i + 1 || !stored[i] || !Buffer.from(m.payload).equals(stored[i])) {
        problems.push(`#${i + 1}: ${m.stream} offset ${m.offset}, ${m.payload.length} bytes`);
      }
    });
    return { stored: stored.length, intact: problems.length === 0, detail: problems.slice(0, 5).join('; ') || 'all in order, byte for byte' };
  } finally {
    socket.close();
  }
}

async function answers(url: string, timeoutMs: number): Promise<boolean> {
  try {
    const socket = await ProbeSocket.connect(url, 'after-campaign', timeoutMs);
    const reply = await socket.sync(7, timeoutMs);
    socket.close();
    return reply === 'answered';
  } catch {
    return false;
  }
}

/** SIGTERM, then the time the broker takes to shut down cleanly (SIGKILL after 15 s). */
export async function shutdown(broker: Pick<BrokerProcess, 'child' | 'exited'>): Promise<CampaignResult['gracefulShutdown']> {
  const start = Date.now();
  broker.child.kill('SIGTERM');
  const timer = setTimeout(() => broker.child.kill('SIGKILL'), 15_000);
  const { code, signal } = await broker.exited;
  clearTimeout(timer);
  return { code, signal, ms: Date.now() - start };
}

/** VmRSS, RssAnon, RssFile and VmHWM of a process, in kB. */
export function readMemory(pid: number): MemorySample {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { rssKb: field('VmRSS'), anonKb: field('RssAnon'), fileKb: field('RssFile'), peakKb: field('VmHWM') };
}

/** A well-behaved device pinging every 500 ms throughout: how the broker treats everyone else. */
class Bystander {
  private readonly rtts: number[] = [];
  private unanswered = 0;
  private running = true;
  private readonly loop: Promise<void>;

  private constructor(
    private readonly socket: ProbeSocket,
    timeoutMs: number,
  ) {
    this.loop = this.run(timeoutMs);
  }

  static async start(url: string, timeoutMs: number): Promise<Bystander> {
    return new Bystander(await ProbeSocket.connect(url, 'bystander', timeoutMs), timeoutMs);
  }

  private async run(timeoutMs: number): Promise<void> {
    for (let seq = 1; this.running && !this.socket.closed; seq++) {
      const start = performance.now();
      if ((await this.socket.sync(seq, timeoutMs)) === 'answered') this.rtts.push(performance.now() - start);
      else this.unanswered++;
      this.socket.take();
      await new Promise((r) => setTimeout(r, 500));
    }
  }

  stop(): CampaignResult['bystanderPingMs'] {
    this.running = false;
    void this.loop.finally(() => this.socket.close());
    const sorted = [...this.rtts].sort((a, b) => a - b);
    const at = (q: number) => Number((sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN).toFixed(2));
    return { samples: sorted.length, p50: at(0.5), p99: at(0.99), max: at(1), unanswered: this.unanswered + (this.socket.closed ? 1 : 0) };
  }
}
