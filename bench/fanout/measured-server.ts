/**
 * The server under test in one cell, whatever it is: a process of ours (bench/fanout/server.ts,
 * hosting relaymesh or a bare uWS baseline, measured from inside) or another broker over MQTT
 * (Mosquitto, Aedes, started as bench:fleet starts them, measured from /proc).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sampleTree, type ProcSample } from '../fleet/proc-stats.js';
import { startTarget, type BrokerTarget } from '../fleet/targets.js';
import { forkChild, type ChildLink } from './ipc.js';
import type { MqttPeer, MqttTransport, PublishPlan, PublishResult, ServerCommands, ServerSnapshot, TopologyPlan, WireProtocol } from './messages.js';

export interface MeasuredServer {
  readonly url: string;
  readonly protocol: WireProtocol;
  snapshot(gc: boolean): Promise<ServerSnapshot>;
  /** Starts a measurement: CPU time and write counters count from here. */
  mark(): Promise<void>;
  /** Publishes from inside the server process; undefined for brokers reachable only over the wire. */
  publishInProcess: ((plan: PublishPlan, timeoutMs: number) => Promise<PublishResult>) | undefined;
  stop(): Promise<void>;
}

const serverModule = new URL('./server.ts', import.meta.url);
/** Data directories of running servers: removed on any exit, including an interrupted run. */
const liveDataDirs = new Set<string>();
process.on('exit', () => {
  for (const dir of liveDataDirs) rmSync(dir, { recursive: true, force: true });
});

/** A server process of ours hosting `plan` (relaymesh or a bare uWS baseline). */
export async function startOwnServer(label: string, plan: TopologyPlan, execArgv: string[]): Promise<MeasuredServer> {
  const server: ChildLink<ServerCommands> = forkChild<ServerCommands>(label, serverModule, execArgv);
  const dataDir = mkdtempSync(join(tmpdir(), 'relaymesh-bench-'));
  liveDataDirs.add(dataDir);
  const stop = async (): Promise<void> => {
    await server.request('stop', {}, 5_000).catch(() => server.kill());
    await server.waitExit(5_000);
    rmSync(dataDir, { recursive: true, force: true });
    liveDataDirs.delete(dataDir);
  };
  try {
    // A cold start compiles the TypeScript: slow on a loaded machine.
    const { port } = await server.request('start', { topology: plan, host: '127.0.0.1', dataDir }, 60_000);
    return {
      url: `ws://127.0.0.1:${port}/`,
      protocol: 'relaymesh',
      snapshot: (gc) => server.request('snapshot', { gc }, 10_000),
      mark: async () => void (await server.request('mark', {}, 10_000)),
      publishInProcess: (publishPlan, timeoutMs) => server.request('publish', publishPlan, timeoutMs),
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

/**
 * An MQTT broker (relaymesh's listener, Mosquitto, Aedes) in a process of its own, reached over
 * `transport`; `lifetimeS` bounds it even if the bench is killed.
 */
export async function startPeerServer(peer: MqttPeer, transport: MqttTransport, lifetimeS: number, execArgv: string[]): Promise<MeasuredServer> {
  const target: BrokerTarget = await startTarget(peer, { heartbeatMs: 600_000, lifetimeS, relaymeshMode: 'host', brokerWorkers: 1, execArgv });
  const url = transport === 'tcp' ? target.mqttTcpUrl : target.url;
  if (url === undefined) {
    await target.stop();
    throw new Error(`${peer} has no MQTT over TCP listener here`);
  }
  let marked: ProcSample = sampleTree(target.pid);
  return {
    url,
    protocol: 'mqtt',
    async snapshot() {
      const now = sampleTree(target.pid);
      // /proc gives user + system together: reported as user time.
      return {
        rssBytes: now.rssBytes,
        heapUsedBytes: NaN,
        openFds: now.openFds,
        fdLimit: target.fdLimit,
        subscribers: NaN,
        cpuUserUs: (now.cpuMs - marked.cpuMs) * 1000,
        cpuSystemUs: 0,
        wallUs: (now.atMs - marked.atMs) * 1000,
        framesOut: NaN,
        socketWrites: NaN,
        storeGrowthBytes: NaN,
        storageWrittenBytes: NaN,
      };
    },
    mark: async () => void (marked = sampleTree(target.pid)),
    publishInProcess: undefined,
    stop: () => target.stop(),
  };
}
