/**
 * The MQTT fuzz campaign: a broker process with its MQTT listeners, a pool of connections
 * playing the fuzz kit's hostile cases over TCP and WebSocket (MQTT 3.1.1 and 5.0), each
 * reaction checked against the spec's; meanwhile a well-behaved mqtt.js pair exchanges QoS 1
 * messages and /healthz is polled. Then the verdict: no crash, every reaction conformant,
 * /healthz always 200, the well-behaved client lost nothing, stored messages intact.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import mqtt, { type MqttClient } from 'mqtt';
import { startBrokerProcess } from '../../kit/broker-process.js';
import { freePort } from '../../kit/free-port.js';
import { hostileCase, verdict, type HostileCase, type MqttVersion, type Reaction } from '../../kit/fuzz/mqtt-cases.js';
import { play, type MqttEndpoint, type MqttTransport } from '../../kit/fuzz/mqtt-probe.js';
import { checkStored, readMemory, shutdown, storeMessages, type CampaignResult, type MemorySample } from './campaign.js';

export interface MqttCampaignOptions {
  cases: number;
  connections: number;
  seed: number;
  maxPacketBytes: number;
  stallMs: number;
  maxSeconds: number;
}

/** One row of the campaign table: a case on one protocol version, over both transports. */
export interface CaseTally {
  case: string;
  version: MqttVersion;
  expect: string;
  runs: { tcp: number; ws: number };
  conformant: number;
  /** Runs that could not be played (the probe's CONNECT refused, a connect failing). */
  unplayed: number;
  firstProblem?: string;
}

export interface MqttCampaignResult {
  startedAt: string;
  durationS: number;
  fuzzingS: number;
  options: MqttCampaignOptions;
  casesPerSecond: number;
  tallies: CaseTally[];
  crash: CampaignResult['crash'];
  aliveAtEnd: boolean;
  healthz: { polls: number; failures: number; firstFailure?: string };
  /** QoS 1 messages between two well-behaved mqtt.js clients during the campaign. */
  wellBehaved: { sent: number; received: number; lost: number };
  storedMessages: CampaignResult['storedMessages'];
  memory: { before: MemorySample; after: MemorySample };
  brokerOutputTail: string;
}

const SAMPLE_CHUNK = 256;

export async function runMqttCampaign(options: MqttCampaignOptions, log: (line: string) => void): Promise<MqttCampaignResult> {
  const startedAt = new Date();
  const dataDir = mkdtempSync(join(tmpdir(), 'relaymesh-fuzz-mqtt-'));
  const [wsPort, tcpPort] = [await freePort(), await freePort()];
  const broker = await startBrokerProcess(wsPort, dataDir, ['--max-frame-bytes', String(options.maxPacketBytes), '--mqtt-port', String(tcpPort)]);
  const pid = broker.child.pid!;
  const at: MqttEndpoint = { host: '127.0.0.1', tcpPort, wsPort };
  let stopping = false;
  let crash: MqttCampaignResult['crash'] = null;
  void broker.exited.then(({ code, signal }) => {
    if (!stopping) crash = { code, signal, output: broker.output().slice(-8000) };
  });
  try {
    log(`broker pid ${pid}: MQTT over TCP on ${tcpPort}, over WebSocket at ${broker.url}mqtt; seed ${options.seed}`);
    const owner = `stored-owner-${options.seed}`;
    const stored = await storeMessages(broker.url, owner, options.stallMs);
    const before = readMemory(pid);
    const wellBehaved = await WellBehavedPair.start(at, options.stallMs);
    const health = new HealthPoller(wsPort, options.stallMs);

    const tallies = new Map<string, CaseTally>();
    const cases = new CaseSource(options.seed, options.maxPacketBytes);
    const fuzzStart = Date.now();
    const deadline = fuzzStart + options.maxSeconds * 1000;
    let played = 0;
    let next = 0;
    const progress = setInterval(() => log(`${((Date.now() - fuzzStart) / 1000).toFixed(0)} s: ${played} cases, broker RSS ${(readMemory(pid).rssKb / 1024).toFixed(0)} MiB`), 5000);
    const worker = async (w: number): Promise<void> => {
      while (next < options.cases && Date.now() < deadline && !crash) {
        const i = next++;
        const version: MqttVersion = i % 2 === 0 ? 4 : 5;
        const transport: MqttTransport = (i >> 1) % 2 === 0 ? 'tcp' : 'ws';
        const c = cases.next(version);
        const tally = tallyOf(tallies, c);
        tally.runs[transport]++;
        try {
          const problem = verdict(c, await play(c, { transport, at, clientId: `fuzz-${w}-${i}`, maxPacketBytes: options.maxPacketBytes, timeoutMs: options.stallMs }));
          if (problem === undefined) tally.conformant++;
          else tally.firstProblem ??= `${transport}: ${problem}`;
        } catch (err) {
          tally.unplayed++;
          tally.firstProblem ??= `${transport}: ${(err as Error).message}`;
        }
        played++;
      }
    };
    await Promise.all(Array.from({ length: options.connections }, (_, w) => worker(w)));
    clearInterval(progress);
    const fuzzingS = (Date.now() - fuzzStart) / 1000;
    const healthz = await health.stop();
    const exchanged = await wellBehaved.stop(options.stallMs);
    const alive = broker.child.exitCode === null && broker.child.signalCode === null;
    const storedMessages = alive ? await checkStored(broker.url, owner, stored, options.stallMs) : { stored: stored.length, intact: false, detail: 'broker gone' };
    const after = alive ? readMemory(pid) : before;
    stopping = true;
    if (alive) await shutdown(broker);
    return {
      startedAt: startedAt.toISOString(),
      durationS: (Date.now() - startedAt.getTime()) / 1000,
      fuzzingS,
      options,
      casesPerSecond: played / fuzzingS,
      tallies: [...tallies.values()].sort((a, b) => a.case.localeCompare(b.case) || a.version - b.version),
      crash,
      aliveAtEnd: alive,
      healthz,
      wellBehaved: exchanged,
      storedMessages,
      memory: { before, after },
      brokerOutputTail: broker.output().slice(-4000),
    };
  } finally {
    stopping = true;
    if (broker.child.exitCode === null && broker.child.signalCode === null) broker.child.kill('SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
  }
}

function tallyOf(tallies: Map<string, CaseTally>, c: HostileCase): CaseTally {
  const key = `${c.name}\u0000${c.version}`;
  let tally = tallies.get(key);
  if (!tally) tallies.set(key, (tally = { case: c.name, version: c.version, expect: describeReaction(c.expect), runs: { tcp: 0, ws: 0 }, conformant: 0, unplayed: 0 }));
  return tally;
}

export function describeReaction(r: Reaction): string {
  if (r.kind === 'disconnect') return `DISCONNECT 0x${r.reason.toString(16)} (5.0) / close (3.1.1)`;
  return r.kind === 'close' ? 'close, nothing accepted' : 'serve on or close, never stall';
}

/** Hostile cases drawn from the kit's arbitraries with the campaign's seed, a chunk at a time. */
class CaseSource {
  private readonly queued: Record<MqttVersion, HostileCase[]> = { 4: [], 5: [] };
  private chunk = 0;

  constructor(
    private readonly seed: number,
    private readonly maxPacketBytes: number,
  ) {}

  next(version: MqttVersion): HostileCase {
    const queue = this.queued[version];
    if (queue.length === 0) queue.push(...fc.sample(hostileCase(version, this.maxPacketBytes), { seed: this.seed + this.chunk++, numRuns: SAMPLE_CHUNK }));
    return queue.shift()!;
  }
}

/** A subscriber and a publisher (mqtt.js over TCP, QoS 1) exchanging a message every 100 ms. */
class WellBehavedPair {
  private sent = 0;
  private readonly received = new Set<number>();
  private readonly timer: NodeJS.Timeout;

  private constructor(
    private readonly subscriber: MqttClient,
    private readonly publisher: MqttClient,
  ) {
    subscriber.on('message', (_topic, payload) => this.received.add(Number(payload.toString())));
    this.timer = setInterval(() => {
      if (publisher.connected) publisher.publish('watch/fuzz', String(this.sent++), { qos: 1 });
    }, 100);
  }

  static async start(at: MqttEndpoint, timeoutMs: number): Promise<WellBehavedPair> {
    const url = `mqtt://${at.host}:${at.tcpPort}`;
    const options = { reconnectPeriod: 0, connectTimeout: timeoutMs, keepalive: 30 };
    const subscriber = await mqtt.connectAsync(url, { ...options, clientId: 'well-behaved-subscriber' });
    await subscriber.subscribeAsync('watch/#', { qos: 1 });
    const publisher = await mqtt.connectAsync(url, { ...options, clientId: 'well-behaved-publisher' });
    return new WellBehavedPair(subscriber, publisher);
  }

  /** Stops publishing, waits (bounded) for what is in flight, closes both. */
  async stop(timeoutMs: number): Promise<MqttCampaignResult['wellBehaved']> {
    clearInterval(this.timer);
    const deadline = Date.now() + timeoutMs;
    while (this.received.size < this.sent && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    this.subscriber.end(true);
    this.publisher.end(true);
    return { sent: this.sent, received: this.received.size, lost: this.sent - this.received.size };
  }
}

/** GET /healthz every 500 ms: every answer must be a 200. */
class HealthPoller {
  private polls = 0;
  private failures = 0;
  private firstFailure: string | undefined;
  private running = true;
  private readonly loop: Promise<void>;

  constructor(port: number, timeoutMs: number) {
    this.loop = (async () => {
      while (this.running) {
        this.polls++;
        try {
          const res = await fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(timeoutMs) });
          if (res.status !== 200) this.fail(`status ${res.status}`);
          await res.arrayBuffer();
        } catch (err) {
          this.fail((err as Error).message);
        }
        await new Promise((r) => setTimeout(r, 500));
      }
    })();
  }

  private fail(why: string): void {
    this.failures++;
    this.firstFailure ??= why;
  }

  async stop(): Promise<MqttCampaignResult['healthz']> {
    this.running = false;
    await this.loop;
    return { polls: this.polls, failures: this.failures, ...(this.firstFailure ? { firstFailure: this.firstFailure } : {}) };
  }
}
