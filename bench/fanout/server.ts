/**
 * The server process of the fan-out bench: hosts one topology (a relaymesh broker or a bare
 * uWS baseline) so that its CPU time and memory are its own, and publishes on command.
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { createBroker, type Broker } from '../../src/index.js';
import { startBareUws } from './bare-uws.js';
import { nowUs } from './clock.js';
import { serveCommands } from './ipc.js';
import { BENCH_TOPIC, type ServerCommands, type TopologyPlan } from './messages.js';
import { runPublisher, type PublishSink } from './publisher.js';

/** Bytes a socket may have buffered before the broker closes it (and bare uWS skips it). */
const MAX_BACKPRESSURE_BYTES = 4 * 1024 * 1024;

/** Frames sent and socket writes since the server started. */
interface WriteCounters {
  framesOut: number;
  socketWrites: number;
}

interface Hosted {
  port: number;
  subscribers(): number;
  sink: PublishSink;
  writeCounters(): Promise<WriteCounters>;
}

let hosted: Hosted | undefined;
let storeDir: string | undefined;
let mark = { cpu: process.cpuUsage(), wallUs: nowUs(), writes: { framesOut: 0, socketWrites: 0 } as WriteCounters, storeFile: NaN, storageWritten: storageWrittenBytes() };

/** Disk space the store's files take (allocated blocks: LMDB files may be sparse). */
function storeFileBytes(): number {
  if (!storeDir) return NaN;
  let bytes = 0;
  for (const entry of readdirSync(storeDir, { recursive: true, withFileTypes: true })) {
    if (entry.isFile()) bytes += statSync(join(entry.parentPath, entry.name)).blocks * 512;
  }
  return bytes;
}

/** Bytes this process caused to be written to storage (`write_bytes` of /proc/self/io): LMDB's page writes and syncs. */
function storageWrittenBytes(): number {
  try {
    return Number(/^write_bytes: (\d+)$/m.exec(readFileSync('/proc/self/io', 'utf8'))?.[1] ?? NaN);
  } catch {
    return NaN;
  }
}

/** Reads the broker's own transport counters from its Prometheus endpoint. */
async function brokerWriteCounters(port: number, address: string): Promise<WriteCounters> {
  const text = await (await fetch(`http://${address}:${port}/metrics`)).text();
  const value = (name: string): number => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);
  return { framesOut: value('relaymesh_frames_out_total'), socketWrites: value('relaymesh_socket_writes_total') };
}

async function startMark(): Promise<void> {
  const writes = (await hosted?.writeCounters()) ?? { framesOut: NaN, socketWrites: NaN };
  mark = { cpu: process.cpuUsage(), wallUs: nowUs(), writes, storeFile: storeFileBytes(), storageWritten: storageWrittenBytes() };
}

async function host(topology: TopologyPlan, address: string, dataDir: string): Promise<Hosted> {
  if (topology.kind === 'broker') {
    const broker: Broker = await createBroker({
      host: address,
      port: 0,
      dataDir,
      anonymous: true,
      logLevel: 'silent',
      fanout: topology.fanout!,
      maxBackpressureBytes: MAX_BACKPRESSURE_BYTES,
      // Subscribers never ping: keep the liveness sweep from closing them mid-run.
      heartbeatMs: 600_000,
    });
    const onError = (err: unknown): void => void process.stderr.write(`bench server: publish failed: ${String(err)}\n`);
    return {
      port: broker.port,
      subscribers: () => broker.connectedDevices,
      sink: { publish: (payload) => void broker.publish(BENCH_TOPIC, payload).catch(onError), endTick: () => undefined },
      writeCounters: () => brokerWriteCounters(broker.port, address),
    };
  }
  if (topology.kind !== 'uws-native' && topology.kind !== 'cork-ceiling') throw new Error(`${topology.kind} is not hosted by the bench's server process`);
  const bare = await startBareUws(topology.kind, address, MAX_BACKPRESSURE_BYTES);
  return { port: bare.port, subscribers: () => bare.subscribers, sink: bare.sink, writeCounters: async () => bare.writeCounters() };
}

function fdLimit(): number {
  try {
    const line = readFileSync('/proc/self/limits', 'utf8').split('\n').find((l) => l.startsWith('Max open files'));
    return Number(line?.split(/\s+/)[3] ?? -1);
  } catch {
    return -1;
  }
}

function openFds(): number {
  try {
    return readdirSync('/proc/self/fd').length;
  } catch {
    return -1;
  }
}

serveCommands<ServerCommands>({
  async start({ topology, host: address, dataDir }) {
    if (hosted) throw new Error('a topology is already running in this process');
    hosted = await host(topology, address, dataDir);
    if (topology.kind === 'broker') storeDir = dataDir;
    return { port: hosted.port, pid: process.pid };
  },
  async snapshot({ gc }) {
    // With --expose-gc, RSS after a full collection measures live memory rather than garbage.
    if (gc) (globalThis as { gc?: () => void }).gc?.();
    const cpu = process.cpuUsage(mark.cpu);
    const writes = (await hosted?.writeCounters()) ?? { framesOut: NaN, socketWrites: NaN };
    const mem = process.memoryUsage();
    return {
      rssBytes: mem.rss,
      heapUsedBytes: mem.heapUsed,
      openFds: openFds(),
      fdLimit: fdLimit(),
      subscribers: hosted?.subscribers() ?? 0,
      cpuUserUs: cpu.user,
      cpuSystemUs: cpu.system,
      wallUs: nowUs() - mark.wallUs,
      framesOut: writes.framesOut - mark.writes.framesOut,
      socketWrites: writes.socketWrites - mark.writes.socketWrites,
      storeGrowthBytes: storeFileBytes() - mark.storeFile,
      storageWrittenBytes: storageWrittenBytes() - mark.storageWritten,
    };
  },
  async mark() {
    await startMark();
    return { ok: true };
  },
  async publish(plan) {
    if (!hosted) throw new Error('start a topology first');
    await startMark();
    return runPublisher(plan, hosted.sink);
  },
  stop() {
    // Exit once the reply is out; the kernel then closes every socket from this side, which
    // leaves TIME_WAIT on the server's port rather than on the clients' ephemeral ports.
    setTimeout(() => process.exit(0), 20);
    return { ok: true };
  },
});
