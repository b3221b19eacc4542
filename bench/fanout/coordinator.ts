import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { forkChild, type ChildLink } from './ipc.js';
import { LatencyHistogram } from './histogram.js';
import { topFrames, type CpuProfile } from './profile-top.js';
import { MQTT_PEERS, type ConnectResult, type MqttPeer, type PatternName, type PublisherKind, type PublishPlan, type PublishResult, type ServerSnapshot, type SubscriberCommands, type TopologyKind } from './messages.js';
import { peerUnavailable } from '../fleet/targets.js';
import { startOwnServer, startPeerServer, type MeasuredServer } from './measured-server.js';
import { burstMessagesFor, type BenchOptions } from './options.js';
import type { Cell, Measurement } from './results.js';
import { planFor, treeSize, type TopologySpec } from './topologies.js';

export type Subscribers = ChildLink<SubscriberCommands>[];

/** Deliveries stop counting as in flight after this long without progress. */
const STALL_MS = 2000;
const POLL_MS = 100;
/** Beyond this many sockets per source address the 28k ephemeral ports (32768–60999) run short. */
const SOCKETS_PER_SOURCE_ADDRESS = 25_000;

const subscriberModule = new URL('./subscriber.ts', import.meta.url);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const sum = (xs: number[]): number => xs.reduce((a, b) => a + b, 0);

/** `execArgv`: Node flags of the subscriber processes (e.g. --cpu-prof, see subscriberExecArgv). */
export function startSubscribers(count: number, execArgv: string[] = []): Subscribers {
  return Array.from({ length: count }, (_, i) => forkChild<SubscriberCommands>(`subscriber-${i}`, subscriberModule, execArgv));
}

/**
 * With --cpu-prof, the subscriber processes are profiled too, over the whole run, into
 * profiles/fanout-subscribers/ (the load generator's own cost, next to each server's).
 */
export function subscriberExecArgv(options: BenchOptions): string[] {
  if (!options.cpuProf) return [];
  const dir = resolve(options.outDir, 'profiles', 'fanout-subscribers');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  return ['--cpu-prof', '--cpu-prof-dir', dir];
}

/**
 * A client process that holds only the publishing device: its OKs are read as they arrive,
 * not behind a subscriber share's backlog of deliveries (what PUB → OK latency needs).
 */
export function startPublisher(): ChildLink<SubscriberCommands> {
  return forkChild<SubscriberCommands>('publisher', subscriberModule);
}

/** Progress lines on stdout, stamped with seconds since the run began. */
export class ProgressLog {
  private readonly t0 = Date.now();
  line(text: string): void {
    process.stdout.write(`[${String(Math.round((Date.now() - this.t0) / 1000)).padStart(4)}s] ${text}\n`);
  }
}

/** Shares of `total` for `parts` workers, differing by at most one. */
function shares(total: number, parts: number): number[] {
  return Array.from({ length: parts }, (_, i) => Math.floor(total / parts) + (i < total % parts ? 1 : 0));
}

/** Source addresses for one worker: none (kernel's choice) unless the fleet would exhaust one address's ephemeral ports. */
function sourceAddresses(fleetSize: number, worker: number, share: number): string[] {
  if (fleetSize <= SOCKETS_PER_SOURCE_ADDRESS) return [];
  const n = Math.ceil(share / SOCKETS_PER_SOURCE_ADDRESS) + 1;
  return Array.from({ length: n }, (_, k) => `127.0.${worker + 1}.${k + 2}`);
}

const isMqttPeer = (kind: TopologyKind): kind is MqttPeer => (MQTT_PEERS as readonly string[]).includes(kind);

export class CellRunner {
  private nextRunId = 1;

  constructor(
    private readonly options: BenchOptions,
    private readonly subscribers: Subscribers,
    private readonly log: ProgressLog,
    /** Where the publishing device runs: by default in the first subscriber process. */
    private readonly publisher: ChildLink<SubscriberCommands> = subscribers[0]!,
  ) {}

  /** Starts `spec` in a fresh server process, connects the fleet, runs every pattern, tears down. */
  async run(spec: TopologySpec, fleetSize: number): Promise<Cell> {
    const plan = planFor(spec, fleetSize);
    const label = `${String(fleetSize).padStart(6)} ${spec.name.padEnd(14)}`;
    const cell: Cell = {
      topology: spec.name,
      url: '',
      kind: spec.kind,
      fleetSize,
      ...(plan.fanout ? { fanout: { ...plan.fanout, ...treeSize(plan.fanout, fleetSize) } } : {}),
      subscribed: 0,
      connectFailed: 0,
      connectMs: 0,
      serverRssIdleBytes: 0,
      serverRssLoadedBytes: 0,
      rssPerConnectionBytes: 0,
      serverOpenFds: 0,
      serverFdLimit: 0,
      measurements: [],
    };
    const unavailable = isMqttPeer(spec.kind) ? await peerUnavailable(spec.kind) : undefined;
    if (unavailable) {
      cell.skipped = unavailable;
      this.log.line(`${label} skipped: ${unavailable}`);
      return cell;
    }
    let server: MeasuredServer | undefined;
    try {
      server = isMqttPeer(spec.kind)
        ? await startPeerServer(spec.kind, this.options.mqttTransport, this.options.timeoutS * 10 + 120, this.serverExecArgv(spec.name, fleetSize))
        : await startOwnServer(`server[${spec.name}@${fleetSize}]`, plan, this.serverExecArgv(spec.name, fleetSize));
      const idle = await server.snapshot(true);
      cell.url = server.url;
      await this.connectFleet(cell, server);
      const loaded = await server.snapshot(true);
      cell.serverRssIdleBytes = idle.rssBytes;
      cell.serverRssLoadedBytes = loaded.rssBytes;
      cell.rssPerConnectionBytes = cell.subscribed > 0 ? (loaded.rssBytes - idle.rssBytes) / cell.subscribed : 0;
      cell.serverOpenFds = loaded.openFds;
      cell.serverFdLimit = loaded.fdLimit;
      const shape = cell.fanout ? ` [b${cell.fanout.branching}/leaf ${cell.fanout.leafSize >= 1e9 ? '∞' : cell.fanout.leafSize}: ${cell.fanout.leaves} leaves, height ${cell.fanout.height}]` : '';
      this.log.line(
        `${label} connected ${cell.subscribed}/${fleetSize} in ${(cell.connectMs / 1000).toFixed(1)} s${cell.connectFailed ? ` (${cell.connectFailed} failed: ${cell.firstConnectError})` : ''}, ` +
          `server ${loaded.openFds}/${loaded.fdLimit} fds, RSS +${(cell.rssPerConnectionBytes / 1024).toFixed(2)} KB/conn${shape}`,
      );
      if (cell.subscribed === 0) throw new Error(`no subscriber connected (${cell.firstConnectError ?? 'unknown'})`);
      for (const pattern of this.options.patterns) {
        const m = await this.measure(server, cell, pattern);
        cell.measurements.push(m);
        this.log.line(`${label} ${describe(m)}`);
      }
    } catch (err) {
      cell.error = (err as Error).message;
      this.log.line(`${label} FAILED: ${cell.error}`);
    } finally {
      await server?.stop();
      if (this.options.cpuProf) this.collectProfile(spec.name, fleetSize, label);
      // The server's exit closed its sockets; wait for the clients to see it.
      const clients = this.subscribers.includes(this.publisher) ? this.subscribers : [...this.subscribers, this.publisher];
      await Promise.all(clients.map((s) => s.request('disconnect', { timeoutMs: 10_000 }, 20_000).catch(() => undefined)));
    }
    return cell;
  }

  private profileDir(topology: string, fleetSize: number): string {
    return resolve(this.options.outDir, 'profiles', `fanout-${topology}${this.options.qos === 1 ? '-qos1' : ''}-${fleetSize}`);
  }

  private serverExecArgv(topology: string, fleetSize: number): string[] {
    const argv = ['--expose-gc'];
    if (this.options.cpuProf) {
      // A directory per server: V8 writes one profile per thread (tsx's loader runs in a worker).
      const dir = this.profileDir(topology, fleetSize);
      rmSync(dir, { recursive: true, force: true });
      mkdirSync(dir, { recursive: true });
      argv.push('--cpu-prof', '--cpu-prof-dir', dir);
    }
    return argv;
  }

  /** Keeps the main thread's profile as profiles/fanout-<topology>-<size>.cpuprofile and prints its top frames. */
  private collectProfile(topology: string, fleetSize: number, label: string): void {
    const dir = this.profileDir(topology, fleetSize);
    const files = existsSync(dir) ? readdirSync(dir) : [];
    const main = files.find((f) => /^CPU\.\d+\.\d+\.\d+\.0\.\d+\.cpuprofile$/.test(f));
    if (!main) return this.log.line(`${label} no main-thread CPU profile in ${dir}`);
    const target = `${dir}.cpuprofile`;
    renameSync(join(dir, main), target);
    rmSync(dir, { recursive: true, force: true });
    const frames = topFrames(JSON.parse(readFileSync(target, 'utf8')) as CpuProfile, 8, true);
    this.log.line(`${label} top frames (self time, idle excluded) in ${target}:`);
    for (const f of frames) this.log.line(`${label}   ${(f.share * 100).toFixed(1).padStart(5)}%  ${f.frame}`);
  }

  private async connectFleet(cell: Cell, server: MeasuredServer): Promise<void> {
    const parts = shares(cell.fleetSize, this.subscribers.length);
    let firstId = 0;
    const results = await Promise.all(
      this.subscribers.map((s, i) => {
        const count = parts[i]!;
        const plan = { url: server.url, protocol: server.protocol, qos: this.options.qos, mqttClient: this.options.mqttClient, count, firstId, concurrency: 128, localAddresses: sourceAddresses(cell.fleetSize, i, count), timeoutMs: 15_000 };
        firstId += count;
        return count === 0 ? Promise.resolve<ConnectResult>({ subscribed: 0, failed: 0, ms: 0 }) : s.request('connect', plan, 120_000);
      }),
    );
    cell.subscribed = sum(results.map((r) => r.subscribed));
    cell.connectFailed = sum(results.map((r) => r.failed));
    cell.connectMs = Math.max(...results.map((r) => r.ms));
    const firstError = results.find((r) => r.firstError)?.firstError;
    if (firstError) cell.firstConnectError = firstError;
  }

  private async measure(server: MeasuredServer, cell: Cell, pattern: PatternName): Promise<Measurement> {
    const o = this.options;
    const runId = this.nextRunId++;
    const messages = pattern === 'burst' ? burstMessagesFor(o, cell.fleetSize) : o.rateHz * o.pacedSeconds;
    const deadlineMs = o.timeoutS * 1000;
    await Promise.all(this.subscribers.map((s) => s.request('arm', { runId }, 5_000)));
    const startedAt = Date.now();
    const plan = { pattern, runId, messages, burstSize: o.burstSize, rateHz: o.rateHz, payloadBytes: o.payloadBytes, deadlineMs };
    const published = await this.publish(server, plan);
    if (o.qos === 1 && !published.confirmations) throw new Error('QoS 1 needs a device publisher (--publisher device)');
    const expected = published.published * cell.subscribed;
    let received = 0;
    let lastChangeAt = Date.now();
    for (let polls = 0; polls < deadlineMs / POLL_MS + 1; polls++) {
      // Generous: a subscriber process busy with a backlog (or a loaded machine) answers late, not never.
      const progress = await Promise.all(this.subscribers.map((s) => s.request('progress', {}, 30_000)));
      const now = sum(progress.map((p) => p.received));
      if (now >= expected) break;
      if (now !== received) {
        received = now;
        lastChangeAt = Date.now();
      } else if (Date.now() - lastChangeAt > STALL_MS) break;
      if (Date.now() - startedAt > deadlineMs) break;
      await sleep(POLL_MS);
    }
    const snapshot = await server.snapshot(false);
    const reports = await Promise.all(this.subscribers.map((s) => s.request('report', {}, 10_000)));
    // Brokers reachable only over the wire are always device-published.
    const publisher = this.options.publisher === 'server' && !server.publishInProcess ? 'device' : this.options.publisher;
    return summarize(cell, pattern, publisher, messages, published, expected, snapshot, reports);
  }

  /** Server-published: the server process publishes. Device-published: the first subscriber process holds a publishing device. */
  private async publish(server: MeasuredServer, plan: PublishPlan): Promise<PublishResult> {
    const timeoutMs = plan.deadlineMs + 10_000;
    if (this.options.publisher === 'server' && server.publishInProcess) return server.publishInProcess(plan, timeoutMs);
    await server.mark();
    return this.publisher.request('publish', { ...plan, url: server.url, protocol: server.protocol, qos: this.options.qos, deviceId: 'bench-publisher' }, timeoutMs);
  }
}

function summarize(
  cell: Cell,
  pattern: PatternName,
  publisher: PublisherKind,
  messages: number,
  published: PublishResult,
  expected: number,
  snapshot: ServerSnapshot,
  reports: SubscriberCommands['report']['reply'][],
): Measurement {
  const received = sum(reports.map((r) => r.received));
  const latency = new LatencyHistogram();
  for (const r of reports) latency.merge(r.latency);
  const lastUs = Math.max(...reports.map((r) => r.lastUs));
  const durationUs = received > 0 ? Math.max(1, lastUs - published.firstUs) : 0;
  const serverCpuUs = snapshot.cpuUserUs + snapshot.cpuSystemUs;
  const clientCpuUs = sum(reports.map((r) => r.cpuUserUs + r.cpuSystemUs));
  const reads = sum(reports.map((r) => r.reads));
  const confirmations = published.confirmations;
  const confirmLatency = new LatencyHistogram();
  if (confirmations) confirmLatency.merge(confirmations.latency);
  return {
    topology: cell.topology,
    kind: cell.kind,
    fleetSize: cell.fleetSize,
    pattern,
    publisher,
    messages,
    published: published.published,
    subscribers: cell.subscribed,
    expected,
    received,
    dropped: expected - received,
    complete: received >= expected,
    durationMs: durationUs / 1000,
    deliveriesPerSec: durationUs > 0 ? received / (durationUs / 1e6) : 0,
    latencyUs: percentilesOf(latency),
    serverCpuUsPerDelivery: received > 0 ? serverCpuUs / received : NaN,
    serverCoreShare: durationUs > 0 ? serverCpuUs / durationUs : 0,
    serverCpuSystemShare: serverCpuUs > 0 ? snapshot.cpuSystemUs / serverCpuUs : 0,
    clientCpuUsPerDelivery: received > 0 ? clientCpuUs / received : NaN,
    framesPerRead: reads > 0 ? received / reads : NaN,
    framesPerWrite: snapshot.socketWrites > 0 ? snapshot.framesOut / snapshot.socketWrites : NaN,
    staleDeliveries: sum(reports.map((r) => r.stale)),
    duplicates: sum(reports.map((r) => r.duplicates)),
    closedSockets: sum(reports.map((r) => r.closed)),
    ...(confirmations
      ? {
          durable: {
            confirmed: confirmations.confirmed,
            allConfirmedMs: confirmations.confirmed > 0 ? (confirmations.lastUs - published.firstUs) / 1000 : NaN,
            confirmLatencyUs: percentilesOf(confirmLatency),
            redelivered: sum(reports.map((r) => r.redelivered)),
            storeGrowthBytesPerMessage: published.published > 0 ? snapshot.storeGrowthBytes / published.published : NaN,
            storageWrittenBytesPerMessage: published.published > 0 ? snapshot.storageWrittenBytes / published.published : NaN,
          },
        }
      : {}),
  };
}

function percentilesOf(h: LatencyHistogram): Measurement['latencyUs'] {
  return { p50: h.percentile(50), p95: h.percentile(95), p99: h.percentile(99), max: h.max, mean: h.mean };
}

export function formatCount(n: number): string {
  if (!Number.isFinite(n)) return '-';
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)}M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(n >= 1e5 ? 0 : 1)}k`;
  return n.toFixed(0);
}

export function formatUs(us: number): string {
  if (!Number.isFinite(us)) return '-';
  if (us >= 1e6) return `${(us / 1e6).toFixed(2)} s`;
  if (us >= 1e3) return `${(us / 1e3).toFixed(us >= 1e5 ? 0 : 1)} ms`;
  return `${us.toFixed(0)} µs`;
}

function describe(m: Measurement): string {
  return (
    `${m.pattern.padEnd(5)} ${formatCount(m.received)}/${formatCount(m.expected)} in ${(m.durationMs / 1000).toFixed(2)} s: ` +
    `${formatCount(m.deliveriesPerSec)}/s, p50 ${formatUs(m.latencyUs.p50)}, p99 ${formatUs(m.latencyUs.p99)}, ` +
    `server ${m.serverCpuUsPerDelivery.toFixed(2)} µs/delivery (${Math.round(m.serverCoreShare * 100)}% core, ${Math.round(m.serverCpuSystemShare * 100)}% kernel), ` +
    `${m.framesPerWrite.toFixed(1)} frames/write, ${m.framesPerRead.toFixed(1)} frames/read${m.dropped > 0 ? `, ${formatCount(m.dropped)} dropped` : ''}` +
    `${m.duplicates > 0 ? `, ${formatCount(m.duplicates)} duplicates` : ''}`
  );
}
